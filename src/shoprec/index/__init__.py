"""Vector indexes behind one contract (:class:`VectorIndex`): exact numpy, faiss HNSW and IVF;
semantic (and personalised) search on top."""

from __future__ import annotations

from shoprec.index._base import VectorIndex
from shoprec.index._exact import ExactIndex
from shoprec.index._faiss import HNSWIndex, IVFIndex
from shoprec.index._registry import INDEXES, create_index, load_index
from shoprec.index._search import SemanticSearch

__all__ = [
    "INDEXES",
    "ExactIndex",
    "HNSWIndex",
    "IVFIndex",
    "SemanticSearch",
    "VectorIndex",
    "create_index",
    "load_index",
]
