"""Pure metric functions: ranking quality, click/purchase prediction, and list properties.

Ranking and ties
----------------
Items are ranked by score, highest first; **equal scores are ordered by lower item index first**,
the tie-break of :func:`shoprec.models.top_k`, so a rank is deterministic. Ranks are 1-based. A
``NaN`` score marks an item excluded from the ranking (e.g. already in the user's history): it
takes no position. A relevant item whose own score is ``NaN`` or ``-inf`` cannot be recommended
and gets rank ``inf`` (never a hit, reciprocal rank 0).

Matrix functions (``ndcg_at_k(y_true, y_score, *, k)`` ...) take a binary relevance matrix and a
score matrix of shape ``(n_users, n_items)`` and return the mean over users; every user needs at
least one relevant item. The ``*_from_ranks`` functions take the ranks of each user's targets,
shape ``(n_users, max_targets)`` with ``n_targets[u]`` real entries at the start of row ``u``
(the rest is padding), and return one value per user; the evaluation protocol uses them.

Binary gains throughout: DCG@k sums ``1 / log2(rank + 1)`` over targets ranked within ``k``,
divided by the ideal DCG of ``min(k, n_targets)`` targets. Recall@k is hits / n_targets;
AP@k sums precision at each hit's rank, divided by ``min(k, n_targets)``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.stats import rankdata

__all__ = [
    "auc",
    "catalog_coverage",
    "gauc",
    "hit_rate_at_k",
    "hit_rate_from_ranks",
    "intra_list_diversity",
    "log_loss",
    "map_at_k",
    "map_from_ranks",
    "mrr",
    "ndcg_at_k",
    "ndcg_from_ranks",
    "novelty",
    "popularity_bias",
    "recall_at_k",
    "recall_from_ranks",
    "reciprocal_rank_from_ranks",
    "target_ranks",
]

_CHUNK = 1024


# -- validation --------------------------------------------------------------------------------
def _check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return int(k)


def _check_binary(y: np.ndarray, name: str) -> np.ndarray:
    y = np.asarray(y)
    if y.dtype != bool and not np.isin(y, (0, 1)).all():
        raise ValueError(f"{name} must be binary (0/1 or bool)")
    return y.astype(bool)


def _check_pair(y_true: np.ndarray, y_score: np.ndarray, ndim: int) -> tuple[np.ndarray, ...]:
    y_true, y_score = np.asarray(y_true), np.asarray(y_score, dtype=np.float64)
    if y_true.ndim != ndim or y_true.shape != y_score.shape:
        raise ValueError(
            f"y_true and y_score must be {ndim}-d arrays of one shape, got {y_true.shape} "
            f"and {y_score.shape}"
        )
    if np.isnan(y_score).any():
        raise ValueError("y_score contains NaN")
    return _check_binary(y_true, "y_true"), y_score


def _check_ranks(ranks: np.ndarray, n_targets: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Ranks with padding set to ``inf``, and the per-row target counts."""
    ranks = np.array(ranks, dtype=np.float64)  # a copy: padding is overwritten below
    if ranks.ndim != 2 or ranks.shape[1] == 0:
        raise ValueError(f"ranks must have shape (n_users, max_targets >= 1), got {ranks.shape}")
    if n_targets is None:
        n = np.full(len(ranks), ranks.shape[1], dtype=np.int64)
    else:
        n = np.asarray(n_targets, dtype=np.int64)
        if n.shape != (len(ranks),) or (n < 1).any() or (n > ranks.shape[1]).any():
            raise ValueError("n_targets must give 1..max_targets real entries for every row")
    padding = np.arange(ranks.shape[1]) >= n[:, None]
    ranks[padding] = np.inf
    if np.isnan(ranks).any() or (ranks < 1).any():
        raise ValueError("ranks must be 1-based (>= 1) or inf")
    return ranks, n


def _check_lists(recommended: np.ndarray, n_items: int) -> np.ndarray:
    """Top-k lists as item indices, shape ``(n_lists, k)``; ``-1`` pads short lists."""
    lists = np.asarray(recommended)
    if lists.ndim != 2 or not np.issubdtype(lists.dtype, np.integer):
        raise ValueError(f"recommended must be a 2-d integer array, got {lists.dtype} array")
    if lists.size and (lists.min() < -1 or lists.max() >= n_items):
        raise ValueError(f"recommended indices must lie in [0, {n_items}) or be -1 (padding)")
    return lists


# -- ranks -------------------------------------------------------------------------------------
def target_ranks(
    scores: np.ndarray, rows: np.ndarray, items: np.ndarray, *, chunk_size: int = _CHUNK
) -> np.ndarray:
    """1-based rank of item ``items[j]`` within row ``rows[j]`` of ``scores``.

    Parameters
    ----------
    scores
        Shape ``(n_rows, n_items)``. ``NaN`` excludes an item from the ranking.
    rows, items
        Shape ``(n_targets,)`` each: which row and which item to rank.
    chunk_size
        Targets compared at a time; bounds memory to ``chunk_size * n_items`` scores.

    Returns
    -------
    numpy.ndarray
        Float ranks, shape ``(n_targets,)``; ``inf`` where the target's score is NaN or ``-inf``.
        Equal scores rank the lower item index first (see the module docstring).
    """
    scores = np.asarray(scores)
    rows, items = np.asarray(rows, dtype=np.int64), np.asarray(items, dtype=np.int64)
    if scores.ndim != 2 or rows.shape != items.shape or rows.ndim != 1:
        raise ValueError("scores must be 2-d and rows, items 1-d arrays of one length")
    if rows.size and (rows.min() < 0 or rows.max() >= scores.shape[0]):
        raise ValueError(f"rows must lie in [0, {scores.shape[0]})")
    if items.size and (items.min() < 0 or items.max() >= scores.shape[1]):
        raise ValueError(f"items must lie in [0, {scores.shape[1]})")
    positions = np.arange(scores.shape[1])
    ranks = np.empty(len(rows), dtype=np.float64)
    for start in range(0, len(rows), max(1, chunk_size)):
        part = slice(start, start + max(1, chunk_size))
        sub = scores[rows[part]]  # (chunk, n_items)
        own = sub[np.arange(len(sub)), items[part]][:, None]  # (chunk, 1)
        before = (sub > own) | ((sub == own) & (positions < items[part][:, None]))
        ranks[part] = before.sum(axis=1) + 1
    target = scores[rows, items]
    ranks[np.isnan(target) | (target == -np.inf)] = np.inf
    return ranks


def hit_rate_from_ranks(
    ranks: np.ndarray, n_targets: np.ndarray | None = None, *, k: int
) -> np.ndarray:
    """Per user: 1.0 when any target ranks within ``k``, else 0.0."""
    ranks, _ = _check_ranks(ranks, n_targets)
    return np.asarray((ranks <= _check_k(k)).any(axis=1), dtype=np.float64)


def recall_from_ranks(
    ranks: np.ndarray, n_targets: np.ndarray | None = None, *, k: int
) -> np.ndarray:
    """Per user: share of the targets ranked within ``k``."""
    ranks, n = _check_ranks(ranks, n_targets)
    return np.asarray((ranks <= _check_k(k)).sum(axis=1) / n, dtype=np.float64)


def ndcg_from_ranks(
    ranks: np.ndarray, n_targets: np.ndarray | None = None, *, k: int
) -> np.ndarray:
    """Per user: NDCG@k with binary gains, ideal DCG over ``min(k, n_targets)`` targets."""
    ranks, n = _check_ranks(ranks, n_targets)
    k = _check_k(k)
    dcg = np.where(ranks <= k, 1.0 / np.log2(ranks + 1.0), 0.0).sum(axis=1)
    ideal = np.cumsum(1.0 / np.log2(np.arange(2, ranks.shape[1] + 2)))
    return dcg / ideal[np.minimum(n, k) - 1]


def map_from_ranks(ranks: np.ndarray, n_targets: np.ndarray | None = None, *, k: int) -> np.ndarray:
    """Per user: average precision at ``k``, normalised by ``min(k, n_targets)``.

    The ranks of one user's targets must be distinct (as :func:`target_ranks` makes them).
    """
    ranks, n = _check_ranks(ranks, n_targets)
    k = _check_k(k)
    ordered = np.sort(ranks, axis=1)
    # With distinct ranks, the j-th best target has precision j / rank at its own rank.
    found = np.arange(1, ranks.shape[1] + 1)
    precision = np.where(ordered <= k, found / ordered, 0.0)
    return precision.sum(axis=1) / np.minimum(n, k)


def reciprocal_rank_from_ranks(
    ranks: np.ndarray, n_targets: np.ndarray | None = None
) -> np.ndarray:
    """Per user: 1 / rank of the best-ranked target (0 when none can be recommended)."""
    ranks, _ = _check_ranks(ranks, n_targets)
    return 1.0 / ranks.min(axis=1)


# -- ranking metrics on relevance matrices -----------------------------------------------------
def _matrix_ranks(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    relevant, scores = _check_pair(y_true, y_score, ndim=2)
    n_targets = relevant.sum(axis=1)
    if (n_targets == 0).any():
        raise ValueError("every row of y_true needs at least one relevant item")
    rows, items = np.nonzero(relevant)  # row-major, so each row's targets are contiguous
    padded = np.full((len(relevant), int(n_targets.max())), np.inf)
    starts = np.concatenate([[0], np.cumsum(n_targets)[:-1]])
    padded[rows, np.arange(len(rows)) - starts[rows]] = target_ranks(scores, rows, items)
    return padded, n_targets


def _mean_at_k(per_user: Callable[..., np.ndarray]) -> Callable[..., float]:
    def metric(y_true: np.ndarray, y_score: np.ndarray, *, k: int) -> float:
        _check_k(k)
        ranks, n_targets = _matrix_ranks(y_true, y_score)
        return float(per_user(ranks, n_targets, k=k).mean())

    return metric


def ndcg_at_k(y_true: np.ndarray, y_score: np.ndarray, *, k: int) -> float:
    """Mean NDCG@k over users (binary gains; ties by lower item index).

    Parameters
    ----------
    y_true
        Binary relevance, shape ``(n_users, n_items)``; each row has a relevant item.
    y_score
        Scores of the same shape; higher is better, no NaN.
    k
        Cut-off, a positive integer.
    """
    return _mean_at_k(ndcg_from_ranks)(y_true, y_score, k=k)


def hit_rate_at_k(y_true: np.ndarray, y_score: np.ndarray, *, k: int) -> float:
    """Share of users with a relevant item in their top ``k``; arguments as :func:`ndcg_at_k`."""
    return _mean_at_k(hit_rate_from_ranks)(y_true, y_score, k=k)


def recall_at_k(y_true: np.ndarray, y_score: np.ndarray, *, k: int) -> float:
    """Mean share of each user's relevant items in the top ``k``; as :func:`ndcg_at_k`."""
    return _mean_at_k(recall_from_ranks)(y_true, y_score, k=k)


def map_at_k(y_true: np.ndarray, y_score: np.ndarray, *, k: int) -> float:
    """Mean AP@k, each normalised by ``min(k, n_relevant)``; as :func:`ndcg_at_k`."""
    return _mean_at_k(map_from_ranks)(y_true, y_score, k=k)


def mrr(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Mean reciprocal rank of each user's best-ranked relevant item (no cut-off)."""
    ranks, n_targets = _matrix_ranks(y_true, y_score)
    return float(reciprocal_rank_from_ranks(ranks, n_targets).mean())


# -- click / purchase prediction ---------------------------------------------------------------
def auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Area under the ROC curve; tied scores count one half (Mann-Whitney with average ranks).

    Parameters
    ----------
    y_true
        Binary labels, shape ``(n,)``, with both classes present.
    y_score
        Scores, shape ``(n,)``; higher means more likely positive.
    """
    labels, scores = _check_pair(y_true, y_score, ndim=1)
    n_pos = int(labels.sum())
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUC needs both positive and negative labels")
    rank_sum = rankdata(scores)[labels].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def gauc(y_true: np.ndarray, y_score: np.ndarray, groups: np.ndarray) -> float:
    """Group AUC: per-group (per-user) AUC weighted by the group's number of impressions.

    Groups whose labels are all one class have no AUC and are skipped; ties count one half.

    Parameters
    ----------
    y_true, y_score
        Binary labels and scores, shape ``(n,)``.
    groups
        Group (user) of each impression, shape ``(n,)``, any comparable labels.
    """
    labels, scores = _check_pair(y_true, y_score, ndim=1)
    groups = np.asarray(groups)
    if groups.shape != labels.shape:
        raise ValueError(f"groups must have shape {labels.shape}, got {groups.shape}")
    _, codes = np.unique(groups, return_inverse=True)
    order = np.lexsort((scores, codes))
    g, s, y = codes[order], scores[order], labels[order].astype(np.float64)
    n = len(g)
    # Runs of equal (group, score) share their average position: tied scores count one half.
    new_run = np.concatenate([[True], (g[1:] != g[:-1]) | (s[1:] != s[:-1])])
    run = np.cumsum(new_run) - 1
    run_start = np.flatnonzero(new_run)
    run_end = np.concatenate([run_start[1:], [n]]) - 1
    group_start = np.flatnonzero(np.concatenate([[True], g[1:] != g[:-1]]))
    within = (run_start[run] + run_end[run]) / 2 - group_start[g] + 1
    size = np.bincount(g).astype(np.float64)
    n_pos = np.bincount(g, weights=y)
    n_neg = size - n_pos
    valid = (n_pos > 0) & (n_neg > 0)
    if not valid.any():
        raise ValueError("GAUC needs a group with both positive and negative labels")
    rank_sum = np.bincount(g, weights=within * y)
    group_auc = (rank_sum[valid] - n_pos[valid] * (n_pos[valid] + 1) / 2) / (
        n_pos[valid] * n_neg[valid]
    )
    return float(np.average(group_auc, weights=size[valid]))


def log_loss(y_true: np.ndarray, y_prob: np.ndarray, *, eps: float = 1e-15) -> float:
    """Mean binary cross-entropy (natural log); probabilities are clipped to ``[eps, 1 - eps]``."""
    labels, prob = _check_pair(y_true, y_prob, ndim=1)
    if len(labels) == 0:
        raise ValueError("log_loss needs at least one label")
    if (prob < 0).any() or (prob > 1).any():
        raise ValueError("y_prob must hold probabilities in [0, 1]")
    prob = np.clip(prob, eps, 1 - eps)
    return float(-np.mean(np.where(labels, np.log(prob), np.log1p(-prob))))


# -- properties of recommendation lists --------------------------------------------------------
def catalog_coverage(recommended: np.ndarray, n_items: int) -> float:
    """Share of the ``n_items`` catalog items that appear in at least one list.

    ``recommended`` holds top-k lists as item indices, shape ``(n_lists, k)``; ``-1`` pads.
    """
    if n_items < 1:
        raise ValueError(f"n_items must be positive, got {n_items}")
    lists = _check_lists(recommended, n_items)
    return len(np.unique(lists[lists >= 0])) / n_items


def intra_list_diversity(
    recommended: np.ndarray,
    *,
    embeddings: np.ndarray | None = None,
    categories: np.ndarray | None = None,
) -> float:
    """Mean over lists of the mean pairwise dissimilarity of the items in each list.

    Give exactly one of ``embeddings`` (dissimilarity = cosine distance ``1 - cos``; a zero vector
    has cosine 0 to everything) or ``categories`` (dissimilarity = 1 for a pair in different
    categories, else 0). Lists with no valid pair are skipped; ``NaN`` when none has one.

    Parameters
    ----------
    recommended
        Item indices, shape ``(n_lists, k)``; ``-1`` pads.
    embeddings
        Item vectors, shape ``(n_items, dim)``.
    categories
        Integer category code per item, shape ``(n_items,)``; ``-1`` = unknown (pairs skipped).
    """
    if (embeddings is None) == (categories is None):
        raise ValueError("give exactly one of embeddings or categories")
    table = np.asarray(embeddings if embeddings is not None else categories)
    if table.ndim != (2 if embeddings is not None else 1):
        raise ValueError(f"embeddings must be 2-d and categories 1-d, got shape {table.shape}")
    lists = _check_lists(recommended, len(table))
    if embeddings is not None:
        norms = np.linalg.norm(table, axis=1, keepdims=True)
        table = table / np.where(norms > 0, norms, 1.0)
    total, count = 0.0, 0
    upper = np.triu(np.ones((lists.shape[1], lists.shape[1]), dtype=bool), k=1)
    for start in range(0, len(lists), _CHUNK):
        part = lists[start : start + _CHUNK]
        valid = part >= 0
        items = table[np.where(valid, part, 0)]
        if embeddings is not None:
            distance = 1.0 - np.einsum("nid,njd->nij", items, items)
        else:
            valid &= items >= 0
            distance = (items[:, :, None] != items[:, None, :]).astype(np.float64)
        pairs = valid[:, :, None] & valid[:, None, :] & upper
        n_pairs = pairs.sum(axis=(1, 2))
        has = n_pairs > 0
        total += float((np.where(pairs, distance, 0.0).sum(axis=(1, 2))[has] / n_pairs[has]).sum())
        count += int(has.sum())
    return total / count if count else float("nan")


def _mean_per_list(lists: np.ndarray, values: np.ndarray) -> float:
    valid = lists >= 0
    length = valid.sum(axis=1)
    sums = np.where(valid, values[np.where(valid, lists, 0)], 0.0).sum(axis=1)
    has = length > 0
    return float((sums[has] / length[has]).mean()) if has.any() else float("nan")


def _check_popularity(popularity: np.ndarray) -> np.ndarray:
    counts = np.asarray(popularity, dtype=np.float64)
    if counts.ndim != 1 or (counts < 0).any() or counts.sum() <= 0:
        raise ValueError("popularity must be a 1-d array of non-negative counts, not all zero")
    return counts


def novelty(recommended: np.ndarray, popularity: np.ndarray) -> float:
    """Mean self-information ``-log2 p(i)`` of recommended items (mean per list, then over lists).

    ``p(i)`` is item ``i``'s share of the training events, ``popularity[i] / popularity.sum()``;
    an item without training events counts as one event so its self-information stays finite.
    ``recommended`` holds item indices, shape ``(n_lists, k)``, ``-1`` padding.
    """
    counts = _check_popularity(popularity)
    lists = _check_lists(recommended, len(counts))
    information = -np.log2(np.maximum(counts, 1.0) / counts.sum())
    return _mean_per_list(lists, information)


def popularity_bias(recommended: np.ndarray, popularity: np.ndarray) -> float:
    """Average recommendation popularity (ARP): mean ``popularity`` of the items of each list,
    averaged over lists. ``popularity`` is e.g. each item's number of training events."""
    counts = _check_popularity(popularity)
    return _mean_per_list(_check_lists(recommended, len(counts)), counts)
