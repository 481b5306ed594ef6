"""Vector indexes behind one contract (:class:`VectorIndex`): exact numpy, faiss HNSW and IVF."""

from __future__ import annotations

from shoprec.index.base import VectorIndex
from shoprec.index.exact import ExactIndex
from shoprec.index.faiss_index import HNSWIndex, IVFIndex

__all__ = ["INDEXES", "ExactIndex", "HNSWIndex", "IVFIndex", "VectorIndex", "create_index"]

# Explicit registry: the name saved in an index directory -> its class.
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
        raise ValueError(f"unknown index {name!r}; choose from {sorted(INDEXES)}") from None
    return index_cls(**params)
