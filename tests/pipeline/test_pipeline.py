"""Pipeline: candidates from several sources, ranking, re-ranking, explanations, one artifact."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from shoprec.data import Catalog, Item
from shoprec.datasets import make_synthetic_shop
from shoprec.exceptions import ArtifactError, ValidationError
from shoprec.metrics import intra_list_diversity
from shoprec.pipeline import (
    CANDIDATE_SOURCES,
    Pipeline,
    PipelineConfig,
    Request,
    gather_candidates,
)
from shoprec.ranking import _scorer as ranking_module
from shoprec.ranking import fuse_scores
from shoprec.rerank import BusinessRules, Explainer, ItemAttributes, RerankConfig


@pytest.fixture(scope="module")
def shop():  # type: ignore[no-untyped-def]
    return make_synthetic_shop(n_users=300, n_items=200, random_state=1)


def make(shop, **config):  # type: ignore[no-untyped-def]
    settings = PipelineConfig(**{"model": "als", "encoder": "hashing", **config})
    return Pipeline(settings).fit(shop.split.train, shop.catalog, validation=shop.split.valid)


@pytest.fixture(scope="module")
def fitted(shop):  # type: ignore[no-untyped-def]
    return make(shop)


def history_of(shop, n: int = 0) -> list[str]:  # type: ignore[no-untyped-def]
    frame = shop.split.train.frame
    users = frame["user_id"].value_counts()
    user = users.index[n]
    return frame.loc[frame["user_id"] == user, "item_id"].tolist()


def test_lists_are_k_distinct_unseen_items_with_reasons(shop, fitted) -> None:  # type: ignore[no-untyped-def]
    history = history_of(shop)
    recs = fitted.recommend_one(history, k=10)
    ids = [r.item_id for r in recs]
    assert len(ids) == 10 == len(set(ids))
    assert not set(ids) & set(history)
    assert all(r.sources and r.explanation is not None for r in recs)
    anchored = [r for r in recs if r.explanation.kind in ("covisitation", "similar")]
    assert anchored, "a user with a long history gets history-grounded reasons"
    for rec in anchored:
        assert rec.explanation.evidence["anchor_item"] in history
    assert [r.score for r in recs] == sorted((r.score for r in recs), reverse=True)


def test_batch_equals_single(shop, fitted) -> None:  # type: ignore[no-untyped-def]
    requests = [Request(history=history_of(shop, n), k=5) for n in range(3)]
    batch = fitted.recommend(requests)
    for request, result in zip(requests, batch, strict=True):
        single = fitted.recommend_one(request.history, k=5)
        assert [r.item_id for r in result] == [r.item_id for r in single]


def test_cold_user_gets_trending_items(shop, fitted) -> None:  # type: ignore[no-untyped-def]
    recs = fitted.recommend_one([], k=5)
    trending = fitted.sources_["trending"]
    expected = trending.item_ids_[np.argsort(-trending.item_scores_, kind="stable")[:5]]
    assert [r.item_id for r in recs] == list(expected)
    assert all(r.explanation.kind in ("trending", "popular") for r in recs)


def test_diversity_weight_raises_intra_list_diversity(shop) -> None:  # type: ignore[no-untyped-def]
    pipeline = make(shop, rerank=RerankConfig(method="mmr"))
    vectors = pipeline.item_vectors()
    rows = {item: i for i, item in enumerate(pipeline.catalog.item_ids)}

    def ild(diversity: float) -> float:
        lists = [
            [rows[r.item_id] for r in pipeline.recommend_one(history_of(shop, n), k=10,
                                                              diversity=diversity)]
            for n in range(10)
        ]  # fmt: skip
        return intra_list_diversity(np.array(lists), embeddings=vectors)

    assert ild(0.8) > ild(0.0)


def test_rules_and_exclusions(shop, fitted) -> None:  # type: ignore[no-untyped-def]
    history = history_of(shop)
    first = fitted.recommend_one(history, k=10)
    banned_category = fitted.catalog.item(first[0].item_id).category[-1]
    rules = BusinessRules(exclude_categories={banned_category}, max_price=50.0)
    recs = fitted.recommend_one(history, k=10, rules=rules, exclude=[first[1].item_id])
    for rec in recs:
        item = fitted.catalog.item(rec.item_id)
        assert banned_category not in item.category
        assert item.price is None or item.price <= 50.0
    assert first[1].item_id not in {r.item_id for r in recs}


def test_new_items_are_recommendable_and_removed_items_are_not(shop) -> None:  # type: ignore[no-untyped-def]
    pipeline = make(shop)
    history = history_of(shop)
    liked = pipeline.catalog.item(history[-1])
    new = Item("brand-new", f"{liked.title} Pro", brand=liked.brand, category=liked.category,
               price=liked.price)  # fmt: skip
    pipeline.add_items(Catalog.from_items([new]))
    recs = pipeline.recommend_one(history, k=10)
    assert recs[-1].item_id == "brand-new"  # ALS cannot score it: the new-item slot
    assert recs[-1].explanation.kind in ("similar", "interest", "new", "covisitation")
    assert pipeline.search(liked.title, k=3)[0][0] in {"brand-new", liked.item_id}
    pipeline.remove_items(["brand-new"])
    assert "brand-new" not in {r.item_id for r in pipeline.recommend_one(history, k=10)}
    assert "brand-new" not in {i for i, _ in pipeline.similar_items(liked.item_id, k=20)}


def test_save_load_round_trip(shop, fitted, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fitted.record_metrics({"ndcg@10": 0.1})
    path = fitted.save(tmp_path / "pipe")
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["data_fingerprint"] == fitted.fingerprint_
    assert manifest["metrics"] == {"ndcg@10": 0.1}
    assert set(manifest["components"]) >= {"model", "covisitation", "popularity"}
    loaded = Pipeline.load(path)
    history = history_of(shop, 2)
    assert [r.to_dict() for r in loaded.recommend_one(history, k=8)] == [
        r.to_dict() for r in fitted.recommend_one(history, k=8)
    ]
    (path / "manifest.json").write_text("{}")
    with pytest.raises(ArtifactError, match="format"):
        Pipeline.load(path)


def test_bad_requests_are_named(fitted) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match="k"):
        Request(k=0)
    with pytest.raises(ValidationError, match="event types"):
        Request(history=["a", "b"], event_types=["view"])
    with pytest.raises(ValidationError, match="diversity"):
        fitted.recommend_one([], diversity=2.0)
    with pytest.raises(ValidationError, match="item"):
        fitted.similar_items("no-such-item")
    with pytest.raises(ValidationError, match="candidate source"):
        PipelineConfig(candidates={"magic": 3})


class PrefersBrand:
    """A fake second-stage ranker that likes one brand and advances a fake clock."""

    def __init__(self, brand: str, clock: list[float], cost_ms: float = 0.0) -> None:
        self.brand, self.clock, self.cost_ms = brand, clock, cost_ms
        self.calls = 0

    def decision_function(self, contexts: list[str], candidates: list[str]) -> np.ndarray:
        self.calls += 1
        self.clock[0] += self.cost_ms / 1000
        return np.array([5.0 if self.brand in text else 0.0 for text in candidates])


def test_ranker_is_fused_with_the_model(shop, fitted) -> None:  # type: ignore[no-untyped-def]
    history = history_of(shop)
    before = [r.item_id for r in fitted.recommend_one(history, k=10, explain=False)]
    favourite = before[-1]
    brand = fitted.catalog.item(favourite).brand
    assert sum(fitted.catalog.item(i).brand == brand for i in before) == 1
    fitted.attach_ranker(PrefersBrand(brand, [0.0]))
    try:
        after = [r.item_id for r in fitted.recommend_one(history, k=10, explain=False)]
    finally:
        fitted.attach_ranker(None)
    assert after[0] == favourite  # the ranker's favourite rises to the top
    assert [i for i in after if i != favourite] == [i for i in before if i != favourite][:9]


def test_fuse_scores() -> None:
    model = np.array([3.0, 2.0, 1.0, 0.0])
    assert np.argsort(-fuse_scores(model, np.full(4, np.nan))).tolist() == [0, 1, 2, 3]
    fused = fuse_scores(model, np.array([0.0, 0.0, 9.0, np.nan]), weight=2.0)
    assert np.argmax(fused) == 2
    assert fused[3] == fused.min()  # not scored by the ranker: its lowest score


def test_ranker_stops_at_the_latency_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [0.0]
    monkeypatch.setattr(ranking_module.time, "perf_counter", lambda: clock[0])
    ranker = PrefersBrand("x", clock, cost_ms=4.0)  # 4 ms per chunk of 10
    scores = ranking_module.score_within_budget(ranker, "ctx", ["x"] * 50, budget_ms=10.0)
    assert ranker.calls == 2  # a third chunk would end at 12 ms
    assert np.isfinite(scores[:20]).all() and np.isnan(scores[20:]).all()
    unlimited = ranking_module.score_within_budget(ranker, "ctx", ["x"] * 50, budget_ms=None)
    assert np.isfinite(unlimited).all()


def test_gather_candidates_merges_sources_and_skips_history() -> None:
    model = np.array([5.0, 4.0, 3.0, -np.inf, 1.0])
    covisitation = np.array([0.0, 0.0, 2.0, 0.0, 0.0])
    popularity = np.array([1.0, 9.0, 8.0, 7.0, 0.0])
    is_new = np.array([False, False, False, False, True])
    sizes = {"model": 2, "covisitation": 5, "popularity": 3, "new": 1}
    proposals = {"model": model, "covisitation": covisitation, "popularity": popularity}
    found = gather_candidates(sizes, np.array([0]), proposals, is_new, None)
    assert found.rows.tolist() == [1, 2, 3, 4]  # model 1, 2; popularity adds 3; new adds 4
    assert found.sources_of(2) == {"model": 3.0, "covisitation": 2.0, "popularity": 8.0}
    assert found.sources_of(4) == {"new": 1.0}
    sizes = {"model": 2, "covisitation": 5, "popularity": 1}
    cold = gather_candidates(sizes, np.empty(0, dtype=np.int64), proposals, is_new, None)
    assert cold.rows.tolist() == [1]  # no history: popularity only (it needs no history)


def test_a_registered_candidate_source_is_fitted_merged_saved_and_loaded(
    tmp_path: Path, fitted: Pipeline
) -> None:
    """ALS is one entry in CANDIDATE_SOURCES: asking for it in the config is all it takes."""
    assert "als" in CANDIDATE_SOURCES and "als" not in fitted.sources_
    shop = make_synthetic_shop(n_users=120, n_items=60, random_state=3)
    config = PipelineConfig(
        model="covisitation", candidates={"model": 5, "als": 30}, encoder="hashing"
    )
    pipeline = Pipeline(config).fit(shop.split.train, shop.catalog)
    assert set(pipeline.sources_) == {"als", "popularity"}  # popularity: always (item counts)
    user = next(iter(pipeline.model_.histories_))
    history = [str(i) for i in pipeline.model_.item_ids_[pipeline.model_.histories_[user]]]
    recs = pipeline.recommend_one(history, k=20)
    assert any("als" in rec.sources for rec in recs)
    loaded = Pipeline.load(pipeline.save(tmp_path / "p"))
    assert set(loaded.sources_) == {"als", "popularity"}
    assert [r.item_id for r in loaded.recommend_one(history, k=20)] == [r.item_id for r in recs]


def test_explainer_reasons_in_order_of_preference() -> None:
    catalog = Catalog.from_items([
        Item("a", "Trail Shoe", category=("Shoes",)), Item("b", "Road Shoe", category=("Shoes",)),
        Item("c", "Running Sock", category=("Socks",)), Item("d", "Tent", category=("Camping",)),
        Item("e", "Lamp", category=("Camping",)),
    ])  # fmt: skip
    attributes = ItemAttributes.from_catalog(catalog)
    covis = sp.csr_matrix(([3.0], ([0], [2])), shape=(5, 5))  # a -> c
    vectors = np.eye(5, dtype=np.float32)
    vectors[4] = vectors[3]  # e reads like d
    explainer = Explainer(attributes, catalog.frame["title"].tolist(), embeddings=vectors,
                          co_visitation=covis)  # fmt: skip
    found = explainer.explain(
        [2, 1, 4, 3, 3],
        [{"model": 1.0}, {"model": 1.0}, {"model": 1.0}, {"trending": 2.0}, {"popularity": 2.0}],
        [0, 1, 3],
        ["purchase", "view", "view"],
    )
    assert found[0].reason == "Because you bought Trail Shoe" and found[0].kind == "covisitation"
    assert found[1].reason == "Matches your interest in Shoes"
    assert found[2].reason == "Similar to Tent, which you viewed"
    cold = explainer.explain([3, 3, 3], [{"trending": 1.0}, {"new": 1.0}, {"popularity": 1.0}], [])
    assert [e.reason for e in cold] == [
        "Trending in Camping",
        "New in Camping",
        "Popular in Camping",
    ]


@pytest.mark.parametrize("history_user", [None, 0])
def test_a_narrow_filter_still_fills_the_list_when_matches_exist(
    shop, fitted, history_user: int | None
) -> None:  # type: ignore[no-untyped-def]
    history = [] if history_user is None else history_of(shop, history_user)
    prices = fitted.catalog.frame.set_index("item_id")["price"].dropna().sort_values()
    cheapest = [i for i in prices.index if i not in history][:3]  # rarely among the candidates
    rules = BusinessRules(max_price=float(prices[cheapest[-1]]), keep_unknown_price=False)
    matching = [i for i, p in prices.items() if p <= rules.max_price and i not in history]
    recs = fitted.recommend_one(history, k=3, rules=rules)
    assert len(recs) == min(3, len(matching)) == 3  # was 2 when the candidates held only two
    assert {r.item_id for r in recs} <= set(matching)
    assert all(r.sources for r in recs)


def test_brand_and_stock_filters(shop) -> None:  # type: ignore[no-untyped-def]
    frame = shop.catalog.frame.copy()
    brands = frame["brand"].replace("", np.nan).dropna().value_counts()
    brand = str(brands.index[0])
    history = history_of(shop)
    unseen = (frame["brand"] == brand) & ~frame["item_id"].isin(history)
    gone = frame.index[unseen][:2]
    frame.loc[gone, "attributes"] = '{"in_stock": "0"}'
    pipeline = Pipeline(PipelineConfig(model="als", encoder="hashing"))
    pipeline.fit(shop.split.train, Catalog(frame))
    out = set(frame.loc[gone, "item_id"])
    only = pipeline.recommend_one(history, k=5, rules=BusinessRules(include_brands={brand.upper()}))
    assert only and all(pipeline.catalog.item(r.item_id).brand == brand for r in only)
    assert not out & {r.item_id for r in only}  # out of stock: never shown by default
    allowed = BusinessRules(include_brands={brand}, allow_out_of_stock=True)
    assert out <= {r.item_id for r in pipeline.recommend_one(history, k=40, rules=allowed)}
    others = pipeline.recommend_one(history, k=10, rules=BusinessRules(exclude_brands={brand}))
    assert all(pipeline.catalog.item(r.item_id).brand != brand for r in others)


def test_manifest_is_strict_json_even_with_undefined_metrics(fitted, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fitted.record_metrics({"dataset": "x", "mrr": float("nan"), "auc": np.float32(0.5),
                           "coverage@10": float("inf")})  # fmt: skip
    path = fitted.save(tmp_path / "p")

    def refuse(token: str) -> None:
        raise ValueError(f"non-standard JSON constant {token}")

    manifest = json.loads((path / "manifest.json").read_text(), parse_constant=refuse)
    assert manifest["metrics"] == {"dataset": "x", "mrr": None, "auc": 0.5, "coverage@10": None}
    assert Pipeline.load(path).metrics_["mrr"] is None
