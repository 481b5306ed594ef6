"""The VectorIndex contract: top-k inner-product search over item vectors, with upserts."""

from __future__ import annotations

import inspect
import itertools
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import numpy as np

from shoprec import __version__
from shoprec.exceptions import ArtifactError, NotFittedError, ValidationError

__all__ = ["VectorIndex", "saved_index_manifest"]

logger = logging.getLogger(__name__)

_MANIFEST = "manifest.json"
_SLOTS = "slots.npz"
_FORMAT = "shoprec.vector_index/1"
# Dead slots are compacted away once they outnumber the live ones (and this floor): amortised O(1).
_COMPACT_MIN_DEAD = 1024
_CHECK_ROWS = 65_536  # rows per finiteness check: bounds the temporary boolean array


class VectorIndex(ABC):
    """Top-``k`` maximum inner product search over a catalog of item vectors.

    Contract
    --------
    - Items are ``ids`` (non-empty ``str``, unique, shape ``(n,)``) with ``vectors`` of shape
      ``(n, dim)``, cast to float32. The metric is ``"ip"``, the inner product; normalise the
      vectors (and queries) to unit length for cosine similarity. The index does not normalise.
    - Hyper-parameters are keyword-only in ``__init__`` and stored as given, with no work or
      validation there (scikit-learn style). ``build(ids, vectors) -> self`` learns the state;
      learned attributes end in ``_`` (``dim_``). Using the index before ``build`` raises
      :class:`~shoprec.exceptions.NotFittedError`.
    - ``search(queries, *, k, exclude=None) -> (ids, scores)``: batch-first; ``queries`` has shape
      ``(m, dim)``; returns arrays of shape ``(m, k)``, ``object`` ids and ``float32`` scores, best
      first. Rows with fewer than ``k`` results are padded with ``""`` and ``-inf``. ``exclude``
      holds one collection of ids per query to leave out of that query's results (the index
      over-fetches, then filters); unknown ids in it are ignored. ``search_one`` is the
      single-query wrapper, shapes ``(k,)``.
    - ``add(ids, vectors)`` inserts items; an id already present has its vector replaced (upsert).
      ``remove(ids)`` deletes items. ``len(index)`` is the number of live items, ``ids`` lists them.
    - ``save(path)`` writes a directory (JSON manifest, ``.npz`` arrays and the backend's own
      files, never pickle); ``load_index(path)`` returns an instance of the saved class.
    - Malformed input (wrong shapes or dimension, NaN or infinite values, duplicate or empty ids)
      raises :class:`~shoprec.exceptions.ValidationError` naming the field and row.
    - Searches may run concurrently with each other, not with ``add``/``remove``/``build``.

    Implementation
    --------------
    Each item lives in an integer *slot* (row order of insertion). ``remove`` and upserts mark a
    slot dead; the backend either masks dead slots at search time or deletes them physically.
    Once dead slots outnumber live ones, :meth:`compact` renumbers the live slots and rebuilds the
    backend. Subclasses implement ``_build``, ``_add``, ``_search``, ``_reconstruct``,
    ``_save_backend`` and ``_load_backend`` (and may override ``_remove`` and ``_compact``).
    """

    name: ClassVar[str]
    metric: ClassVar[str] = "ip"
    dim_: int
    # slot bookkeeping: id per slot and live mask (both with spare capacity), live id -> slot
    _slot_ids: np.ndarray
    _alive: np.ndarray
    _n_slots: int
    _slot_of: dict[str, int]

    # -- subclass hooks ---------------------------------------------------------------------------
    @abstractmethod
    def _build(self, vectors: np.ndarray) -> None:
        """Create the backend holding ``vectors`` (float32, C order) in slots ``0..n-1``."""

    @abstractmethod
    def _add(self, vectors: np.ndarray, start: int) -> None:
        """Append ``vectors`` as slots ``start, start + 1, ...``."""

    def _remove(self, slots: np.ndarray) -> None:  # noqa: B027 - optional hook
        """Backend-side removal of ``slots``; by default dead slots are only masked at search."""

    @abstractmethod
    def _search(
        self, queries: np.ndarray, k: int, alive: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best slots per query, ``(m, k)`` int64 (``-1`` where none) and float32 scores.

        ``alive`` is the boolean live mask over all slots when some are dead, else ``None``; dead
        slots must never be returned.
        """

    @abstractmethod
    def _reconstruct(self, slots: np.ndarray) -> np.ndarray:
        """The stored vectors of ``slots``, shape ``(len(slots), dim)`` float32."""

    def _compact(self, keep: np.ndarray) -> None:
        """Renumber the backend so that slot ``keep[i]`` becomes ``i``; default: rebuild."""
        self._build(self._reconstruct(keep))

    @abstractmethod
    def _save_backend(self, path: Path) -> None:
        """Write the backend's files into directory ``path``."""

    @abstractmethod
    def _load_backend(self, path: Path) -> None:
        """Read the files written by :meth:`_save_backend`; slots are already restored."""

    # -- building and updating --------------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        """Hyper-parameters as given to ``__init__``."""
        signature = inspect.signature(type(self).__init__)
        return {p: getattr(self, p) for p in signature.parameters if p != "self"}

    def __repr__(self) -> str:
        params = ", ".join(f"{key}={value!r}" for key, value in self.get_params().items())
        return f"{type(self).__name__}({params})"

    @property
    def is_built(self) -> bool:
        """Whether :meth:`build` (or :meth:`load`) has given the index its state."""
        return hasattr(self, "dim_")

    def build(self, ids: Sequence[str] | np.ndarray, vectors: np.ndarray) -> Self:
        """Index ``vectors`` (shape ``(n, dim)``) under ``ids``, replacing any previous content."""
        id_list, matrix = _check_items(ids, vectors, dim=None)
        if not id_list:
            raise ValidationError("cannot build an index from zero vectors", field="vectors")
        logger.info("building %s over %d vectors of dim %d", self.name, *matrix.shape)
        self._build(matrix)
        self.dim_ = int(matrix.shape[1])
        self._set_slots(np.array(id_list, dtype=object), np.ones(len(id_list), dtype=bool))
        return self

    def add(self, ids: Sequence[str] | np.ndarray, vectors: np.ndarray) -> Self:
        """Insert items; an id already in the index has its vector replaced."""
        self._check_built()
        id_list, matrix = _check_items(ids, vectors, dim=self.dim_)
        if not id_list:
            return self
        start = self._n_slots
        self._add(matrix, start)
        replaced = [self._slot_of[i] for i in id_list if i in self._slot_of]
        end = start + len(id_list)
        self._slot_ids = _grow(self._slot_ids, end)
        self._alive = _grow(self._alive, end)
        self._slot_ids[start:end] = id_list
        self._alive[start:end] = True
        self._n_slots = end
        self._slot_of.update(zip(id_list, range(start, end), strict=True))
        if replaced:
            self._kill(np.array(replaced, dtype=np.int64))
        return self

    def remove(self, ids: Iterable[str], *, missing: Literal["raise", "ignore"] = "raise") -> Self:
        """Delete items by id; unknown ids raise ValidationError unless ``missing="ignore"``."""
        self._check_built()
        wanted = list(dict.fromkeys(_reject_str(ids, "ids")))
        unknown = [i for i in wanted if i not in self._slot_of]
        if unknown and missing == "raise":
            raise ValidationError(
                f"{len(unknown)} id(s) to remove are not in the index, e.g. {unknown[:3]!r}",
                field="ids",
            )
        slots = [self._slot_of.pop(i) for i in wanted if i in self._slot_of]
        if slots:
            self._kill(np.array(slots, dtype=np.int64))
        return self

    def compact(self) -> Self:
        """Drop dead slots now and renumber the live ones (done automatically when worthwhile)."""
        self._check_built()
        alive = self._alive[: self._n_slots]
        if alive.all():
            return self
        keep = np.flatnonzero(alive)
        logger.info("compacting %s: %d live of %d slots", self.name, len(keep), self._n_slots)
        self._compact(keep)
        self._set_slots(self._slot_ids[keep], np.ones(len(keep), dtype=bool))
        return self

    def __len__(self) -> int:
        return len(self._slot_of) if self.is_built else 0

    def __contains__(self, item_id: object) -> bool:
        return self.is_built and item_id in self._slot_of

    @property
    def ids(self) -> np.ndarray:
        """The live ids, shape ``(len(self),)`` object, in slot (insertion) order."""
        self._check_built()
        n = self._n_slots
        return self._slot_ids[:n][self._alive[:n]]

    def vectors(self, ids: Sequence[str]) -> np.ndarray:
        """The stored vectors of ``ids``, shape ``(len(ids), dim)`` float32, in the given order.

        Raises
        ------
        ValidationError
            If an id is not in the index.
        """
        self._check_built()
        unknown = [i for i in ids if i not in self._slot_of]
        if unknown:
            raise ValidationError(f"unknown id(s) {unknown[:5]}", field="ids")
        slots = np.fromiter((self._slot_of[i] for i in ids), dtype=np.int64, count=len(ids))
        return self._reconstruct(slots)

    # -- search -----------------------------------------------------------------------------------
    def search(
        self,
        queries: np.ndarray,
        *,
        k: int,
        exclude: Sequence[Collection[str]] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` items with the largest inner product for each query; see the class contract.

        Parameters
        ----------
        queries
            Shape ``(m, dim)``.
        k
            Results per query; rows are padded with ``""`` / ``-inf`` past the available items.
        exclude
            Optional, one collection of ids per query that must not be returned for that query.

        Returns
        -------
        ids, scores
            Shapes ``(m, k)``: ``object`` ids and ``float32`` scores, best first.
        """
        self._check_built()
        matrix = _check_matrix(queries, field="queries", dim=self.dim_)
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise ValidationError(f"k must be a positive integer, got {k!r}", field="k")
        k = int(k)
        excluded = self._excluded_slots(exclude, len(matrix))
        if len(matrix) == 0 or len(self) == 0:
            slots = np.full((len(matrix), 0), -1, dtype=np.int64)
            return self._assemble(slots, slots.astype(np.float32), excluded, k)
        extra = max((len(s) for s in excluded), default=0) if excluded is not None else 0
        alive = None if len(self) == self._n_slots else self._alive[: self._n_slots]
        slots, scores = self._search(matrix, min(k + extra, len(self)), alive)
        return self._assemble(slots, scores, excluded, k)

    def search_one(
        self, query: np.ndarray, *, k: int, exclude: Collection[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Single-query form of :meth:`search`: ``query`` of shape ``(dim,)``, results ``(k,)``."""
        self._check_built()
        vector = np.asarray(query)
        if vector.ndim != 1:
            raise ValidationError(
                f"query must have shape (dim,), got {vector.shape}", field="queries"
            )
        ids, scores = self.search(
            vector[None, :], k=k, exclude=None if exclude is None else [exclude]
        )
        return ids[0], scores[0]

    # -- persistence ------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the index to directory ``path`` (created; existing files overwritten)."""
        self._check_built()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        n = self._n_slots
        encoded = [str(i).encode("utf-8") for i in self._slot_ids[:n]]
        offsets = np.concatenate([[0], np.cumsum([len(e) for e in encoded])]).astype(np.int64)
        np.savez(
            path / _SLOTS,
            id_bytes=np.frombuffer(b"".join(encoded), dtype=np.uint8),
            id_offsets=offsets,
            alive=self._alive[:n],
        )
        self._save_backend(path)
        manifest = {
            "format": _FORMAT,
            "index": self.name,
            "shoprec_version": __version__,
            "metric": self.metric,
            "dim": self.dim_,
            "size": len(self),
            "params": self.get_params(),
        }
        (path / _MANIFEST).write_text(json.dumps(manifest, indent=2))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read a directory written by :meth:`save` of this class (:func:`~shoprec.index.load_index`
        reads an index of any class)."""
        path = Path(path)
        manifest = saved_index_manifest(path)
        if manifest.get("index") != cls.name:
            raise ArtifactError(f"{path}: index {manifest.get('index')!r} is not a {cls.__name__}")
        try:
            with np.load(path / _SLOTS, allow_pickle=False) as arrays:
                id_bytes = arrays["id_bytes"].tobytes()
                offsets, alive = arrays["id_offsets"], arrays["alive"].astype(bool)
            slot_ids = np.array(
                [id_bytes[a:b].decode("utf-8") for a, b in itertools.pairwise(offsets)],
                dtype=object,
            )
        except (OSError, ValueError, KeyError) as error:
            raise ArtifactError(f"{path} is not a readable vector index: {error}") from error
        if len(slot_ids) != len(alive):
            raise ArtifactError(f"{path}: {len(slot_ids)} ids for {len(alive)} slots")
        try:
            index = cls(**manifest["params"])
            index.dim_ = int(manifest["dim"])
        except (KeyError, TypeError, ValueError) as error:
            raise ArtifactError(f"{path}: bad manifest: {error!r}") from error
        index._set_slots(slot_ids, alive)
        index._load_backend(path)
        return index

    # -- internals --------------------------------------------------------------------------------
    def _assemble(
        self, slots: np.ndarray, scores: np.ndarray, excluded: list[set[int]] | None, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Backend results to the ``(m, k)`` ids and scores: exclusions dropped, rows padded."""
        valid = slots >= 0
        for row, banned in enumerate(excluded or ()):
            if banned:
                valid[row] &= ~np.isin(slots[row], np.fromiter(banned, dtype=np.int64))
        # a stable sort of the flags moves the kept results to the front, still in score order
        order = np.argsort(~valid, axis=1, kind="stable")[:, :k]
        slots = np.take_along_axis(slots, order, axis=1)
        kept = np.take_along_axis(valid, order, axis=1)
        ids = np.full((len(slots), k), "", dtype=object)
        top = np.full((len(slots), k), -np.inf, dtype=np.float32)
        width = slots.shape[1]
        ids[:, :width] = np.where(kept, self._slot_ids[np.where(kept, slots, 0)], "")
        top[:, :width] = np.where(kept, np.take_along_axis(scores, order, axis=1), -np.inf)
        return ids, top

    def _check_built(self) -> None:
        if not self.is_built:
            raise NotFittedError(f"{type(self).__name__} is not built; call build() first")

    def _set_slots(self, slot_ids: np.ndarray, alive: np.ndarray) -> None:
        self._slot_ids = slot_ids
        self._alive = alive
        self._n_slots = len(slot_ids)
        self._slot_of = {slot_ids[s]: int(s) for s in np.flatnonzero(alive)}

    def _kill(self, slots: np.ndarray) -> None:
        self._alive[slots] = False
        self._remove(slots)
        dead = self._n_slots - len(self)
        if dead > max(len(self), _COMPACT_MIN_DEAD):
            self.compact()

    def _excluded_slots(
        self, exclude: Sequence[Collection[str]] | None, n_queries: int
    ) -> list[set[int]] | None:
        if exclude is None:
            return None
        groups = list(_reject_str(exclude, "exclude"))
        if len(groups) != n_queries:
            raise ValidationError(
                f"exclude must hold one collection of ids per query: got {len(groups)} for "
                f"{n_queries} queries",
                field="exclude",
            )
        slot_of = self._slot_of
        return [
            {slot_of[i] for i in _reject_str(group, "exclude") if i in slot_of} for group in groups
        ]


def _reject_str(values: Iterable[Any], field: str) -> Iterable[Any]:
    """``values`` unchanged, unless it is a lone string (a classic mistake for a collection)."""
    if isinstance(values, str | bytes):
        raise ValidationError(f"{field} must be a collection of ids, not a string", field=field)
    return values


def _check_matrix(values: Any, *, field: str, dim: int | None) -> np.ndarray:
    """``values`` as a finite float32 C-order ``(n, dim)`` matrix, or a ValidationError."""
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise ValidationError(f"{field} must be numeric, got dtype {array.dtype}", field=field)
    if array.ndim != 2 or array.shape[1] == 0:
        raise ValidationError(f"{field} must have shape (n, dim), got {array.shape}", field=field)
    if dim is not None and array.shape[1] != dim:
        raise ValidationError(
            f"{field} have dimension {array.shape[1]}, the index has {dim}", field=field
        )
    array = np.ascontiguousarray(array, dtype=np.float32)
    for start in range(0, len(array), _CHECK_ROWS):
        finite = np.isfinite(array[start : start + _CHECK_ROWS]).all(axis=1)
        if not finite.all():
            row = start + int(np.argmin(finite)) + 1
            raise ValidationError(f"{field} contain NaN or infinite values", row=row, field=field)
    return array


def _check_items(ids: Any, vectors: Any, *, dim: int | None) -> tuple[list[str], np.ndarray]:
    """Validated ids (plain ``str``) and their float32 vectors."""
    id_list = list(_reject_str(ids, "ids"))
    for row, item_id in enumerate(id_list, start=1):
        if not isinstance(item_id, str) or not item_id:
            raise ValidationError(
                f"ids must be non-empty strings, got {item_id!r}", row=row, field="ids"
            )
    id_list = [str(i) for i in id_list]  # numpy str_ -> str
    if len(set(id_list)) != len(id_list):
        seen: set[str] = set()
        for row, item_id in enumerate(id_list, start=1):
            if item_id in seen:
                raise ValidationError(f"duplicate id {item_id!r}", row=row, field="ids")
            seen.add(item_id)
    matrix = _check_matrix(vectors, field="vectors", dim=dim)
    if len(matrix) != len(id_list):
        raise ValidationError(f"{len(id_list)} ids but {len(matrix)} vectors", field="vectors")
    return id_list, matrix


def _grow(buffer: np.ndarray, size: int) -> np.ndarray:
    """``buffer`` with room for ``size`` rows: reallocated geometrically, so appends are O(1)."""
    if len(buffer) >= size:
        return buffer
    grown = np.empty((max(size, len(buffer) * 3 // 2), *buffer.shape[1:]), dtype=buffer.dtype)
    grown[: len(buffer)] = buffer
    return grown


def saved_index_manifest(path: Path) -> dict[str, Any]:
    """The manifest of the index directory ``path`` (which class saved it, its parameters)."""
    try:
        manifest = json.loads((path / _MANIFEST).read_text())
    except (OSError, ValueError) as error:
        raise ArtifactError(f"{path} is not a readable vector index: {error}") from error
    if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise ArtifactError(f"{path}: unknown index format {found!r}")
    return manifest
