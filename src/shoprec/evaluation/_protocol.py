"""Full-ranking evaluation of a fitted recommender on a split's test events.

Every test user is scored against every item of the model's vocabulary (never sampled negatives).
The user's history is their item events in ``split.train_valid``. By default (``exclude_seen``)
those items are excluded from the ranking and the targets are the user's distinct test items that
the model knows and that are not in the history: one under leave-one-out, possibly several under a
temporal split (all relevant). With ``exclude_seen=False`` (how RecBole scores sequential models)
history items stay in the ranking and repeat targets count; either way repeat targets are counted
in ``skipped["repeat_targets"]`` and the users with one in ``skipped["repeat_users"]``.
Ties in scores rank the lower item index first, as :func:`shoprec.models.top_k` does.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from shoprec import metrics
from shoprec.data import Catalog, Interactions, Split
from shoprec.exceptions import NotFittedError
from shoprec.models import Recommender, top_k

__all__ = ["HISTORY_BUCKETS", "SLICE_K", "EvaluationResult", "evaluate"]

logger = logging.getLogger(__name__)

# Cut-off of the slice and history-length tables, whatever ``ks`` is.
SLICE_K = 10
# (label, lowest, highest) history lengths of the by-history-length table.
HISTORY_BUCKETS: tuple[tuple[str, int, float], ...] = (
    ("0", 0, 0),
    ("1-3", 1, 3),
    ("4-5", 4, 5),
    ("6-10", 6, 10),
    ("11-20", 11, 20),
    ("21-50", 21, 50),
    ("51+", 51, math.inf),
)
_COLD_MAX_HISTORY = 3
_HEAD_SHARE = 0.8  # the most popular items making up this share of training events are the head
_ACCURACY = ("ndcg", "hr", "recall", "map")
_PER_USER = {
    "ndcg": metrics.ndcg_from_ranks,
    "hr": metrics.hit_rate_from_ranks,
    "recall": metrics.recall_from_ranks,
    "map": metrics.map_from_ranks,
}


@dataclass
class EvaluationResult:
    """The evaluation of one model on one split.

    Attributes
    ----------
    model
        Display name of the model.
    metrics
        Flat means over evaluated users: ``ndcg@K``, ``hr@K``, ``recall@K``, ``map@K``, ``mrr``,
        ``coverage@K`` (share of items in any top-K list), ``ild@K`` (share of top-K pairs in
        different leaf categories, a leaf named by its full path; with a catalog), ``ild_emb@K``
        (mean pairwise cosine distance; with item embeddings), ``novelty@K`` (mean ``-log2``
        training share), ``popularity_bias@K`` (mean training event count of recommended items)
        and ``users`` (users evaluated).
    by_k
        Each ``@K`` metric's values by cut-off: ``{"ndcg": {5: ..., 10: ...}, ...}``.
    slices
        ``cold_users``, ``long_tail`` and ``new_items``: ``users`` and the metrics at
        :data:`SLICE_K` (``NaN`` when a slice has no user).
    by_history_length
        Rows ``{"bucket", "users", "ndcg@10", "hr@10"}`` for the non-empty buckets of
        :data:`HISTORY_BUCKETS`, in that order.
    skipped
        ``users`` without an eligible target, ``repeat_targets`` (already in the history;
        evaluated only with ``exclude_seen=False``), ``repeat_users`` (users with a repeat
        target) and ``unknown_targets`` (outside the model's vocabulary).
    """

    model: str
    metrics: dict[str, float] = field(default_factory=dict)
    by_k: dict[str, dict[int, float]] = field(default_factory=dict)
    slices: dict[str, dict[str, float]] = field(default_factory=dict)
    by_history_length: list[dict[str, Any]] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python copy (``by_k`` keys stay integers; ``NaN`` stays ``NaN``)."""
        return {
            "model": self.model,
            "metrics": dict(self.metrics),
            "by_k": {name: dict(values) for name, values in self.by_k.items()},
            "slices": {name: dict(values) for name, values in self.slices.items()},
            "by_history_length": [dict(row) for row in self.by_history_length],
            "skipped": dict(self.skipped),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvaluationResult:
        """Inverse of :meth:`to_dict`; also reads JSON (string ``by_k`` keys, ``null`` = NaN)."""

        def number(value: Any) -> float:
            return float("nan") if value is None else value

        return cls(
            model=str(data["model"]),
            metrics={name: number(v) for name, v in data.get("metrics", {}).items()},
            by_k={
                name: {int(k): number(v) for k, v in values.items()}
                for name, values in data.get("by_k", {}).items()
            },
            slices={
                name: {m: number(v) for m, v in values.items()}
                for name, values in data.get("slices", {}).items()
            },
            by_history_length=[
                {m: number(v) for m, v in row.items()} for row in data.get("by_history_length", [])
            ],
            skipped={name: int(v) for name, v in data.get("skipped", {}).items()},
        )


@dataclass
class _Cases:
    """Evaluable test users: encoded histories and targets (flat, grouped by user)."""

    histories: list[np.ndarray]
    target_owner: np.ndarray  # (n_targets,) position of the target's user in ``histories``
    target_item: np.ndarray  # (n_targets,) item index
    skipped: dict[str, int]


def evaluate(
    model: Recommender,
    split: Split,
    *,
    catalog: Catalog | None = None,
    ks: Sequence[int] = (5, 10, 20),
    item_embeddings: np.ndarray | None = None,
    batch_size: int = 1024,
    progress: bool = False,
    name: str | None = None,
    exclude_seen: bool = True,
) -> EvaluationResult:
    """Evaluate ``model`` on ``split.test`` with full ranking over ``model.item_ids_``.

    Parameters
    ----------
    model
        A fitted recommender.
    split
        The split the model was trained on; histories come from ``split.train_valid``,
        popularity (novelty, long tail, new items) from ``split.train``.
    catalog
        Item metadata; enables ``ild@K`` over leaf categories.
    ks
        Cut-offs of the ``@K`` metrics.
    item_embeddings
        Vectors aligned with ``model.item_ids_``, shape ``(n_items, dim)``; enables ``ild_emb@K``.
    batch_size
        Users scored at once; memory grows with ``batch_size * n_items``.
    progress
        Show a progress bar over user batches.
    name
        Display name; the model's registry name by default.
    exclude_seen
        Exclude the user's history items from the ranking and repeat targets from the targets
        (default); ``False`` ranks every item and keeps repeat targets.

    Returns
    -------
    EvaluationResult
    """
    ks = _check_ks(ks)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not model.is_fitted:
        raise NotFittedError(f"{type(model).__name__} is not fitted; call fit() first")
    n_items = len(model.item_ids_)
    if item_embeddings is not None and (
        np.ndim(item_embeddings) != 2 or len(item_embeddings) != n_items
    ):
        raise ValueError(f"item_embeddings must have shape ({n_items}, dim)")
    name = name or type(model).name
    cases = _test_cases(model, split, exclude_seen=exclude_seen)
    n_users = len(cases.histories)
    if n_users == 0:
        raise ValueError(f"no test user has an eligible target (skipped: {cases.skipped})")
    logger.info("evaluating %s on %d users (skipped: %s)", name, n_users, cases.skipped)
    ranks, lists = _rank_all(model, cases, max(ks), batch_size, progress, name, exclude_seen)
    popularity = _item_counts(model, split.train)
    result = EvaluationResult(model=name, skipped=cases.skipped)
    _accuracy(result, ranks, cases.target_owner, ks)
    _list_properties(result, lists, ks, popularity, _leaf_codes(model, catalog), item_embeddings)
    result.metrics["users"] = n_users
    lengths = np.array([len(h) for h in cases.histories])
    tail = _long_tail(popularity)[cases.target_item]
    new = (popularity == 0)[cases.target_item]
    _slices(result, ranks, cases.target_owner, lengths, tail, new)
    return result


def _check_ks(ks: Sequence[int]) -> list[int]:
    values = list(ks)
    if not values or any(
        isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1 for k in values
    ):
        raise ValueError(f"ks must be a non-empty sequence of positive integers, got {ks!r}")
    return sorted({int(k) for k in values})


def _test_cases(model: Recommender, split: Split, *, exclude_seen: bool = True) -> _Cases:
    vocabulary = pd.Index(model.item_ids_)
    test = split.test.frame[split.test.frame["item_id"] != ""]
    test = test.drop_duplicates(["user_id", "item_id"])  # keeps each item's first appearance
    users = pd.Index(pd.unique(test["user_id"].to_numpy()))
    owner = users.get_indexer(test["user_id"].to_numpy())
    items = vocabulary.get_indexer(test["item_id"].to_numpy())  # -1: outside the vocabulary
    past = split.train_valid.frame
    past_owner = users.get_indexer(past["user_id"].to_numpy())
    past_items = vocabulary.get_indexer(past["item_id"].to_numpy())
    known = (past_owner >= 0) & (past_items >= 0)  # test users' events on known items
    past_owner, past_items = past_owner[known], past_items[known]
    unknown = items < 0
    # A (user, item) pair as one integer, to look test pairs up among the history pairs.
    n_items = len(vocabulary)
    repeat = ~unknown & np.isin(owner * n_items + items, past_owner * n_items + past_items)
    eligible = ~unknown & ~repeat if exclude_seen else ~unknown
    evaluable = np.unique(owner[eligible])
    position = np.full(len(users), -1, dtype=np.int64)
    position[evaluable] = np.arange(len(evaluable))
    target_owner = position[owner[eligible]]
    order = np.argsort(target_owner, kind="stable")  # group by user, keep first-appearance order
    return _Cases(
        histories=_group(position[past_owner], past_items, len(evaluable)),
        target_owner=target_owner[order],
        target_item=items[eligible][order],
        skipped={
            "users": len(users) - len(evaluable),
            "repeat_targets": int(repeat.sum()),
            "repeat_users": len(np.unique(owner[repeat])),
            "unknown_targets": int(unknown.sum()),
        },
    )


def _group(owner: np.ndarray, items: np.ndarray, n_groups: int) -> list[np.ndarray]:
    """``items`` split by ``owner`` (``-1`` dropped) into ``n_groups`` arrays, order kept."""
    keep = owner >= 0
    owner, items = owner[keep], items[keep]
    order = np.argsort(owner, kind="stable")
    bounds = np.searchsorted(owner[order], np.arange(n_groups + 1))
    items = items[order].astype(np.int64)
    return [items[bounds[g] : bounds[g + 1]] for g in range(n_groups)]


def _rank_all(
    model: Recommender,
    cases: _Cases,
    k: int,
    batch_size: int,
    progress: bool,
    name: str,
    exclude_seen: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Rank of every target (flat) and each user's top-``k`` item indices (``-1`` pads)."""
    n_users = len(cases.histories)
    ranks = np.empty(len(cases.target_item), dtype=np.float64)
    lists = np.full((n_users, k), -1, dtype=np.int64)
    bounds = np.searchsorted(cases.target_owner, np.arange(0, n_users + batch_size, batch_size))
    starts = range(0, n_users, batch_size)
    for batch, start in enumerate(tqdm(starts, desc=f"evaluating {name}", disable=not progress)):
        histories = cases.histories[start : start + batch_size]
        scores = np.array(model.score(histories), dtype=np.float32)  # a copy we may modify
        scores[np.isnan(scores)] = -np.inf  # a broken score must not count as a good one
        for row, history in enumerate(histories):
            if exclude_seen:
                scores[row, history] = np.nan  # excluded: takes no position in the ranking
        part = slice(bounds[batch], bounds[batch + 1])
        ranks[part] = metrics.target_ranks(
            scores, cases.target_owner[part] - start, cases.target_item[part]
        )
        # The top-k lists from the same scores, as model.recommend_histories would make them.
        top, top_scores = top_k(np.where(np.isnan(scores), -np.inf, scores), k)
        lists[start : start + len(histories), : top.shape[1]] = np.where(
            np.isfinite(top_scores), top, -1
        )
    return ranks, lists


def _padded(ranks: np.ndarray, owner: np.ndarray, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat target ranks grouped by ``owner`` (sorted) as an ``inf``-padded matrix."""
    n_targets = np.bincount(owner, minlength=n_users)
    matrix = np.full((n_users, max(1, int(n_targets.max(initial=0)))), np.inf)
    starts = np.concatenate([[0], np.cumsum(n_targets)[:-1]])
    matrix[owner, np.arange(len(owner)) - starts[owner]] = ranks
    return matrix, n_targets


def _per_user(ranks: np.ndarray, owner: np.ndarray, ks: Sequence[int]) -> dict[str, np.ndarray]:
    """Per-user accuracy metrics of users with at least one target (in user order)."""
    users, owner = np.unique(owner, return_inverse=True)
    matrix, n_targets = _padded(ranks, owner, len(users))
    values = {
        f"{metric}@{k}": fn(matrix, n_targets, k=k) for k in ks for metric, fn in _PER_USER.items()
    }
    values["mrr"] = metrics.reciprocal_rank_from_ranks(matrix, n_targets)
    values["_users"] = users
    return values


def _accuracy(
    result: EvaluationResult, ranks: np.ndarray, owner: np.ndarray, ks: list[int]
) -> None:
    per_user = _per_user(ranks, owner, ks)
    for metric in _ACCURACY:
        for k in ks:
            result.metrics[f"{metric}@{k}"] = float(per_user[f"{metric}@{k}"].mean())
        result.by_k[metric] = {k: result.metrics[f"{metric}@{k}"] for k in ks}
    result.metrics["mrr"] = float(per_user["mrr"].mean())


def _list_properties(
    result: EvaluationResult,
    lists: np.ndarray,
    ks: list[int],
    popularity: np.ndarray,
    categories: np.ndarray | None,
    embeddings: np.ndarray | None,
) -> None:
    properties: dict[str, Callable[[np.ndarray], float] | None] = {
        "coverage": lambda top: metrics.catalog_coverage(top, len(popularity)),
        "ild": None if categories is None else (
            lambda top: metrics.intra_list_diversity(top, categories=categories)
        ),
        "ild_emb": None if embeddings is None else (
            lambda top: metrics.intra_list_diversity(top, embeddings=embeddings)
        ),
        "novelty": lambda top: metrics.novelty(top, popularity),
        "popularity_bias": lambda top: metrics.popularity_bias(top, popularity),
    }  # fmt: skip
    if popularity.sum() == 0:  # no training event in the vocabulary: popularity is undefined
        properties["novelty"] = properties["popularity_bias"] = None
    for metric, fn in properties.items():
        if fn is None:
            continue
        result.by_k[metric] = {k: fn(lists[:, :k]) for k in ks}
        for k in ks:
            result.metrics[f"{metric}@{k}"] = result.by_k[metric][k]


def _summary(per_user: dict[str, np.ndarray], mask: np.ndarray | None = None) -> dict[str, float]:
    selected = slice(None) if mask is None else mask
    users = len(per_user["_users"][selected])
    summary: dict[str, float] = {"users": users}
    for metric in (*(f"{m}@{SLICE_K}" for m in _ACCURACY), "mrr"):
        values = per_user[metric][selected]
        summary[metric] = float(values.mean()) if users else float("nan")
    return summary


def _slices(
    result: EvaluationResult,
    ranks: np.ndarray,
    owner: np.ndarray,
    lengths: np.ndarray,
    tail: np.ndarray,
    new: np.ndarray,
) -> None:
    everyone = _per_user(ranks, owner, [SLICE_K])
    result.slices["cold_users"] = _summary(everyone, lengths <= _COLD_MAX_HISTORY)
    for label, targets in (("long_tail", tail), ("new_items", new)):
        result.slices[label] = _summary(_per_user(ranks[targets], owner[targets], [SLICE_K]))
    for label, low, high in HISTORY_BUCKETS:
        in_bucket = (lengths >= low) & (lengths <= high)
        if in_bucket.any():
            summary = _summary(everyone, in_bucket)
            row = {m: summary[m] for m in ("users", f"ndcg@{SLICE_K}", f"hr@{SLICE_K}")}
            result.by_history_length.append({"bucket": label, **row})


def _item_counts(model: Recommender, events: Interactions) -> np.ndarray:
    """Training events per item of the model's vocabulary, shape ``(n_items,)``."""
    items = events.frame["item_id"]
    codes = pd.Index(model.item_ids_).get_indexer(items[items != ""])
    return np.bincount(codes[codes >= 0], minlength=len(model.item_ids_)).astype(np.float64)


def _long_tail(popularity: np.ndarray) -> np.ndarray:
    """Items outside the head: the most popular items that make up 80% of training events."""
    order = np.lexsort((np.arange(len(popularity)), -popularity))  # ties: lower index first
    share = np.cumsum(popularity[order]) / max(popularity.sum(), 1.0)
    n_head = int(np.searchsorted(share, _HEAD_SHARE - 1e-12)) + 1 if popularity.sum() else 0
    tail = np.ones(len(popularity), dtype=bool)
    tail[order[:n_head]] = False
    return tail


def _leaf_codes(model: Recommender, catalog: Catalog | None) -> np.ndarray | None:
    """Leaf-category code per vocabulary item (``-1`` when unknown), or None without a catalog.

    A leaf is identified by its whole path, so "Phones > Cases" and "Tablets > Cases" differ.
    """
    if catalog is None:
        return None
    frame = catalog.frame
    by_item = pd.Series(frame["category"].to_numpy(), index=frame["item_id"].to_numpy())
    aligned = by_item.reindex(model.item_ids_).fillna("").to_numpy()
    codes, _ = pd.factorize(np.where(aligned == "", None, aligned), use_na_sentinel=True)
    return codes.astype(np.int64)
