"""Candidate generation: merge the top items of several sources, remembering who proposed what."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from shoprec.pipeline._config import SOURCES
from shoprec.pipeline._sources import CANDIDATE_SOURCES
from shoprec.rerank import BusinessRules, ItemAttributes, keep_mask

__all__ = ["Candidates", "gather_candidates", "widened"]


@dataclass(frozen=True)
class Candidates:
    """One request's candidates over catalog rows.

    Attributes
    ----------
    rows
        Distinct catalog rows, in order of first proposal (sources in :data:`SOURCES` order).
    source_scores
        Source name -> ``{row: score}`` of the rows that source proposed.
    text
        Text similarity of the new rows to the user's interest, ``-inf`` elsewhere (``None``:
        no history).
    """

    rows: np.ndarray
    source_scores: dict[str, dict[int, float]]
    text: np.ndarray | None

    def sources_of(self, row: int) -> dict[str, float]:
        """The sources that proposed ``row`` and their scores."""
        return {name: s[row] for name, s in self.source_scores.items() if row in s}

    def text_scores(self, rows: np.ndarray) -> np.ndarray:
        """Text similarity to the user's interest (zeros without history)."""
        if self.text is None:
            return np.zeros(len(rows))
        return self.text[rows].astype(np.float64)


def gather_candidates(
    sizes: Mapping[str, int],
    history: np.ndarray,
    proposals: Mapping[str, np.ndarray],
    is_new: np.ndarray,
    text: np.ndarray | None,
) -> Candidates:
    """The union of every source's top items, history excluded, each source proposing by its
    rules in :data:`~shoprec.pipeline.CANDIDATE_SOURCES` (the model and sources that need a
    history propose nothing for a user without one; co-visitation only positive scores).

    Parameters
    ----------
    sizes
        Items per source (missing or 0: source off).
    history
        Catalog rows of the user's items.
    proposals
        Each source's scores over catalog rows (``-inf``: cannot propose), ``"model"`` among
        them (the ranking model's, also its cold-start scores for a user without history).
    is_new
        Rows without training events, proposed by the ``new`` source by model score where
        finite, else by ``text``.
    text
        Text similarity of the ``is_new`` rows to the user's interest (other rows are not
        read), or ``None``.
    """
    blocked = np.zeros(len(is_new), dtype=bool)
    blocked[history] = True
    model = proposals["model"]
    per_source: dict[str, np.ndarray | None] = {
        name: scores
        for name, scores in proposals.items()
        if len(history) or (name != "model" and not CANDIDATE_SOURCES[name].needs_history)
    }
    if is_new.any():
        new_scores = np.where(np.isfinite(model), model, -np.inf)
        if text is not None:
            new_scores = np.where(np.isfinite(new_scores), new_scores, text)
        per_source["new"] = np.where(is_new, new_scores, -np.inf)
    order: list[np.ndarray] = []
    source_scores: dict[str, dict[int, float]] = {}
    for name in SOURCES:
        scores, n = per_source.get(name), sizes.get(name, 0)
        if scores is None or n <= 0:
            continue
        if name in CANDIDATE_SOURCES and not CANDIDATE_SOURCES[name].per_user:
            # the same array for every request: rank once, drop the history
            ranked = _ranked_once(scores, n + len(history))
            rows = ranked[~blocked[ranked]][:n]
            source_scores[name] = {int(r): float(scores[r]) for r in rows}
            order.append(rows)
            continue
        usable = np.isfinite(scores) & ~blocked
        if name in CANDIDATE_SOURCES and CANDIDATE_SOURCES[name].positive_only:
            usable &= scores > 0
        rows = _top_rows(np.where(usable, scores, -np.inf), n)
        source_scores[name] = {int(r): float(scores[r]) for r in rows}
        order.append(rows)
    merged = np.concatenate(order) if order else np.empty(0, dtype=np.int64)
    _, first = np.unique(merged, return_index=True)
    return Candidates(merged[np.sort(first)], source_scores, text)


_RANKED: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # id(scores) -> (scores, best rows)


def _ranked_once(scores: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` best finite rows of a request-independent score array, computed once per array
    (a full-catalog selection per request costs milliseconds at a million items)."""
    cached = _RANKED.get(id(scores))
    if cached is None or cached[0] is not scores or len(cached[1]) < min(n, len(scores)):
        if len(_RANKED) > 16:  # arrays of replaced catalog views
            _RANKED.clear()
        cached = (scores, _top_rows(scores, max(2 * n, 256)))
        _RANKED[id(scores)] = cached
    return cached[1][:n]


def _top_rows(scores: np.ndarray, n: int) -> np.ndarray:
    """Rows of the ``n`` largest finite scores, best first, ties by row."""
    finite = np.flatnonzero(np.isfinite(scores))
    if len(finite) > n:
        part = np.argpartition(-scores[finite], n - 1)[:n]
        finite = finite[part]
    return finite[np.lexsort((finite, -scores[finite]))].astype(np.int64)


def widened(
    candidates: Candidates,
    attributes: ItemAttributes,
    rules: BusinessRules,
    scores: np.ndarray,
    *,
    need: int,
    source: str,
) -> Candidates:
    """``candidates`` plus the best-scored catalog rows that pass ``rules``, when fewer than
    ``need`` candidates pass them: a narrow filter (a price band, one brand) must not return a
    short list while matching items exist. The added rows count as proposed by ``source``.

    ``scores`` are the ranking scores over catalog rows (``-inf``: cannot rank).
    """
    passing = int(keep_mask(attributes, candidates.rows, rules).sum())
    if passing >= need:
        return candidates
    pool = np.setdiff1d(np.flatnonzero(np.isfinite(scores)), candidates.rows)
    pool = pool[keep_mask(attributes, pool, rules)]
    extra = pool[np.argsort(-scores[pool], kind="stable")[: need - passing]]
    if not len(extra):
        return candidates
    proposed = dict(candidates.source_scores)
    proposed[source] = {**proposed.get(source, {}), **{int(r): float(scores[r]) for r in extra}}
    return Candidates(np.concatenate([candidates.rows, extra]), proposed, candidates.text)
