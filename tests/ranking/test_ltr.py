"""The learned ranking stage: LambdaRank learns, candidates carry every source's view, artifacts
round-trip, bad input fails clearly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shoprec.data import Dataset, leave_one_out
from shoprec.datasets import make_synthetic_shop
from shoprec.evaluation import evaluate
from shoprec.exceptions import ArtifactError, NotFittedError, ParameterError, ValidationError
from shoprec.ranking import LearnedRanking, LTRRanker, earlier_period

pytest.importorskip("lightgbm")


def _ndcg_at_10(scores: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> float:
    """Mean NDCG@10 over groups with a positive, ties broken against the ranker (worst case)."""
    values = []
    for g in np.unique(groups):
        rows = groups == g
        rel, s = labels[rows], scores[rows]
        if not rel.any():
            continue
        order = np.lexsort((rel, -s))[:10]  # ties: irrelevant rows first
        gains = rel[order] / np.log2(np.arange(2, len(order) + 2))
        ideal = np.sort(rel)[::-1][:10] / np.log2(np.arange(2, min(10, len(rel)) + 2))
        values.append(gains.sum() / ideal.sum())
    return float(np.mean(values))


def _groups(rng: np.random.Generator, n_groups: int) -> tuple[np.ndarray, ...]:
    """Relevance needs two features together (an interaction no single feature shows)."""
    size = 30
    x = rng.random((n_groups * size, 4)).astype(np.float32)
    labels = ((x[:, 0] > 0.6) & (x[:, 1] < 0.4)).astype(float) + (x[:, 0] > 0.9) * (x[:, 1] < 0.2)
    return x, labels, np.repeat(np.arange(n_groups), size)


def test_lambdarank_beats_its_best_single_feature_on_held_out_groups() -> None:
    rng = np.random.default_rng(0)
    x, y, g = _groups(rng, 300)
    ranker = LTRRanker(n_estimators=200, min_child_samples=20, n_jobs=1).fit(x, y, g)
    x_test, y_test, g_test = _groups(rng, 200)
    learned = _ndcg_at_10(ranker.decision_function(x_test), y_test, g_test)
    single = max(
        _ndcg_at_10(sign * x_test[:, j], y_test, g_test) for j in range(4) for sign in (1, -1)
    )
    assert learned > single + 0.1
    assert set(ranker.feature_importances()) == {f"Column_{j}" for j in range(4)}


def test_ranker_round_trip_and_errors(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x, y, g = _groups(rng, 60)
    with pytest.raises(NotFittedError):
        LTRRanker().decision_function(x)
    for bad in ({"n_estimators": 0}, {"learning_rate": 0.0}, {"valid_fraction": 1.0}):
        with pytest.raises(ParameterError, match=next(iter(bad))):
            LTRRanker(**bad).fit(x, y, g)
    with pytest.raises(ValueError, match="contiguous"):
        LTRRanker().fit(x, y, np.tile([0, 1], len(y) // 2))
    ranker = LTRRanker(n_estimators=20, n_jobs=1).fit(x, y, g, feature_names=list("abcd"))
    loaded = LTRRanker.load(ranker.save(tmp_path / "ranker"))
    np.testing.assert_array_equal(loaded.decision_function(x), ranker.decision_function(x))
    assert loaded.feature_names_ == list("abcd")
    assert not list(tmp_path.rglob("*.pkl"))
    with pytest.raises(ValueError, match="shape"):
        loaded.decision_function(x[:, :3])
    (tmp_path / "ranker" / "manifest.json").write_text('{"format": "other"}')
    with pytest.raises(ArtifactError):
        LTRRanker.load(tmp_path / "ranker")


@pytest.fixture(scope="module")
def shop() -> Dataset:
    return make_synthetic_shop(n_users=1500, n_items=300, random_state=0)


@pytest.fixture(scope="module")
def stage(shop: Dataset) -> LearnedRanking:
    split = shop.split
    model = LearnedRanking(text_encoder="hashing", ranker={"n_jobs": 1}, random_state=0)
    return model.fit(split.train, shop.catalog, validation=split.valid)


def test_stage_beats_every_source_on_the_test_period(shop: Dataset, stage: LearnedRanking) -> None:
    # The ranker saw validation targets only; the test period's targets are new to it.
    learned = evaluate(stage, shop.split).metrics["ndcg@10"]
    singles = {n: evaluate(s, shop.split).metrics["ndcg@10"] for n, s in stage.sources_.items()}
    assert learned > 1.1 * max(singles.values()), (learned, singles)
    assert 0 < stage.recall_ <= 1


def test_every_candidate_is_scored_by_every_source(stage: LearnedRanking) -> None:
    histories = [stage.histories_[u] for u in list(stage.histories_)[:20]]
    part = stage._candidates(histories)
    names = stage.feature_names_
    ranks = part.features[:, [names.index(f"{s}_rank") for s in stage.sources_]]
    scores = part.features[:, [names.index(f"{s}_score") for s in stage.sources_]]
    assert np.isfinite(scores).all()
    # some candidates were proposed by one source only, yet every source ranks them
    assert ((ranks <= stage.depth).sum(axis=1) == 1).any()
    for row, history in enumerate(histories):  # history excluded by default
        assert not np.isin(part.items[part.owner == row], history).any()


def test_batch_equals_single_and_round_trip(
    shop: Dataset, stage: LearnedRanking, tmp_path: Path
) -> None:
    users = list(stage.histories_)[:6]
    ids, scores = stage.recommend(users, k=10)
    for row, user in enumerate(users):
        one_ids, one_scores = stage.recommend_user(user, k=10)
        np.testing.assert_array_equal(one_ids, ids[row])
        np.testing.assert_allclose(one_scores, scores[row], rtol=1e-6)
    loaded = LearnedRanking.load(stage.save(tmp_path / "ltr"))
    histories = [stage.histories_[u] for u in users]
    np.testing.assert_array_equal(loaded.score(histories), stage.score(histories))
    assert (tmp_path / "ltr" / "ranker" / "model.txt").read_text().startswith("tree")


def test_redeploy_with_refitted_sources_keeps_the_ranker(
    shop: Dataset, stage: LearnedRanking
) -> None:
    split = shop.split
    clone = LearnedRanking(**stage.get_params())
    clone.ranker_ = stage.ranker_
    sources = clone.create_sources(split.train_valid)
    for source in sources.values():
        source.fit(split.train_valid, shop.catalog)
    clone.use_sources(sources, split.train_valid, shop.catalog)
    assert clone.context_.request_time > stage.context_.request_time
    assert evaluate(clone, split).metrics["ndcg@10"] > 0


def test_include_seen_stage_proposes_history(shop: Dataset) -> None:
    split = shop.split
    model = LearnedRanking(
        text=False, exclude_seen=False, sources=("covisitation", "popularity"), depth=20
    ).fit(split.train, shop.catalog, validation=split.valid)
    user = next(u for u, h in model.histories_.items() if len(h) > 2)
    part = model._candidates([model.histories_[user]])
    assert np.isin(model.histories_[user], part.items).any()
    assert "text_rank" not in model.feature_names_


def test_stage_errors(shop: Dataset) -> None:
    split = shop.split
    with pytest.raises(NotFittedError):
        LearnedRanking().score([np.array([0])])
    with pytest.raises(ValidationError, match="validation"):
        LearnedRanking(text=False).fit(split.train, shop.catalog)
    for bad, match in (
        ({"sources": ("nope",)}, "nope"),
        ({"depth": 0}, "depth"),
        ({"depth": 50, "rank_cap": 10}, "rank_cap"),
        ({"text": False, "sources": ("text_sequence",)}, "text_sequence"),
        ({"ranker": {"num_leaves": -1}}, "num_leaves"),
    ):
        with pytest.raises(ParameterError, match=match):
            LearnedRanking(**bad).fit(split.train, shop.catalog, validation=split.valid)


def test_earlier_periods_add_training_groups(shop: Dataset) -> None:
    split = shop.split
    earlier, period = earlier_period(split.train, split.valid)
    assert earlier.frame["timestamp"].max() < period.frame["timestamp"].min()
    assert len(earlier) + len(period) == len(split.train)
    valid_span = np.ptp(split.valid.frame["timestamp"].to_numpy())
    assert np.ptp(period.frame["timestamp"].to_numpy()) <= valid_span
    model = LearnedRanking(text=False, sources=("covisitation", "popularity"), extra_periods=1)
    model.fit(split.train, shop.catalog, validation=split.valid)
    assert model.context_.request_time == split.train.frame["timestamp"].max()
    assert evaluate(model, split).metrics["ndcg@10"] > 0


def test_earlier_period_of_a_leave_one_out_split_is_each_users_last_event(shop: Dataset) -> None:
    split = leave_one_out(shop.interactions)  # real timestamps, validation interleaved in time
    earlier, period = earlier_period(split.train, split.valid)
    assert period.frame["user_id"].is_unique
    assert len(earlier) + len(period) == len(split.train)
    items = split.train.frame[split.train.frame["item_id"] != ""]  # searches are not targets
    last = items.groupby("user_id")["timestamp"].max()
    got = period.frame.set_index("user_id")["timestamp"]
    assert (got == last.reindex(got.index)).all()
    with pytest.raises(ValidationError, match="earlier"):
        earlier_period(split.train.select(np.zeros(len(split.train), bool)), split.valid)
