"""Candidates and their features for the learned ranking stage.

Candidates are the union of every source's top ``depth`` items (plus, with text, the items most
similar to the user's portrait vector and the best new items). Every candidate is then scored by
every source, whether or not that source proposed it: its raw score, its score relative to the
source's best for this user, and its rank among all items (capped at ``rank_cap``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from shoprec._runtime import single_blas_thread
from shoprec.models import Recommender
from shoprec.ranking._ltr_context import ItemContext

__all__ = ["CandidateBatch", "candidate_features", "feature_names"]

_RECENT = 5  # history items compared by text ("recent max cosine")
_ITEM = ["trend_7_30", "trend_30_all", "age_days", "since_last_days", "is_new", "log_price"]
_AFFINITY = ["category_affinity", "brand_affinity", "price_gap"]
_USER = ["history_length", "history_distinct", "seen_count", "seen_from_end"]
_TEXT = ["text_rank", "text_portrait_cos", "text_last_cos", "text_recent_max_cos"]


@dataclass(frozen=True)
class CandidateBatch:
    """Candidates of a batch of users, flat and grouped by user.

    Attributes
    ----------
    owner
        ``(n_pairs,)`` position of the pair's user in the batch, non-decreasing.
    items
        ``(n_pairs,)`` item index of each candidate.
    features
        ``(n_pairs, n_features)`` float32, columns named by :func:`feature_names`.
    """

    owner: np.ndarray
    items: np.ndarray
    features: np.ndarray


def feature_names(
    sources: Sequence[str], context: ItemContext, *, covisitation: bool, text: bool
) -> list[str]:
    """Column names of :func:`candidate_features` for these sources and this context."""
    names = [f"{s}_{part}" for s in sources for part in ("rank", "score", "rel")]
    names += ["covisitation_last"] if covisitation else []
    names += [*context.popularity_names, *_ITEM, *_AFFINITY, *_USER]
    return names + (_TEXT if text else [])


def candidate_features(
    sources: Mapping[str, Recommender],
    context: ItemContext,
    histories: Sequence[np.ndarray],
    *,
    depth: int,
    rank_cap: int,
    exclude_seen: bool,
    text: bool,
    covisitation: Recommender | None = None,
) -> CandidateBatch:
    """Candidates and features for each item-index history (time order).

    Parameters
    ----------
    sources
        Fitted recommenders on the context's vocabulary; each proposes its top ``depth``.
    context
        Item popularity, age, attributes and (with ``text``) unit text vectors.
    depth, rank_cap
        Items proposed per source; ranks beyond ``rank_cap`` are recorded as ``rank_cap + 1``.
    exclude_seen
        Leave the user's history out of the candidates (and of the ranks).
    text
        Add the language-model features and the text and new-item sources.
    covisitation
        A fitted co-visitation model, scored on the last history item alone.
    """
    histories = [np.asarray(h, dtype=np.int64) for h in histories]
    n_users, n_items = len(histories), context.n_items
    seen = np.zeros((n_users, n_items), dtype=np.float32)
    for row, history in enumerate(histories):
        np.add.at(seen[row], history, 1.0)
    blocked = seen > 0 if exclude_seen else np.zeros_like(seen, dtype=bool)
    proposed = np.zeros((n_users, n_items), dtype=bool)
    columns: list[np.ndarray] = []  # dense (n_users, n_items) per feature, gathered at the end
    for source in sources.values():
        scores = np.asarray(source.score(histories), dtype=np.float32)
        columns += _source_columns(scores, blocked, proposed, depth, rank_cap)
    if covisitation is not None:
        last = [h[-1:] for h in histories]
        columns.append(np.asarray(covisitation.score(last), dtype=np.float32))
    text_columns = (
        _text_source(context, histories, blocked, proposed, depth, rank_cap) if text else []
    )
    owner, items = np.nonzero(proposed)  # row-major: grouped by user
    gathered = [column[owner, items] for column in columns]
    gathered += _item_features(context, items)
    gathered += _affinities(context, histories, owner, items)
    gathered += _user_features(histories, seen, owner, items)
    gathered += [column[owner, items] for column in text_columns]
    gathered += _text_pairs(context, histories, owner, items) if text else []
    features = np.stack(gathered, axis=1).astype(np.float32)
    return CandidateBatch(
        owner=owner.astype(np.int64), items=items.astype(np.int64), features=features
    )


def _source_columns(
    scores: np.ndarray, blocked: np.ndarray, proposed: np.ndarray, depth: int, rank_cap: int
) -> list[np.ndarray]:
    """Rank, raw score and relative score of one source; marks its top ``depth`` as proposed."""
    scores = np.where(np.isfinite(scores), scores, np.float32(-1e30))
    eligible = np.where(blocked, np.float32(-1e30), scores)
    floor = eligible.min(axis=1, keepdims=True)
    ranks = _capped_ranks(eligible, rank_cap)
    ranks[eligible <= floor] = rank_cap + 1  # ties with the worst item say nothing
    proposed |= ranks <= depth
    best = eligible.max(axis=1, keepdims=True)
    # Relative to the user's best eligible item: comparable across re-fits and user scales.
    relative = np.where(best > 0, scores / np.where(best > 0, best, 1), scores - best)
    return [ranks, scores, relative.astype(np.float32)]


def _capped_ranks(scores: np.ndarray, cap: int) -> np.ndarray:
    """1-based rank of every item in its row (``cap + 1`` beyond ``cap``), ties by index."""
    n_users, n_items = scores.shape
    cap = min(cap, n_items)
    ranks = np.full(scores.shape, cap + 1, dtype=np.float32)
    top = np.argpartition(-scores, cap - 1, axis=1)[:, :cap] if cap < n_items else None
    if top is None:
        top = np.tile(np.arange(n_items), (n_users, 1))
    top_scores = np.take_along_axis(scores, top, axis=1)
    order = np.lexsort((top, -top_scores), axis=1)
    top = np.take_along_axis(top, order, axis=1)
    rows = np.repeat(np.arange(n_users), cap)
    ranks[rows, top.ravel()] = np.tile(np.arange(1, cap + 1, dtype=np.float32), n_users)
    return ranks


def _text_source(
    context: ItemContext,
    histories: list[np.ndarray],
    blocked: np.ndarray,
    proposed: np.ndarray,
    depth: int,
    rank_cap: int,
) -> list[np.ndarray]:
    """Rank and cosine of every item to the user's portrait vector (recency-weighted mean of
    the history's text vectors); proposes the top ``depth`` and the top ``depth`` new items."""
    vectors = _vectors(context)
    n_users = len(histories)
    portrait = np.zeros((n_users, vectors.shape[1]), dtype=np.float32)
    for row, history in enumerate(histories):
        if len(history):
            weights = 0.8 ** np.arange(len(history), dtype=np.float32)[::-1]  # recent count more
            portrait[row] = weights @ vectors[history]
    portrait /= np.maximum(np.linalg.norm(portrait, axis=1, keepdims=True), 1e-12)
    cosine = portrait @ vectors.T
    has_history = np.array([len(h) > 0 for h in histories])
    eligible = np.where(blocked | ~has_history[:, None], np.float32(-1e30), cosine)
    ranks = _capped_ranks(eligible, rank_cap)
    ranks[~has_history] = rank_cap + 1
    proposed |= ranks <= depth
    if context.is_new.any():
        new = np.where(context.is_new[None, :], eligible, np.float32(-1e30))
        proposed |= (_capped_ranks(new, depth) <= depth) & (new > -1e30)
    return [ranks, cosine]


def _text_pairs(
    context: ItemContext, histories: list[np.ndarray], owner: np.ndarray, items: np.ndarray
) -> list[np.ndarray]:
    """Cosine of each candidate to the user's last item and its best cosine to the last
    :data:`_RECENT` items (0 without history), computed for the pairs only."""
    vectors = _vectors(context)
    last = np.zeros(len(items), dtype=np.float32)
    best = np.zeros(len(items), dtype=np.float32)
    bounds = np.searchsorted(owner, np.arange(len(histories) + 1))  # owner is sorted
    with single_blas_thread():  # many small products: waking BLAS threads costs more
        _pair_cosines(vectors, histories, items, bounds, last, best)
    return [last, best]


def _pair_cosines(
    vectors: np.ndarray,
    histories: list[np.ndarray],
    items: np.ndarray,
    bounds: np.ndarray,
    last: np.ndarray,
    best: np.ndarray,
) -> None:
    for row, history in enumerate(histories):
        lo, hi = bounds[row], bounds[row + 1]
        if len(history) and hi > lo:
            similar = vectors[history[-_RECENT:]] @ vectors[items[lo:hi]].T  # (recent, pairs)
            last[lo:hi], best[lo:hi] = similar[-1], similar.max(axis=0)


def _vectors(context: ItemContext) -> np.ndarray:
    if context.embeddings is None:
        raise ValueError("text features need item embeddings in the context")
    return context.embeddings


def _item_features(context: ItemContext, items: np.ndarray) -> list[np.ndarray]:
    popularity = context.popularity[items]
    columns = [popularity[:, j] for j in range(popularity.shape[1])]
    eps = 1e-6
    if context.timed:  # columns: 1d, 7d, 30d, 90d, all
        trend_7_30 = (popularity[:, 1] + eps) / (popularity[:, 2] + eps)
        trend_30_all = (popularity[:, 2] + eps) / (popularity[:, -1] + eps)
    else:
        trend_7_30 = trend_30_all = np.full(len(items), np.nan)
    return [
        *columns,
        trend_7_30,
        trend_30_all,
        context.first_seen_days[items],
        context.last_seen_days[items],
        context.is_new[items].astype(np.float32),
        context.log_price[items],
    ]


def _affinities(
    context: ItemContext, histories: list[np.ndarray], owner: np.ndarray, items: np.ndarray
) -> list[np.ndarray]:
    """Share of the user's history in the candidate's category and brand; price distance."""
    lengths = np.array([max(len(h), 1) for h in histories], dtype=np.float32)
    columns = []
    for codes in (context.category, context.brand):
        shares = np.zeros(len(items), dtype=np.float32)
        n_codes = int(codes.max(initial=-1)) + 1
        if n_codes:
            counts = np.zeros((len(histories), n_codes + 1), dtype=np.float32)  # last: unknown
            for row, history in enumerate(histories):
                np.add.at(counts[row], codes[history], 1.0)
            counts[:, -1] = 0.0
            shares = counts[owner, codes[items]] / lengths[owner]
        columns.append(shares)
    mean_price = np.array(
        [np.nanmean(context.log_price[h]) if _any_price(context, h) else np.nan for h in histories],
        dtype=np.float32,
    )
    columns.append(np.abs(context.log_price[items] - mean_price[owner]))
    return columns


def _any_price(context: ItemContext, history: np.ndarray) -> bool:
    return bool(len(history)) and bool(np.isfinite(context.log_price[history]).any())


def _user_features(
    histories: list[np.ndarray], seen: np.ndarray, owner: np.ndarray, items: np.ndarray
) -> list[np.ndarray]:
    lengths = np.array([len(h) for h in histories], dtype=np.float32)
    distinct = np.array([len(np.unique(h)) for h in histories], dtype=np.float32)
    from_end = np.zeros(seen.shape, dtype=np.float32)  # 0: not seen; 1: the last item
    for row, history in enumerate(histories):
        # in time order, so that the most recent occurrence is written last and wins
        from_end[row, history] = np.arange(len(history), 0, -1, dtype=np.float32)
    return [
        lengths[owner],
        distinct[owner] / np.maximum(lengths[owner], 1.0),
        seen[owner, items],
        from_end[owner, items],
    ]
