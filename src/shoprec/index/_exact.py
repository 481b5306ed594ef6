"""Exact top-k inner product search in numpy: the reference for every approximate index."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from shoprec.exceptions import ArtifactError
from shoprec.index._base import VectorIndex, _grow

__all__ = ["ExactIndex"]

_VECTORS = "vectors.npy"
_QUERY_BLOCK = 256  # queries scored together; the catalog chunk adapts to fit ``block_size``


class ExactIndex(VectorIndex):
    """Brute-force search: every query is scored against every live vector.

    Scores are computed block by block (at most ``block_size`` query-item scores in memory at
    once), keeping a running top-``k`` per query with ``argpartition``, so memory stays bounded
    for any catalog size. Removed items are masked out; their rows are dropped at compaction.

    Parameters
    ----------
    block_size
        Maximum number of query-item scores held at once; the default, 2**24, is 64 MiB of
        float32 scores (plus their int64 positions during selection).
    """

    name: ClassVar[str] = "exact"

    def __init__(self, *, block_size: int = 1 << 24) -> None:
        self.block_size = block_size

    def _build(self, vectors: np.ndarray) -> None:
        if self.block_size < 1:
            raise ValueError(f"block_size must be positive, got {self.block_size}")
        self._vectors = vectors.copy()  # the caller's array may change after build

    def _add(self, vectors: np.ndarray, start: int) -> None:
        self._vectors = _grow(self._vectors, start + len(vectors))
        self._vectors[start : start + len(vectors)] = vectors

    def _compact(self, keep: np.ndarray) -> None:
        self._vectors = self._vectors[keep]

    def _reconstruct(self, slots: np.ndarray) -> np.ndarray:
        return self._vectors[slots]

    def _search(
        self, queries: np.ndarray, k: int, alive: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        n_slots = self._n_slots
        vectors = self._vectors[:n_slots]
        query_block = min(len(queries), _QUERY_BLOCK)
        chunk = max(k, self.block_size // query_block)
        all_slots = np.empty((len(queries), k), dtype=np.int64)
        all_scores = np.empty((len(queries), k), dtype=np.float32)
        for q0 in range(0, len(queries), query_block):
            block = queries[q0 : q0 + query_block]
            best_slots = np.full((len(block), k), -1, dtype=np.int64)
            best_scores = np.full((len(block), k), -np.inf, dtype=np.float32)
            for c0 in range(0, n_slots, chunk):
                scores = block @ vectors[c0 : c0 + chunk].T  # (q, c)
                if alive is not None:
                    scores[:, ~alive[c0 : c0 + chunk]] = -np.inf
                slots, scores = _top_k(scores, k)
                best_slots, best_scores = _top_k(
                    np.concatenate([best_scores, scores], axis=1),
                    k,
                    np.concatenate([best_slots, slots + c0], axis=1),
                )
            order = np.lexsort((best_slots, -best_scores), axis=1)  # ties: lower slot first
            best_slots = np.take_along_axis(best_slots, order, axis=1)
            best_scores = np.take_along_axis(best_scores, order, axis=1)
            all_slots[q0 : q0 + len(block)] = np.where(np.isneginf(best_scores), -1, best_slots)
            all_scores[q0 : q0 + len(block)] = best_scores
        return all_slots, all_scores

    def _save_backend(self, path: Path) -> None:
        np.save(path / _VECTORS, self._vectors[: self._n_slots])

    def _load_backend(self, path: Path) -> None:
        try:
            vectors = np.load(path / _VECTORS, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise ArtifactError(f"{path}: cannot read {_VECTORS}: {error}") from error
        if vectors.shape != (self._n_slots, self.dim_) or vectors.dtype != np.float32:
            raise ArtifactError(
                f"{path}: {_VECTORS} has shape {vectors.shape} {vectors.dtype}, expected "
                f"({self._n_slots}, {self.dim_}) float32"
            )
        self._vectors = vectors


def _top_k(
    scores: np.ndarray, k: int, slots: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best columns per row (unordered): their slots (default: column numbers), scores."""
    width = scores.shape[1]
    if width <= k:
        columns = np.broadcast_to(np.arange(width), scores.shape)
        return (columns if slots is None else slots), scores
    # argpartition on the scores themselves (best at the end) avoids a negated copy
    part = np.argpartition(scores, width - k, axis=1)[:, width - k :]
    top = part if slots is None else np.take_along_axis(slots, part, axis=1)
    return top, np.take_along_axis(scores, part, axis=1)
