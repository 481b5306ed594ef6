"""The Recommender contract shared by every model, and its directory persistence."""

from __future__ import annotations

import inspect
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

import numpy as np

from shoprec import __version__
from shoprec._artifacts import manifest_text
from shoprec._artifacts import reading as _reading
from shoprec.data import Catalog, EncodedInteractions, Interactions
from shoprec.exceptions import ArtifactError, NotFittedError, ParameterError

__all__ = ["Recommender", "VectorScoring", "saved_model_manifest", "top_k"]

logger = logging.getLogger(__name__)

_MANIFEST = "manifest.json"
_STATE = "state.safetensors"
_ITEMS = "items.json"
_FORMAT = "shoprec.recommender/1"


class Recommender(ABC):
    """Learns from interactions and ranks the item catalog for users.

    Contract
    --------
    - ``fit(interactions, catalog=None, *, validation=None) -> self``. The item vocabulary
      ``item_ids_`` is the catalog when given (items without events stay recommendable by
      models that can use that), otherwise the items seen. Each user's history (item indices,
      time order) is kept in ``histories_``.
    - ``score(histories) -> (n_users, n_items) float32``: batch-first; ``histories`` is a sequence
      of item-index arrays in time order. An empty history gives the model's cold-start scores.
    - ``recommend(users, k=...) -> (ids, scores)`` of shapes ``(n_users, k)``, object and float32,
      best first; items in a user's history are excluded unless ``exclude_seen=False``; unknown
      users are treated as cold. Rows with fewer than ``k`` eligible items are padded with ``""``
      and ``-inf``. ``recommend_user`` is the single-user wrapper.
    - ``save(path)`` writes a directory (JSON manifest + safetensors); ``load_recommender``
      reads it.
    - Capabilities, declared by class flags: with ``supports_event_context``,
      ``score_events(histories, event_types=..., timestamps=...)`` reads each history's event
      types and times as well (otherwise it is :meth:`score`); with ``supports_new_items``,
      ``add_items(catalog)`` makes items added after fitting recommendable without retraining
      (otherwise it raises :class:`~shoprec.exceptions.ParameterError`). ``uses_torch`` says
      whether scoring runs torch (the pipeline sizes its thread pool by it).

    Subclasses store hyper-parameters as given in a keyword-only ``__init__`` and implement
    ``_fit``, ``_score``, ``_get_state`` and ``_set_state``.
    """

    name: ClassVar[str]
    supports_event_context: ClassVar[bool] = False
    supports_new_items: ClassVar[bool] = False
    uses_torch: ClassVar[bool] = False

    # -- subclass hooks ---------------------------------------------------------------------------
    @abstractmethod
    def _fit(
        self,
        data: EncodedInteractions,
        catalog: Catalog | None,
        validation: EncodedInteractions | None,
    ) -> None:
        """Learn from encoded training events; ``validation`` (same item vocabulary, its own user
        vocabulary) holds next events for early stopping, when the model uses it."""

    @abstractmethod
    def _score(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        """Scores of every item for each history, shape ``(len(histories), n_items)``."""

    @abstractmethod
    def _get_state(self) -> dict[str, np.ndarray]:
        """Learned arrays to persist (numeric dtypes only)."""

    @abstractmethod
    def _set_state(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore learned arrays written by ``_get_state``."""

    # -- public API -------------------------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        """Hyper-parameters as given to ``__init__``."""
        signature = inspect.signature(type(self).__init__)
        return {p: getattr(self, p) for p in signature.parameters if p != "self"}

    def fit(
        self,
        interactions: Interactions,
        catalog: Catalog | None = None,
        *,
        validation: Interactions | None = None,
    ) -> Self:
        """Learn from ``interactions`` (and item text from ``catalog`` where the model uses it).

        ``validation`` holds events that follow the training events (e.g. ``Split.valid``);
        models with early stopping select their best epoch on it, others ignore it.
        """
        vocabulary = None if catalog is None else catalog.item_ids
        data = EncodedInteractions.encode(interactions, vocabulary)
        valid = (
            None if validation is None else EncodedInteractions.encode(validation, data.item_ids)
        )
        if len(data.items) == 0:
            raise ValueError("cannot fit on interactions without any item event")
        self.item_ids_ = data.item_ids
        self.item_index_ = {item: i for i, item in enumerate(data.item_ids)}
        self.histories_ = dict(zip(data.user_ids, data.sequences(), strict=True))
        logger.info("fitting %s on %d events, %d items", self.name, len(data.items), data.n_items)
        self._fit(data, catalog, valid)
        return self

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "item_ids_")

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() first")

    def encode_items(self, item_ids: Sequence[str]) -> np.ndarray:
        """Indices of known items, in order; unknown ids are dropped."""
        self._check_fitted()
        index = self.item_index_
        return np.array([index[i] for i in item_ids if i in index], dtype=np.int64)

    def score(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        """Scores over ``item_ids_`` for each item-index history; ``(n, n_items)`` float32."""
        self._check_fitted()
        scores = np.asarray(self._score([np.asarray(h, dtype=np.int64) for h in histories]))
        return scores.astype(np.float32, copy=False)

    def score_events(
        self,
        histories: Sequence[np.ndarray],
        *,
        event_types: Sequence[Sequence[str]] | None = None,
        timestamps: Sequence[np.ndarray] | None = None,
    ) -> np.ndarray:
        """:meth:`score` with each history's event types and timestamps (ms) as context; a model
        without ``supports_event_context`` ignores them."""
        return self.score(histories)

    def add_items(self, catalog: Catalog) -> None:
        """Make ``catalog``'s new items recommendable without retraining (models with
        ``supports_new_items``).

        Raises
        ------
        ParameterError
            The model cannot score items it was not fitted on.
        """
        raise ParameterError(f"{type(self).__name__} cannot add items after fitting; refit it")

    def recommend(
        self,
        users: Sequence[str],
        *,
        k: int = 10,
        exclude_seen: bool = True,
        histories: Mapping[str, Sequence[str]] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` items for each user; ``histories`` overrides the users' fitted histories."""
        self._check_fitted()
        empty = np.empty(0, dtype=np.int64)
        seqs = [
            self.encode_items(histories[u])
            if histories is not None and u in histories
            else self.histories_.get(u, empty)
            for u in users
        ]
        return self.recommend_histories(seqs, k=k, exclude_seen=exclude_seen)

    def recommend_histories(
        self, histories: Sequence[np.ndarray], *, k: int = 10, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` for each item-index history; see :meth:`recommend`."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        scores = self.score(histories)
        if exclude_seen:
            for row, history in enumerate(histories):
                scores[row, np.asarray(history, dtype=np.int64)] = -np.inf
        top, top_scores = top_k(scores, k)
        ids = np.where(np.isfinite(top_scores), self.item_ids_[top], "")
        return ids.astype(object), top_scores

    def recommend_user(
        self, user: str, *, k: int = 10, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Single-user form of :meth:`recommend`: shapes ``(k,)``."""
        ids, scores = self.recommend([user], k=k, exclude_seen=exclude_seen)
        return ids[0], scores[0]

    def forget_users(self, user_ids: Iterable[str]) -> list[str]:
        """Remove these users' training histories and any learned per-user state (a deletion
        request); returns the ones that were known. The item-side model is kept: it is not
        any one user's data."""
        self._check_fitted()
        wanted = set(user_ids)
        users = list(self.histories_)
        rows = np.array([i for i, user in enumerate(users) if user in wanted], dtype=np.int64)
        if len(rows):
            self._forget_user_rows(rows)
            for row in rows:
                del self.histories_[users[row]]
        return [users[row] for row in rows]

    def _forget_user_rows(self, rows: np.ndarray) -> None:
        """Drop learned per-user state at ``rows`` (positions in ``histories_``); default: none."""
        return None

    # -- persistence ------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the fitted model to directory ``path`` (created; existing files overwritten)."""
        from safetensors.numpy import save_file

        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        users = list(self.histories_)
        lengths = np.array([len(self.histories_[u]) for u in users], dtype=np.int64)
        state = {
            **self._get_state(),
            "_history_indptr": np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            "_history_items": (
                np.concatenate([self.histories_[u] for u in users]).astype(np.int64)
                if users
                else np.empty(0, dtype=np.int64)
            ),
        }
        save_file({k: np.ascontiguousarray(v) for k, v in state.items()}, str(path / _STATE))
        (path / _ITEMS).write_text(
            json.dumps({"item_ids": [str(i) for i in self.item_ids_], "user_ids": users})
        )
        manifest = {
            "format": _FORMAT,
            "model": self.name,
            "shoprec_version": __version__,
            "params": self.get_params(),
        }
        (path / _MANIFEST).write_text(manifest_text(manifest))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read a directory written by :meth:`save` of this class
        (:func:`~shoprec.models.load_recommender` reads a model of any class)."""
        from safetensors.numpy import load_file

        path = Path(path)
        manifest = saved_model_manifest(path)
        with _reading(path / _MANIFEST):
            if manifest.get("model") != cls.name:
                raise ArtifactError(f"model {manifest.get('model')!r} is not a {cls.__name__}")
            model = cls(**manifest["params"])
        with _reading(path / _ITEMS):
            vocab = json.loads((path / _ITEMS).read_text())
            model.item_ids_ = np.array([str(i) for i in vocab["item_ids"]], dtype=object)
            user_ids = [str(u) for u in vocab["user_ids"]]
        model.item_index_ = {item: i for i, item in enumerate(model.item_ids_)}
        with _reading(path / _STATE):
            state = load_file(str(path / _STATE))
            indptr, items = state.pop("_history_indptr"), state.pop("_history_items")
            if len(indptr) != len(user_ids) + 1 or (
                len(items) and items.max() >= len(model.item_ids_)
            ):
                raise ArtifactError("user histories do not fit items.json")
            model.histories_ = {u: items[indptr[i] : indptr[i + 1]] for i, u in enumerate(user_ids)}
            model._set_state(state)
        model._check_loaded(path)
        return model

    def _check_loaded(self, path: Path) -> None:
        """Score one history: learned arrays that do not fit ``items.json`` fail here."""
        n = len(self.item_ids_)
        try:
            shape = np.shape(self.score([np.zeros(min(n, 1), dtype=np.int64)]))
        except Exception as error:  # whatever a mismatched array raises, the artifact is at fault
            shape, cause = None, f"{type(error).__name__}: {error}"
        if shape != (1, n):
            cause = f"scores of shape {shape}" if shape is not None else cause
            raise ArtifactError(
                f"{path / _STATE} does not fit the {n} items of {path / _ITEMS} ({cause})"
            )


@runtime_checkable
class VectorScoring(Protocol):
    """A model whose scores are inner products of a user vector and an item vector, so its top
    items can be retrieved through a vector index instead of scoring the whole catalog.

    For a non-empty history ``h``: ``score([h])[0] == query_vectors([h])[0] @
    retrieval_vectors().T`` up to float32 rounding (biases are folded in as an extra
    dimension). Rows of empty histories are undefined (the model's cold start is not an inner
    product).
    """

    def retrieval_vectors(self) -> np.ndarray:
        """``(n_items, dim)`` float32 item vectors, in ``item_ids_`` order."""
        ...

    def query_vectors(
        self, histories: Sequence[np.ndarray], *, event_types: Sequence[Sequence[str]] | None = None
    ) -> np.ndarray:
        """``(len(histories), dim)`` float32 user vectors of item-index histories (with each
        history's event types where the model reads them)."""
        ...


def saved_model_manifest(path: Path) -> dict[str, Any]:
    """The manifest of the model directory ``path`` (which model saved it, its parameters)."""
    with _reading(path / _MANIFEST):
        manifest = json.loads((path / _MANIFEST).read_text())
        if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
            found = manifest.get("format") if isinstance(manifest, dict) else None
            raise ArtifactError(f"unknown model format {found!r}")
    return manifest


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``k`` largest scores per row, best first.

    ``scores`` has shape ``(n, m)``; returns two ``(n, min(k, m))`` arrays. Equal scores are
    ordered by index, also across the cut at ``k``, so results are deterministic.
    """
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    kth = np.take_along_axis(scores, part, axis=1).min(axis=1, keepdims=True)
    # argpartition picks arbitrarily among items tied with the k-th score: redo those rows
    for row in np.flatnonzero((scores >= kth).sum(axis=1) > k):
        above = np.flatnonzero(scores[row] > kth[row])
        tied = np.flatnonzero(scores[row] == kth[row])
        part[row] = np.concatenate([above, tied[: k - len(above)]])
    part_scores = np.take_along_axis(scores, part, axis=1)
    # lexsort: primary key descending score, secondary ascending index
    order = np.lexsort((part, -part_scores), axis=1)
    top = np.take_along_axis(part, order, axis=1)
    return top, np.take_along_axis(scores, top, axis=1)
