"""The full-ranking protocol: every number below is worked out by hand in the comments."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from shoprec.data import (
    Catalog,
    Dataset,
    EncodedInteractions,
    Interactions,
    Split,
    leave_one_out,
    temporal_split_at,
)
from shoprec.evaluation import EvaluationResult, compare_models, evaluate
from shoprec.exceptions import NotFittedError
from shoprec.models import Popularity, Recommender

LOG3 = math.log2(3)
# Fixed item scores: f is the favourite, then a > b > c > d > e.
SCORES = {"a": 0.9, "b": 0.8, "c": 0.7, "d": 0.6, "e": 0.5, "f": 0.95}


class FixedScores(Recommender):
    """The same given score per item for every user: rankings can be worked out by hand."""

    name: ClassVar[str] = "fixed"

    def __init__(self, *, scores: Mapping[str, float]) -> None:
        self.scores = scores

    def _fit(
        self,
        data: EncodedInteractions,
        catalog: Catalog | None,
        validation: EncodedInteractions | None,
    ) -> None:
        self.item_scores_ = np.array([self.scores[i] for i in data.item_ids], dtype=np.float32)

    def _score(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        return np.tile(self.item_scores_, (len(histories), 1))

    def _get_state(self) -> dict[str, np.ndarray]:
        return {"item_scores": self.item_scores_}

    def _set_state(self, state: Mapping[str, np.ndarray]) -> None:
        self.item_scores_ = state["item_scores"]


@pytest.fixture
def catalog() -> Catalog:
    """Six items; b and f share the leaf "Y > p", which differs from "X > p"; e has none."""
    categories = {"a": "X > p", "b": "Y > p", "c": "X > q", "d": "X > p", "e": "", "f": "Y > p"}
    return Catalog(
        pd.DataFrame({"item_id": list(categories), "category": list(categories.values())})
    )


def _events(rows: list[tuple[str, str, int]]) -> Interactions:
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    frame["event_type"] = "click"
    return Interactions(frame)


def _same(left: object, right: object) -> bool:
    """Equality of nested results where NaN equals NaN."""
    if isinstance(left, float) and isinstance(right, float):
        return (math.isnan(left) and math.isnan(right)) or left == pytest.approx(right)
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(
            _same(a, b) for a, b in zip(left, right, strict=True)
        )
    return left == right


def test_leave_one_out_by_hand(tiny_interactions: Interactions, catalog: Catalog) -> None:
    # History (train + valid): u1 a b c, u2 a b c, u3 e d a; targets u1 d, u2 e, u3 b.
    # Rankings without the history: u1 f d e (d at 2), u2 f d e (e at 3), u3 f b c (b at 2).
    split = leave_one_out(tiny_interactions)
    model = FixedScores(scores=SCORES).fit(split.train, catalog)
    result = evaluate(model, split, catalog=catalog, ks=(1, 2, 3))
    m = result.metrics
    assert result.model == "fixed"
    assert m["users"] == 3
    assert m["hr@1"] == 0.0
    assert m["hr@2"] == pytest.approx(2 / 3)
    assert m["hr@3"] == 1.0
    assert m["ndcg@2"] == pytest.approx(2 / LOG3 / 3)
    assert m["ndcg@3"] == pytest.approx((2 / LOG3 + 0.5) / 3)
    assert m["map@2"] == pytest.approx(1 / 3)
    assert m["recall@2"] == m["hr@2"]  # one target per user
    assert m["mrr"] == pytest.approx((1 / 2 + 1 / 3 + 1 / 2) / 3)
    # Top-2 lists: f d, f d, f b -> 3 of 6 items; top-1: f only.
    assert m["coverage@1"] == pytest.approx(1 / 6)
    assert m["coverage@2"] == pytest.approx(3 / 6)
    # Leaves: f "Y > p" vs d "X > p" differ (1), f vs b same (0); no pair in a top-1 list.
    assert m["ild@2"] == pytest.approx(2 / 3)
    assert math.isnan(m["ild@1"])
    # Top-3 u3 f b c: pairs 0, 1, 1; u1/u2 f d e: e has no leaf, only the pair f d counts.
    assert m["ild@3"] == pytest.approx((1 + 1 + 2 / 3) / 3)
    # Training events a2 b2 d1 e1 (total 6); c and f have none and count as one: -log2(1/6).
    assert m["novelty@2"] == pytest.approx(
        (math.log2(6) * 2 + (math.log2(6) + math.log2(3)) / 2) / 3
    )
    assert m["popularity_bias@2"] == pytest.approx((0.5 + 0.5 + 1.0) / 3)
    assert result.by_k["hr"] == {1: 0.0, 2: pytest.approx(2 / 3), 3: 1.0}
    assert result.skipped == {
        "users": 0,
        "repeat_targets": 0,
        "repeat_users": 0,
        "unknown_targets": 0,
    }


def test_include_seen_ranks_history_and_keeps_repeat_targets(catalog: Catalog) -> None:
    events = _events(
        [
            ("x", "a", 1), ("x", "b", 2), ("y", "c", 3),  # train
            ("x", "c", 10),  # valid
            ("x", "d", 20), ("x", "e", 21), ("x", "zz", 23), ("x", "a", 24),  # test
            ("z", "f", 26),
        ]
    )  # fmt: skip
    split = temporal_split_at(events, valid_start=10, test_start=20)
    model = FixedScores(scores=SCORES).fit(split.train, catalog)
    result = evaluate(model, split, ks=(1, 2, 3), exclude_seen=False)
    # x's history a b c stays ranked: f a b c d e. Targets d (5), e (6) and the repeat a (2).
    # z: no history, target f at rank 1.
    assert result.skipped == {
        "users": 0,
        "repeat_targets": 1,
        "repeat_users": 1,
        "unknown_targets": 1,
    }
    m = result.metrics
    assert m["users"] == 2
    assert m["hr@1"] == 0.5
    assert m["hr@2"] == 1.0
    assert m["recall@3"] == pytest.approx((1 / 3 + 1) / 2)
    assert m["mrr"] == pytest.approx((1 / 2 + 1) / 2)
    excluded = evaluate(model, split, ks=(1, 2, 3))
    # x's ranking without history: f d e; both targets within 3, the repeat a not counted.
    assert excluded.metrics["recall@3"] == 1.0


def test_slices_and_history_buckets_by_hand(
    tiny_interactions: Interactions, catalog: Catalog
) -> None:
    split = leave_one_out(tiny_interactions)
    model = FixedScores(scores=SCORES).fit(split.train, catalog)
    result = evaluate(model, split, catalog=catalog, ks=(5,))
    # Every user has 3 history events: all are cold, and all sit in bucket "1-3".
    cold = result.slices["cold_users"]
    assert cold["users"] == 3
    assert cold["ndcg@10"] == pytest.approx((2 / LOG3 + 0.5) / 3)  # @10 even though ks=(5,)
    assert cold["mrr"] == pytest.approx(result.metrics["mrr"])
    # Head = a b d (2+2+1 of 6 events >= 80%); tail = c e f: only u2's target e is in it.
    tail = result.slices["long_tail"]
    assert tail["users"] == 1
    assert tail["ndcg@10"] == pytest.approx(0.5)
    assert tail["mrr"] == pytest.approx(1 / 3)
    # No target lacks training events (c and f do, but are nobody's target).
    assert result.slices["new_items"]["users"] == 0
    assert math.isnan(result.slices["new_items"]["ndcg@10"])
    assert result.by_history_length == [
        {"bucket": "1-3", "users": 3, "ndcg@10": pytest.approx((2 / LOG3 + 0.5) / 3), "hr@10": 1.0}
    ]


def test_temporal_multi_target_and_skips(catalog: Catalog) -> None:
    events = _events(
        [
            ("x", "a", 1), ("x", "b", 2), ("y", "c", 3),  # train
            ("x", "c", 10),  # valid
            ("x", "d", 20), ("x", "e", 21), ("x", "d", 22), ("x", "zz", 23), ("x", "a", 24),
            ("y", "zz", 25),
            ("z", "f", 26),
        ]
    )  # fmt: skip
    split = temporal_split_at(events, valid_start=10, test_start=20)
    model = FixedScores(scores=SCORES).fit(split.train, catalog)
    result = evaluate(model, split, ks=(1, 2, 3))
    # x: history a b c; targets d, e (d repeated once, zz unknown, a already seen);
    # ranking f d e puts d at 2 and e at 3. z: no history, target f at rank 1.
    # y: its only target zz is unknown, so y is skipped.
    assert result.skipped == {
        "users": 1,
        "repeat_targets": 1,
        "repeat_users": 1,
        "unknown_targets": 2,
    }
    m = result.metrics
    assert m["users"] == 2
    assert m["hr@1"] == 0.5
    assert m["hr@2"] == 1.0
    assert m["recall@2"] == pytest.approx((0.5 + 1) / 2)
    assert m["recall@3"] == 1.0
    ideal_2 = 1 + 1 / LOG3
    assert m["ndcg@2"] == pytest.approx((1 / LOG3 / ideal_2 + 1) / 2)
    assert m["ndcg@3"] == pytest.approx(((1 / LOG3 + 0.5) / ideal_2 + 1) / 2)
    assert m["map@2"] == pytest.approx((0.5 / 2 + 1) / 2)
    assert m["map@3"] == pytest.approx(((1 / 2 + 2 / 3) / 2 + 1) / 2)
    assert m["mrr"] == pytest.approx((1 / 2 + 1) / 2)
    assert "ild@2" not in m  # no catalog given
    # Training events a b c only: d, e and f are new items (all targets); z's history is empty.
    assert result.slices["new_items"]["users"] == 2
    assert result.slices["cold_users"]["users"] == 2
    buckets = {row["bucket"]: row for row in result.by_history_length}
    assert list(buckets) == ["0", "1-3"]
    assert buckets["0"]["ndcg@10"] == 1.0
    assert buckets["1-3"]["hr@10"] == 1.0


def test_popularity_excludes_history_and_breaks_ties_by_index(
    tiny_interactions: Interactions,
) -> None:
    # Train: u1 a b, u2 a b, u3 e d -> vocabulary a b e d with counts 2 2 1 1 (c unknown).
    # u1 (history a b): e and d tie at 1, e has the lower index -> target d at 2.
    # u2 (history a b): target e at 1.  u3 (history e d a): only b remains -> rank 1.
    split = leave_one_out(tiny_interactions)
    model = Popularity().fit(split.train)
    result = evaluate(model, split, ks=(1, 2))
    assert result.metrics["hr@1"] == pytest.approx(2 / 3)
    assert result.metrics["mrr"] == pytest.approx((1 / 2 + 1 + 1) / 3)
    # Top-2: u1 e d, u2 e d, u3 b (one eligible item) -> 3 of 4 items.
    assert result.metrics["coverage@2"] == pytest.approx(3 / 4)
    assert result.metrics["popularity_bias@2"] == pytest.approx((1 + 1 + 2) / 3)


def test_batching_and_progress_do_not_change_results(random_interactions: Interactions) -> None:
    split = leave_one_out(random_interactions)
    model = Popularity().fit(split.train)
    whole = evaluate(model, split, name="pop")
    batched = evaluate(model, split, batch_size=7, progress=True, name="pop")
    assert _same(whole.to_dict(), batched.to_dict())
    assert whole.metrics["users"] == 200
    assert set(whole.by_k) == {
        "ndcg",
        "hr",
        "recall",
        "map",
        "coverage",
        "novelty",
        "popularity_bias",
    }
    assert sum(row["users"] for row in whole.by_history_length) == 200
    # Popularity recommends the same head to everyone: long-tail targets are never hit.
    assert whole.slices["long_tail"]["hr@10"] == 0.0
    assert whole.slices["long_tail"]["users"] > 0


def test_item_embeddings_give_ild_emb(tiny_interactions: Interactions, catalog: Catalog) -> None:
    split = leave_one_out(tiny_interactions)
    model = FixedScores(scores=SCORES).fit(split.train, catalog)
    # Item order a..f; f and d orthogonal, f and b parallel: top-2 lists f d, f d, f b.
    embeddings = np.array([[1, 0], [1, 0], [0, 1], [0, 1], [1, 1], [1, 0]], dtype=np.float32)
    result = evaluate(model, split, ks=(2,), item_embeddings=embeddings)
    assert result.metrics["ild_emb@2"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="item_embeddings"):
        evaluate(model, split, item_embeddings=embeddings[:3])


def test_result_round_trips_through_dict(random_interactions: Interactions) -> None:
    split = leave_one_out(random_interactions)
    result = evaluate(Popularity().fit(split.train), split)
    copy = EvaluationResult.from_dict(result.to_dict())
    assert _same(copy.to_dict(), result.to_dict())
    copy.model = "renamed"  # mutable: experiments rename results
    assert result.model == "popularity"


def test_invalid_calls_raise(tiny_interactions: Interactions) -> None:
    split = leave_one_out(tiny_interactions)
    with pytest.raises(NotFittedError):
        evaluate(Popularity(), split)
    model = Popularity().fit(split.train)
    for ks in ((), (0, 5), (2.5,)):
        with pytest.raises(ValueError, match="ks"):
            evaluate(model, split, ks=ks)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch_size"):
        evaluate(model, split, batch_size=0)
    # Every test item repeats the history: nobody can be evaluated.
    repeat = Split(train=split.train, valid=split.valid, test=split.train, protocol="loo")
    with pytest.raises(ValueError, match="no test user"):
        evaluate(model, repeat)


def test_compare_models_names_results(tiny_interactions: Interactions, catalog: Catalog) -> None:
    dataset = Dataset(name="tiny", catalog=catalog, split=leave_one_out(tiny_interactions))
    runs = compare_models({"pop": Popularity(), "fixed": FixedScores(scores=SCORES)}, dataset)
    assert [run.result.model for run in runs] == ["pop", "fixed"]
    assert runs[1].result.metrics["mrr"] == pytest.approx((1 / 2 + 1 / 3 + 1 / 2) / 3)
