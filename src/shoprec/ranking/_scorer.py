"""The second ranking stage: the scorer contract, scoring within a latency budget, fusion."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

__all__ = ["Scorer", "fuse_scores", "score_within_budget"]

logger = logging.getLogger(__name__)

_RANKER_CHUNK = 10


class Scorer(Protocol):
    """A second-stage pair scorer, e.g. :class:`~shoprec.ranking.OnnxCTRRanker`.

    ``decision_function`` scores ``n`` (user context, candidate text) pairs: ``(n,)`` float
    logits, higher is better. ``save(path)`` writes the scorer to a new directory and the
    class's ``load(path)`` reads it back; :func:`~shoprec.ranking.load_scorer` finds the class.
    """

    def decision_function(
        self, contexts: Sequence[str], candidates: Sequence[str]
    ) -> np.ndarray: ...

    def save(self, path: str | Path) -> Path: ...


def fuse_scores(model: np.ndarray, ranker: np.ndarray, weight: float = 1.0) -> np.ndarray:
    """``z(model) + weight * z(ranker)`` over one list, each standardised over the list.

    Candidates the ranker did not score (NaN) get its lowest standardised score, so they stay
    behind equally good ranked ones; with no ranker scores at all, the model's order is kept.
    """
    model = np.asarray(model, dtype=np.float64)
    ranker = np.asarray(ranker, dtype=np.float64)
    fused = _standardise(model)
    scored = np.isfinite(ranker)
    if scored.sum() > 1 and weight:
        z = np.full(len(ranker), 0.0)
        z[scored] = _standardise(ranker[scored])
        z[~scored] = z[scored].min()
        fused = fused + weight * z
    return fused


def _standardise(values: np.ndarray) -> np.ndarray:
    spread = values.std()
    return (values - values.mean()) / spread if spread > 0 else np.zeros_like(values)


def score_within_budget(
    ranker: Any, context: str, texts: list[str], budget_ms: float | None
) -> np.ndarray:
    """Ranker logits of ``texts`` in order, chunk by chunk, stopping before a chunk that would
    overrun ``budget_ms`` (estimated from the previous chunk); NaN where not scored."""
    out = np.full(len(texts), np.nan)
    start = time.perf_counter()
    last_ms = 0.0
    for lo in range(0, len(texts), _RANKER_CHUNK):
        elapsed = (time.perf_counter() - start) * 1000
        if budget_ms is not None and lo and elapsed + last_ms > budget_ms:
            logger.debug("ranker budget: scored %d of %d candidates", lo, len(texts))
            break
        chunk_start = time.perf_counter()
        chunk = texts[lo : lo + _RANKER_CHUNK]
        out[lo : lo + len(chunk)] = ranker.decision_function([context] * len(chunk), chunk)
        last_ms = (time.perf_counter() - chunk_start) * 1000
    return out
