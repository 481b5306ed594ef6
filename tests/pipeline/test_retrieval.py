"""ANN retrieval path: above the threshold the model's candidates come from an HNSW index,
with recall against exact retrieval, and every rule of the exact path still holds."""

from __future__ import annotations

import numpy as np
import pytest

from shoprec.data import Catalog
from shoprec.datasets import make_synthetic_shop
from shoprec.exceptions import ValidationError
from shoprec.pipeline import Pipeline, PipelineConfig, Request
from shoprec.pipeline._retrieval import model_scores
from shoprec.rerank import BusinessRules

N_USERS = 60


@pytest.fixture(scope="module")
def shop():  # type: ignore[no-untyped-def]
    return make_synthetic_shop(n_users=1500, n_items=3000, random_state=3)


def fitted(shop, threshold: int | None):  # type: ignore[no-untyped-def]
    config = PipelineConfig(
        model="als",
        model_params={"factors": 32, "iterations": 8},
        encoder="hashing",
        ann_threshold=threshold,
        ann_params={"M": 16, "ef_construction": 100, "ef_search": 128},
    )
    return Pipeline(config, random_state=0).fit(shop.split.train, shop.catalog)


@pytest.fixture(scope="module")
def exact(shop):  # type: ignore[no-untyped-def]
    return fitted(shop, None)


@pytest.fixture(scope="module")
def ann(shop, exact):  # type: ignore[no-untyped-def]
    pipeline = fitted(shop, 1000)  # the catalog (3000 items) is above the threshold
    assert pipeline._retrieval is not None
    return pipeline


def histories(shop) -> list[list[str]]:  # type: ignore[no-untyped-def]
    frame = shop.split.train.frame
    users = frame["user_id"].value_counts().index[:N_USERS]
    groups = frame.groupby("user_id")["item_id"].apply(list)
    return [groups[u] for u in users]


def test_recall_at_100_against_exact_retrieval(shop, exact, ann) -> None:  # type: ignore[no-untyped-def]
    np.testing.assert_allclose(
        exact.model_.retrieval_vectors(), ann.model_.retrieval_vectors(), atol=1e-5
    )  # same data and seed: the same model, so exact scores are the reference
    requests = [Request(history=h) for h in histories(shop)]
    reference = model_scores(exact.model_, exact._view, requests, retrieval=None, fetch=0)
    found = model_scores(ann.model_, ann._view, requests, retrieval=ann._retrieval, fetch=100)
    recalls = []
    for i, request in enumerate(requests):
        seen = exact._view.attributes.rows(request.history)
        truth = reference.scores[i].copy()
        truth[seen] = -np.inf
        best = set(np.argsort(-truth)[:100].tolist())
        got = found.scores[i].copy()
        got[seen] = -np.inf
        retrieved = np.flatnonzero(np.isfinite(got))
        assert len(retrieved) >= 100
        top = set(retrieved[np.argsort(-got[retrieved])[:100]].tolist())
        recalls.append(len(best & top) / 100)
        # retrieved scores are the model's exact scores, not approximations
        np.testing.assert_allclose(got[retrieved], truth[retrieved], rtol=1e-4, atol=1e-4)
    assert np.mean(recalls) >= 0.95
    # only the retrieved items were scored, a small share of the catalog
    assert np.isfinite(found.scores).sum(axis=1).max() < len(shop.catalog) / 5


def test_lists_match_exact_retrieval(shop, exact, ann) -> None:  # type: ignore[no-untyped-def]
    requests = [Request(history=h, k=10, explain=False) for h in histories(shop)[:30]]
    overlap = [
        len({r.item_id for r in a} & {r.item_id for r in b}) / 10
        for a, b in zip(exact.recommend(requests), ann.recommend(requests), strict=True)
    ]
    assert np.mean(overlap) >= 0.9


def test_rules_exclusions_and_removed_items_hold(shop, ann) -> None:  # type: ignore[no-untyped-def]
    history = histories(shop)[0]
    plain = [r.item_id for r in ann.recommend_one(history, k=10, explain=False)]
    excluded = plain[:3]
    category = str(shop.catalog.frame["category"].iloc[0]).split(" > ")[-1]
    rules = BusinessRules(include_categories={category}, max_price=200.0)
    recs = ann.recommend_one(history, k=10, exclude=excluded, rules=rules)
    frame = shop.catalog.frame.set_index("item_id")
    assert recs, "a filtered request still gets items"
    for rec in recs:
        assert rec.item_id not in excluded and rec.item_id not in history
        assert category in str(frame.loc[rec.item_id, "category"])
        assert float(frame.loc[rec.item_id, "price"]) <= 200.0
    ann.remove_items(plain[:5])
    try:
        after = [r.item_id for r in ann.recommend_one(history, k=10)]
        assert not set(after) & set(plain[:5])
        assert len(after) == 10
    finally:
        ann.add_items(Catalog(frame.loc[plain[:5]].reset_index()))
    back = [r.item_id for r in ann.recommend_one(history, k=10, explain=False)]
    assert back == plain, "restored items are retrieved again"


def test_exact_below_the_threshold(shop, exact) -> None:  # type: ignore[no-untyped-def]
    below = fitted(shop, len(shop.catalog))  # not above: exact scoring
    assert below._retrieval is None
    requests = [Request(history=h, k=10) for h in histories(shop)[:10]]
    for a, b in zip(below.recommend(requests), exact.recommend(requests), strict=True):
        assert [r.to_dict() for r in a] == [r.to_dict() for r in b]


def test_ann_settings_are_validated_and_saved(shop, ann, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match="ann_overfetch"):
        PipelineConfig(ann_overfetch=0.5)
    loaded = Pipeline.load(ann.save(tmp_path / "p"))
    assert loaded.settings.ann_threshold == 1000 and loaded._retrieval is not None
    history = histories(shop)[1]
    assert [r.item_id for r in loaded.recommend_one(history, k=10)] == [
        r.item_id for r in ann.recommend_one(history, k=10)
    ]


def test_shared_sources_are_ranked_once_and_skip_the_history() -> None:
    """Popularity and trending are ranked once per array; each request still gets the best
    items outside its history, ties by row, as a full selection gives."""
    from shoprec.pipeline import gather_candidates

    rng = np.random.default_rng(0)
    popularity = rng.integers(0, 5, size=500).astype(np.float64)  # many ties
    is_new = np.zeros(500, dtype=bool)
    model = np.full(500, -np.inf)
    for history in (np.array([], dtype=np.int64), rng.choice(500, 40, replace=False)):
        proposals = {"model": model, "popularity": popularity}
        got = gather_candidates({"popularity": 20}, history, proposals, is_new, None)
        free = np.setdiff1d(np.arange(500), history)
        expected = free[np.lexsort((free, -popularity[free]))][:20]
        np.testing.assert_array_equal(got.rows, expected)
