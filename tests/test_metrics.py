"""Pure metrics: known answers by hand, properties, and cross-checks against independent code."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.metrics import log_loss as sk_log_loss
from sklearn.metrics import ndcg_score, roc_auc_score

from shoprec import metrics as M

LOG3 = math.log2(3)


# -- known answers -----------------------------------------------------------------------------
def test_ranking_metrics_by_hand() -> None:
    # Relevant items at ranks 1 and 4 of 5.
    y_true = np.array([[1, 0, 0, 1, 0]])
    y_score = np.array([[0.9, 0.8, 0.7, 0.6, 0.5]])
    assert M.ndcg_at_k(y_true, y_score, k=3) == pytest.approx(1 / (1 + 1 / LOG3))
    assert M.ndcg_at_k(y_true, y_score, k=5) == pytest.approx(
        (1 + 1 / math.log2(5)) / (1 + 1 / LOG3)
    )
    assert M.hit_rate_at_k(y_true, y_score, k=3) == 1.0
    assert M.recall_at_k(y_true, y_score, k=3) == 0.5
    assert M.recall_at_k(y_true, y_score, k=4) == 1.0
    assert M.map_at_k(y_true, y_score, k=3) == pytest.approx(0.5)  # (1/1) / min(3, 2)
    assert M.map_at_k(y_true, y_score, k=5) == pytest.approx((1 + 2 / 4) / 2)
    assert M.mrr(y_true, y_score) == 1.0


def test_mean_over_users() -> None:
    y_true = np.array([[0, 1, 0], [0, 0, 1]])
    y_score = np.array([[3.0, 2.0, 1.0], [3.0, 2.0, 1.0]])  # ranks 2 and 3
    assert M.mrr(y_true, y_score) == pytest.approx((1 / 2 + 1 / 3) / 2)
    assert M.hit_rate_at_k(y_true, y_score, k=2) == 0.5
    assert M.ndcg_at_k(y_true, y_score, k=3) == pytest.approx((1 / LOG3 + 0.5) / 2)


def test_ties_rank_lower_index_first() -> None:
    y_true = np.array([[0, 1, 0]])
    y_score = np.array([[1.0, 1.0, 1.0]])
    assert M.mrr(y_true, y_score) == 0.5
    assert M.hit_rate_at_k(y_true, y_score, k=1) == 0.0
    assert M.ndcg_at_k(y_true, y_score, k=2) == pytest.approx(1 / LOG3)
    scores = np.array([[2.0, 1.0, 2.0, 2.0]])
    assert M.target_ranks(scores, np.zeros(4), np.arange(4)).tolist() == [1, 4, 2, 3]


def test_target_ranks_excludes_nan_and_cannot_rank_minus_inf() -> None:
    scores = np.array([[np.nan, 0.5, 0.9, np.nan, -np.inf], [0.1, 0.2, 0.3, 0.4, 0.5]])
    ranks = M.target_ranks(scores, np.array([0, 0, 0, 0, 1]), np.array([1, 2, 3, 4, 0]))
    assert ranks.tolist() == [2, 1, math.inf, math.inf, 5]
    # Tiny chunks give the same answer as one pass.
    chunked = M.target_ranks(
        scores, np.array([0, 0, 0, 0, 1]), np.array([1, 2, 3, 4, 0]), chunk_size=1
    )
    assert chunked.tolist() == ranks.tolist()


def test_from_ranks_with_padding() -> None:
    # User 0: targets at ranks 2 and 5; user 1: one target at rank 1 (rest is padding).
    ranks = np.array([[2.0, 5.0], [1.0, 99.0]])
    n_targets = np.array([2, 1])
    assert M.hit_rate_from_ranks(ranks, n_targets, k=1).tolist() == [0.0, 1.0]
    assert M.recall_from_ranks(ranks, n_targets, k=4).tolist() == [0.5, 1.0]
    assert M.map_from_ranks(ranks, n_targets, k=5).tolist() == pytest.approx(
        [(1 / 2 + 2 / 5) / 2, 1]
    )
    ndcg = M.ndcg_from_ranks(ranks, n_targets, k=5)
    assert ndcg.tolist() == pytest.approx([(1 / LOG3 + 1 / math.log2(6)) / (1 + 1 / LOG3), 1])
    assert M.reciprocal_rank_from_ranks(ranks, n_targets).tolist() == [0.5, 1.0]
    # A target that cannot be recommended (rank inf) counts as a miss.
    assert M.reciprocal_rank_from_ranks(np.array([[np.inf]])).tolist() == [0.0]


def test_classification_metrics_by_hand() -> None:
    y = np.array([0, 0, 1, 1])
    assert M.auc(y, np.array([0.1, 0.4, 0.35, 0.8])) == 0.75
    assert M.auc(y, np.array([0.5, 0.5, 0.5, 0.5])) == 0.5  # ties count one half
    # Group a: AUC 1 over 2 rows; group b: AUC 0 over 4 rows; group c: one class, skipped.
    labels = np.array([1, 0, 1, 1, 0, 0, 1, 1])
    scores = np.array([0.9, 0.1, 0.1, 0.2, 0.8, 0.9, 0.5, 0.4])
    groups = np.array(["a", "a", "b", "b", "b", "b", "c", "c"])
    assert M.gauc(labels, scores, groups) == pytest.approx((2 * 1.0 + 4 * 0.0) / 6)
    assert M.log_loss(np.array([1, 0]), np.array([0.8, 0.4])) == pytest.approx(
        -(math.log(0.8) + math.log(0.6)) / 2
    )


def test_list_metrics_by_hand() -> None:
    lists = np.array([[0, 1, 2], [3, -1, -1]])
    assert M.catalog_coverage(lists, 8) == 0.5
    embeddings = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0], [1.0, 1.0]])
    # List 0: pairs (0,1) distance 1, (0,2) 0, (1,2) 1; list 1 has no pair and is skipped.
    assert M.intra_list_diversity(lists, embeddings=embeddings) == pytest.approx(2 / 3)
    categories = np.array([0, 0, 1, 1])
    assert M.intra_list_diversity(lists, categories=categories) == pytest.approx(2 / 3)
    # An unknown category (-1) takes no part in pairs.
    unknown = np.array([0, -1, 1, 1])
    assert M.intra_list_diversity(lists, categories=unknown) == 1.0
    assert math.isnan(M.intra_list_diversity(lists[1:], categories=categories))
    popularity = np.array([2.0, 1.0, 1.0, 0.0])  # p = 1/2, 1/4, 1/4 and 1/4 (0 counts as 1)
    assert M.novelty(np.array([[0, 1], [3, -1]]), popularity) == pytest.approx((1.5 + 2) / 2)
    assert M.popularity_bias(np.array([[0, 1], [3, -1]]), popularity) == pytest.approx(0.75)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: M.ndcg_at_k(np.ones((2, 3)), np.ones((2, 3)), k=0), "k must be"),
        (lambda: M.ndcg_at_k(np.ones((2, 3)), np.ones((2, 3)), k=1.5), "k must be"),  # type: ignore[arg-type]
        (lambda: M.hit_rate_at_k(np.ones((2, 3)), np.ones((2, 3)), k=True), "k must be"),
        (lambda: M.ndcg_at_k(np.ones((2, 3)), np.ones((3, 2)), k=1), "one shape"),
        (lambda: M.recall_at_k(np.ones(3), np.ones(3), k=1), "2-d"),
        (lambda: M.map_at_k(np.full((1, 2), 2), np.ones((1, 2)), k=1), "binary"),
        (lambda: M.mrr(np.array([[1, 0], [0, 0]]), np.ones((2, 2))), "at least one relevant"),
        (lambda: M.mrr(np.array([[1, 0]]), np.array([[np.nan, 1.0]])), "NaN"),
        (lambda: M.ndcg_from_ranks(np.array([[0.0]]), k=1), "1-based"),
        (lambda: M.recall_from_ranks(np.ones((2, 2)), np.array([1, 3]), k=1), "n_targets"),
        (lambda: M.auc(np.ones(3), np.arange(3.0)), "both"),
        (lambda: M.gauc(np.array([1, 1]), np.ones(2), np.array([0, 1])), "both"),
        (lambda: M.gauc(np.array([1, 0]), np.ones(2), np.array([0])), "groups"),
        (lambda: M.log_loss(np.array([1]), np.array([1.5])), "probabilities"),
        (lambda: M.catalog_coverage(np.array([[0, 5]]), 3), "lie in"),
        (lambda: M.catalog_coverage(np.array([[0.0]]), 3), "integer"),
        (lambda: M.intra_list_diversity(np.array([[0, 1]])), "exactly one"),
        (lambda: M.novelty(np.array([[0]]), np.zeros(2)), "not all zero"),
        (lambda: M.target_ranks(np.ones((1, 2)), np.array([0]), np.array([2])), "items"),
    ],
)
def test_bad_input_raises_value_error(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


# -- properties and cross-checks ---------------------------------------------------------------
@st.composite
def relevance_and_scores(draw: st.DrawFn, *, ties: bool) -> tuple[np.ndarray, np.ndarray]:
    """A binary relevance matrix with a relevant item per row, and scores of the same shape."""
    shape = (draw(st.integers(1, 6)), draw(st.integers(1, 12)))
    y_true = draw(hnp.arrays(bool, shape))
    y_true[~y_true.any(axis=1), 0] = True
    if ties:
        y_score = draw(hnp.arrays(np.float64, shape, elements=st.integers(0, 3).map(float)))
    else:
        y_score = draw(hnp.arrays(np.float64, shape, elements=st.floats(-100, 100), unique=True))
    return y_true, y_score


def _loop_metrics(relevant: np.ndarray, scores: np.ndarray, k: int) -> dict[str, float]:
    """Recall@k and AP@k of one user by walking its ranked list (ties: lower index first)."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    hits, precision_sum = 0, 0.0
    for position, item in enumerate(order[:k], start=1):
        if relevant[item]:
            hits += 1
            precision_sum += hits / position
    n_relevant = int(relevant.sum())
    return {"recall": hits / n_relevant, "map": precision_sum / min(k, n_relevant)}


@settings(max_examples=60, deadline=None)
@given(data=relevance_and_scores(ties=False), k=st.integers(1, 14))
def test_ndcg_matches_sklearn(data: tuple[np.ndarray, np.ndarray], k: int) -> None:
    y_true, y_score = data
    if y_true.shape[1] == 1:  # sklearn refuses a single document per query
        return
    expected = ndcg_score(y_true.astype(float), y_score, k=k)
    assert M.ndcg_at_k(y_true, y_score, k=k) == pytest.approx(expected)


@settings(max_examples=60, deadline=None)
@given(data=relevance_and_scores(ties=True), k=st.integers(1, 14))
def test_recall_and_map_match_a_loop(data: tuple[np.ndarray, np.ndarray], k: int) -> None:
    y_true, y_score = data
    loops = [_loop_metrics(r, s, k) for r, s in zip(y_true, y_score, strict=True)]
    assert M.recall_at_k(y_true, y_score, k=k) == pytest.approx(
        np.mean([x["recall"] for x in loops])
    )
    assert M.map_at_k(y_true, y_score, k=k) == pytest.approx(np.mean([x["map"] for x in loops]))


@settings(max_examples=60, deadline=None)
@given(data=relevance_and_scores(ties=True), k=st.integers(1, 14))
def test_ranking_metric_properties(data: tuple[np.ndarray, np.ndarray], k: int) -> None:
    y_true, y_score = data
    hr = M.hit_rate_at_k(y_true, y_score, k=k)
    for value in (M.ndcg_at_k(y_true, y_score, k=k), M.recall_at_k(y_true, y_score, k=k)):
        assert 0.0 <= value <= hr + 1e-12
    assert 0.0 <= M.map_at_k(y_true, y_score, k=k) <= 1.0 + 1e-12
    assert M.hit_rate_at_k(y_true, y_score, k=k + 1) >= hr
    # Everything ranked within k (k covers all items) is a perfect hit.
    assert M.recall_at_k(y_true, y_score, k=y_true.shape[1]) == 1.0
    # Ranks follow a stable descending sort: position in it, lower index first among ties.
    for row, scores in enumerate(y_score):
        order = np.lexsort((np.arange(len(scores)), -scores))
        ranks = M.target_ranks(y_score, np.full(len(scores), row), order)
        assert ranks.tolist() == list(range(1, len(scores) + 1))


@settings(max_examples=60, deadline=None)
@given(
    labels=hnp.arrays(np.int64, st.integers(2, 40), elements=st.integers(0, 1)),
    seed=st.integers(0, 2**16),
)
def test_auc_gauc_log_loss_match_sklearn(labels: np.ndarray, seed: int) -> None:
    labels[:2] = [0, 1]  # both classes present
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 4, len(labels)).astype(float)  # many ties
    assert M.auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores))
    probabilities = rng.uniform(0.01, 0.99, len(labels))
    assert M.log_loss(labels, probabilities) == pytest.approx(sk_log_loss(labels, probabilities))
    groups = rng.integers(0, 4, len(labels))
    groups[:2] = 0
    per_group, weights = [], []
    for group in np.unique(groups):
        chosen = groups == group
        if len(np.unique(labels[chosen])) == 2:
            per_group.append(roc_auc_score(labels[chosen], scores[chosen]))
            weights.append(chosen.sum())
    expected = np.average(per_group, weights=weights)
    assert M.gauc(labels, scores, groups) == pytest.approx(expected)


def test_intra_list_diversity_matches_a_loop() -> None:
    rng = np.random.default_rng(3)
    embeddings = rng.normal(size=(30, 5))
    categories = rng.integers(-1, 4, 30)
    lists = rng.integers(-1, 30, size=(40, 6))
    expected_emb, expected_cat = [], []
    for row in lists:
        items = [i for i in row if i >= 0]
        cosine = [
            1
            - embeddings[a]
            @ embeddings[b]
            / np.linalg.norm(embeddings[a])
            / np.linalg.norm(embeddings[b])
            for n, a in enumerate(items)
            for b in items[n + 1 :]
        ]
        known = [i for i in items if categories[i] >= 0]
        different = [
            categories[a] != categories[b] for n, a in enumerate(known) for b in known[n + 1 :]
        ]
        if cosine:
            expected_emb.append(np.mean(cosine))
        if different:
            expected_cat.append(np.mean(different))
    assert M.intra_list_diversity(lists, embeddings=embeddings) == pytest.approx(
        np.mean(expected_emb)
    )
    assert M.intra_list_diversity(lists, categories=categories) == pytest.approx(
        np.mean(expected_cat)
    )
