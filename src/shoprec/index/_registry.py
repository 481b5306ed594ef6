"""Explicit registry: index name (as saved in an index directory) -> VectorIndex class."""

from __future__ import annotations

from pathlib import Path

from shoprec.exceptions import ArtifactError, ParameterError
from shoprec.index._base import VectorIndex, saved_index_manifest
from shoprec.index._exact import ExactIndex
from shoprec.index._faiss import HNSWIndex, IVFIndex

__all__ = ["INDEXES", "create_index", "load_index"]

INDEXES: dict[str, type[VectorIndex]] = {
    ExactIndex.name: ExactIndex,
    HNSWIndex.name: HNSWIndex,
    IVFIndex.name: IVFIndex,
}


def create_index(name: str, **params: object) -> VectorIndex:
    """A new, unbuilt index by registry name (``exact``, ``hnsw``, ``ivf``) with ``params``."""
    try:
        index_cls = INDEXES[name]
    except KeyError:
        raise ParameterError(f"unknown index {name!r}; choose from {sorted(INDEXES)}") from None
    return index_cls(**params)


def load_index(path: str | Path) -> VectorIndex:
    """Read an index directory written by :meth:`VectorIndex.save`, whatever its class."""
    path = Path(path)
    name = saved_index_manifest(path).get("index", "")
    try:
        index_cls = INDEXES[name]
    except KeyError:
        raise ArtifactError(f"{path}: unknown index {name!r}; known: {sorted(INDEXES)}") from None
    return index_cls.load(path)
