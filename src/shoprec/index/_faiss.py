"""Approximate search with faiss: HNSW graphs and inverted files (IVF), inner product metric.

faiss is imported here only, and lazily, so ``shoprec.index`` stays importable (and fast to import)
without it. Graph search: Malkov and Yashunin, "Efficient and robust approximate nearest neighbor
search using Hierarchical Navigable Small World graphs", TPAMI 2018. Library: Douze et al.,
"The Faiss library", 2024.

Removal
-------
Item ids map to faiss labels through the slots of :class:`~shoprec.index._base.VectorIndex`
(label = slot). An HNSW graph cannot delete nodes, so removed and replaced items stay in the graph,
are filtered out during the search with an ``IDSelectorBitmap`` of the live slots and vanish when
the index compacts (rebuilds the graph) once dead nodes outnumber live ones. IVF lists do support
deletion: removed items are deleted from their lists at once (``remove_ids`` through a hash-table
direct map, which also serves ``reconstruct``); compaction only renumbers labels and never retrains.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from shoprec.exceptions import ArtifactError
from shoprec.index._base import VectorIndex

__all__ = ["HNSWIndex", "IVFIndex"]

logger = logging.getLogger(__name__)

_FAISS_FILE = "index.faiss"
_TRAIN_POINTS_PER_LIST = 64  # k-means sample per IVF list; faiss warns below 39


def _faiss() -> Any:
    import faiss

    return faiss


class _FaissIndex(VectorIndex):
    """Shared plumbing: the faiss index lives in ``index_`` with labels equal to slots."""

    # whether removed items stay inside the faiss index (masked) or are deleted from it
    _keeps_dead: ClassVar[bool] = True
    index_: Any

    def _expected_total(self) -> int:
        return self._n_slots if self._keeps_dead else len(self)

    def _add(self, vectors: np.ndarray, start: int) -> None:
        if self.index_.ntotal != self._expected_total():
            raise ArtifactError(
                f"{type(self).__name__}: faiss holds {self.index_.ntotal} vectors, "
                f"expected {self._expected_total()}"
            )
        self._add_labelled(vectors, np.arange(start, start + len(vectors), dtype=np.int64))

    def _add_labelled(self, vectors: np.ndarray, labels: np.ndarray) -> None:
        self.index_.add(vectors)

    def _reconstruct(self, slots: np.ndarray) -> np.ndarray:
        if len(slots) == 0:
            return np.empty((0, self.dim_), dtype=np.float32)
        return np.asarray(self.index_.reconstruct_batch(slots.astype(np.int64)), dtype=np.float32)

    def _run(self, queries: np.ndarray, k: int, params: Any) -> tuple[np.ndarray, np.ndarray]:
        scores, labels = self.index_.search(queries, k, params=params)
        labels = labels.astype(np.int64, copy=False)
        scores = np.where(labels < 0, -np.inf, scores).astype(np.float32, copy=False)
        return labels, scores

    def _save_backend(self, path: Path) -> None:
        _faiss().write_index(self.index_, str(path / _FAISS_FILE))

    def _load_backend(self, path: Path) -> None:
        try:
            index = _faiss().read_index(str(path / _FAISS_FILE))
        except RuntimeError as error:
            raise ArtifactError(f"{path}: cannot read {_FAISS_FILE}: {error}") from error
        expected = self._expected_total()
        if index.d != self.dim_ or index.ntotal != expected:
            raise ArtifactError(
                f"{path}: {_FAISS_FILE} holds {index.ntotal} vectors of dim {index.d}, "
                f"expected {expected} of dim {self.dim_}"
            )
        self.index_ = index
        self._configure()

    def _configure(self) -> None:
        """Apply run-time settings to a new or loaded faiss index."""


class HNSWIndex(_FaissIndex):
    """Hierarchical navigable small-world graph over the raw vectors (faiss ``IndexHNSWFlat``).

    Parameters
    ----------
    M
        Neighbours per node (32 is a good default for 100-1000-d embeddings); memory grows by
        about ``2 * M`` int32 per vector on top of the vectors.
    ef_construction
        Candidate list size while inserting; higher builds a better graph, more slowly.
    ef_search
        Candidate list size while searching (raised to ``k`` when smaller); the recall/latency
        knob. 128 gave recall@10 0.95 on 1M embedding-like 384-d vectors (benchmarks/index.py);
        smaller catalogs reach it with less.
    random_state
        Seed of the random node levels. faiss inserts with several threads, so graphs built in
        parallel can still differ slightly between runs.
    """

    name: ClassVar[str] = "hnsw"

    def __init__(
        self,
        *,
        M: int = 32,
        ef_construction: int = 200,
        ef_search: int = 128,
        random_state: int = 0,
    ) -> None:
        self.M = M
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.random_state = random_state

    def _build(self, vectors: np.ndarray) -> None:
        if self.M < 2 or self.ef_construction < 1 or self.ef_search < 1:
            raise ValueError(
                "HNSW needs M >= 2, ef_construction >= 1 and ef_search >= 1; got "
                f"M={self.M}, ef_construction={self.ef_construction}, ef_search={self.ef_search}"
            )
        faiss = _faiss()
        index = faiss.IndexHNSWFlat(vectors.shape[1], self.M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = self.ef_construction
        self.index_ = index
        self._configure()
        index.add(vectors)

    def _configure(self) -> None:
        self.index_.hnsw.efSearch = self.ef_search
        self.index_.hnsw.rng = _faiss().RandomGenerator(self.random_state)

    def _search(
        self, queries: np.ndarray, k: int, alive: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        faiss = _faiss()
        # search parameters replace the index's own efSearch, so pass it every time
        ef = max(self.ef_search, k)
        if alive is None:
            return self._run(queries, k, faiss.SearchParametersHNSW(efSearch=ef))
        # bit i set = slot i may be returned; the locals keep buffer and selector alive
        bits = np.packbits(alive, bitorder="little")
        selector = faiss.IDSelectorBitmap(len(bits), faiss.swig_ptr(bits))
        return self._run(queries, k, faiss.SearchParametersHNSW(efSearch=ef, sel=selector))


class IVFIndex(_FaissIndex):
    """Inverted file over k-means cells, exhaustive within the probed cells (``IndexIVFFlat``).

    Parameters
    ----------
    nlist
        Number of k-means cells; ``None`` picks ``round(sqrt(n))`` at build time. Capped at the
        number of vectors. The value used is ``nlist_``.
    nprobe
        Cells scanned per query: the recall/latency knob (``nprobe == nlist`` is exact).
    random_state
        Seed of the k-means training sample and initialisation.

    Notes
    -----
    The cells are learned at :meth:`build` by spherical k-means on at most 64 vectors per cell.
    Items added later go to the nearest existing cell; rebuild when the catalog drifts a lot.
    """

    name: ClassVar[str] = "ivf"
    _keeps_dead: ClassVar[bool] = False

    def __init__(
        self, *, nlist: int | None = None, nprobe: int = 16, random_state: int = 0
    ) -> None:
        self.nlist = nlist
        self.nprobe = nprobe
        self.random_state = random_state

    def _build(self, vectors: np.ndarray) -> None:
        n, dim = vectors.shape
        nlist = round(math.sqrt(n)) if self.nlist is None else self.nlist
        if nlist < 1 or self.nprobe < 1:
            raise ValueError(f"nlist and nprobe must be positive, got {nlist} and {self.nprobe}")
        nlist = min(nlist, n)
        faiss = _faiss()
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = self.random_state
        index.cp.spherical = True  # unit-norm centroids suit inner product search
        rng = np.random.default_rng(self.random_state)
        n_train = min(n, _TRAIN_POINTS_PER_LIST * nlist)
        sample = np.sort(rng.choice(n, size=n_train, replace=False))
        logger.info("training %d IVF cells on %d of %d vectors", nlist, n_train, n)
        index.train(vectors[sample])
        index.set_direct_map_type(faiss.DirectMap.Hashtable)
        index.add_with_ids(vectors, np.arange(n, dtype=np.int64))
        self.index_ = index
        self.nlist_ = nlist

    def _load_backend(self, path: Path) -> None:
        super()._load_backend(path)
        self.nlist_ = int(self.index_.nlist)

    def _add_labelled(self, vectors: np.ndarray, labels: np.ndarray) -> None:
        self.index_.add_with_ids(vectors, labels)

    def _remove(self, slots: np.ndarray) -> None:
        self.index_.remove_ids(slots.astype(np.int64))

    def _compact(self, keep: np.ndarray) -> None:
        vectors = self._reconstruct(keep)
        self.index_.reset()  # keeps the trained cells
        self.index_.add_with_ids(vectors, np.arange(len(keep), dtype=np.int64))

    def _search(
        self, queries: np.ndarray, k: int, alive: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        params = _faiss().SearchParametersIVF(nprobe=min(self.nprobe, self.nlist_))
        return self._run(queries, k, params)  # removed items are already gone from the lists
