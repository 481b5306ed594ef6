"""The shared core of the sequential recommenders (SASRec, TextSequence).

One fit loop for both: learn the event context, cut the training windows, build the network,
optionally start it from another fitted model of the same kind (``warm_start``, with a choice of
what trains), and train it with :func:`shoprec.nn.fit_model`, early-stopped on the validation
users' next item. Subclasses supply the network, its loss and its scoring.
"""

from __future__ import annotations

import contextlib
import json
import logging
from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np

from shoprec._runtime import torch_threads
from shoprec.data import (
    MIN_EPOCH_MS,
    Catalog,
    EncodedInteractions,
    Example,
    Interactions,
    SequenceContext,
)
from shoprec.exceptions import NotFittedError, ParameterError
from shoprec.models._base import Recommender

if TYPE_CHECKING:  # torch is imported lazily so that `import shoprec.models` stays light
    import torch

    from shoprec.nn import EpochRecord, NextItemValidation, TrainHistory

__all__ = ["SequentialRecommender"]

logger = logging.getLogger(__name__)

_META = "_meta"  # the JSON side of the saved state, stored as uint8 bytes


class SequentialRecommender(Recommender):
    """A transformer over each user's item sequence, trained on next-item prediction.

    Subclasses set their hyper-parameters in ``__init__`` (among them ``max_len``, ``lr``,
    ``weight_decay``, ``batch_size``, ``max_epochs``, ``patience``, ``random_state``,
    ``progress`` and ``num_threads``) and implement :meth:`_prepare`, :meth:`_build_network`,
    :meth:`_loss` and :meth:`_score_histories`.

    ``fit(..., warm_start=model)`` starts from another fitted model of the same class (its
    network weights copied where they fit this model's items, by item id) and trains what
    ``trainable`` names: ``"full"`` (everything), ``"none"`` (nothing: the copied weights as
    they are) or a subclass's own modes (see :attr:`TRAINABLE`).
    """

    TRAINABLE: ClassVar[tuple[str, ...]] = ("full", "none")
    supports_event_context: ClassVar[bool] = True
    uses_torch: ClassVar[bool] = True

    max_len: int
    lr: float
    weight_decay: float
    batch_size: int
    max_epochs: int
    patience: int
    random_state: int
    progress: bool
    num_threads: int | None

    # -- subclass hooks -------------------------------------------------------------------------
    def _prepare(self, data: EncodedInteractions, catalog: Catalog | None) -> None:
        """Learn what the network is built from (e.g. item text); nothing by default."""

    @abstractmethod
    def _build_network(self, data: EncodedInteractions) -> torch.nn.Module:
        """A freshly initialised network for ``data``'s items."""

    @abstractmethod
    def _loss(self, network: Any, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Training loss of one collated batch of :data:`~shoprec.data.Example` windows."""

    @abstractmethod
    def _score_histories(
        self,
        network: Any,
        histories: Sequence[np.ndarray],
        kinds: Sequence[np.ndarray] | None = None,
        gaps: Sequence[np.ndarray | None] | None = None,
    ) -> np.ndarray:
        """``(len(histories), n_items)`` scores of ``network`` for item-index histories."""

    def _copy_network(self, network: Any, source: SequentialRecommender) -> None:
        """Load ``source``'s weights into ``network``: every tensor of the same shape."""
        import torch

        own = network.state_dict()
        with torch.no_grad():
            for name, value in source.network_.state_dict().items():
                if name in own and own[name].shape == value.shape:
                    own[name].copy_(value)

    def _trains(self, parameter: str, trainable: str) -> bool:
        """Whether ``parameter`` trains under ``trainable`` (``"full"``: all of them)."""
        return trainable == "full"

    def _epoch_callbacks(self) -> list[Callable[[EpochRecord], None]]:
        """Called after each training epoch; none by default."""
        return []

    def _examples(self, data: EncodedInteractions) -> list[Example]:
        return self.context_.windows(data, self.max_len)

    # -- fitting ----------------------------------------------------------------------------------
    def fit(
        self,
        interactions: Interactions,
        catalog: Catalog | None = None,
        *,
        validation: Interactions | None = None,
        warm_start: SequentialRecommender | None = None,
        trainable: str = "full",
    ) -> Self:
        """Learn from ``interactions`` (see :meth:`Recommender.fit`), optionally starting from
        ``warm_start`` and training only what ``trainable`` names.

        Raises
        ------
        ParameterError
            ``trainable`` unknown for this model, or not ``"full"`` without a warm start.
        NotFittedError
            ``warm_start`` is not fitted.
        """
        if trainable not in self.TRAINABLE:
            raise ParameterError(f"trainable must be one of {self.TRAINABLE}, got {trainable!r}")
        if warm_start is None and trainable != "full":
            raise ParameterError(f"trainable={trainable!r} needs a warm_start model")
        if warm_start is not None and not warm_start.is_fitted:
            raise NotFittedError(f"warm_start {type(warm_start).__name__} is not fitted")
        self._warm = (warm_start, trainable)
        try:
            events = (interactions.frame["item_id"] != "").any()
            if (
                warm_start is not None
                and trainable == "none"
                and catalog is not None
                and not events
            ):
                return self._fit_without_events(catalog)
            return super().fit(interactions, catalog, validation=validation)
        finally:
            del self._warm

    def _fit_without_events(self, catalog: Catalog) -> Self:
        """A warm-started model for a catalog that has no events yet: no histories."""
        import pandas as pd

        no_events = Interactions(pd.DataFrame(columns=["user_id", "item_id", "event_type"]))
        data = EncodedInteractions.encode(no_events, catalog.item_ids)
        self.item_ids_ = data.item_ids
        self.item_index_ = {item: i for i, item in enumerate(data.item_ids)}
        self.histories_ = {}
        self._fit(data, catalog, None)
        return self

    def _fit(
        self,
        data: EncodedInteractions,
        catalog: Catalog | None,
        validation: EncodedInteractions | None,
    ) -> None:
        self._check_params()
        warm_start, trainable = getattr(self, "_warm", (None, "full"))
        # a model that reads no context learns none: its windows carry zeros there
        self.context_ = (
            SequenceContext.of(data) if self.supports_event_context else SequenceContext()
        )
        if warm_start is not None and trainable == "none":  # nothing learns the target's own
            source = warm_start.context_
            real_time = not len(data.timestamps) or data.timestamps.max() >= MIN_EPOCH_MS
            self.context_ = SequenceContext(source.event_types, source.uses_time and real_time)
        self._prepare(data, catalog)
        try:
            self._train(data, validation, warm_start, trainable)
        finally:
            self._forget_preparation()

    def _forget_preparation(self) -> None:
        """Drop what :meth:`_prepare` kept for training only; nothing by default."""

    def _train(
        self,
        data: EncodedInteractions,
        validation: EncodedInteractions | None,
        warm_start: SequentialRecommender | None,
        trainable: str,
    ) -> None:
        import torch

        from shoprec.nn import collate_windows, fit_model

        with self._threads(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.random_state)
            network = self.network_ = self._build_network(data)
            if warm_start is not None:
                self._copy_network(network, warm_start)
                for name, parameter in network.named_parameters():
                    parameter.requires_grad_(self._trains(name, trainable))
            if trainable == "none" or not len(data.items):
                network.eval()
                self.history_: TrainHistory | None = None
                return
            self.history_ = fit_model(
                network,
                self._loss,
                self._examples(data),
                self._train_config(),
                collate=collate_windows,
                length=lambda example: len(example[0]),
                validate=None if validation is None else self._validator(validation),
                callbacks=self._epoch_callbacks(),
                progress=self.progress,
            )
            for parameter in network.parameters():
                parameter.requires_grad_(True)
        logger.info(
            "%s: kept epoch %s of %d (validation NDCG@10 %s)",
            self.name,
            self.history_.best_epoch,
            len(self.history_.epochs),
            self.history_.best_score,
        )

    def _train_config(self) -> Any:
        from shoprec.nn import TrainConfig

        return TrainConfig(
            epochs=self.max_epochs,
            lr=self.lr,
            weight_decay=self.weight_decay,
            warmup_fraction=0.02,
            batch_size=self.batch_size,
            patience=self.patience,
            random_state=self.random_state,
        )

    def _check_params(self) -> None:
        hidden, heads = getattr(self, "hidden", 1), getattr(self, "n_heads", 1)
        if hidden % heads:
            raise ParameterError(f"hidden ({hidden}) must be divisible by n_heads ({heads})")
        if self.max_len < 2:
            raise ParameterError(f"max_len must be at least 2, got {self.max_len}")

    def _validator(self, validation: EncodedInteractions) -> NextItemValidation | None:
        """NDCG@10 of each validation user's first validation item not already in their
        training history (such repeats could never be recommended), scored like the test
        protocol (history only, no context)."""
        from shoprec.nn import NextItemValidation

        empty = np.empty(0, dtype=np.int64)
        histories, targets, seen = [], [], set()
        for user, item in zip(validation.users, validation.items, strict=True):  # time order
            history = self.histories_.get(validation.user_ids[user], empty)
            if user not in seen and item not in history:
                seen.add(user)
                histories.append(history)
                targets.append(item)
        if not targets:
            return None
        return NextItemValidation(
            histories, np.array(targets, dtype=np.int64), self._score_histories
        )

    # -- inference --------------------------------------------------------------------------------
    def _score(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        with self._threads():
            return self._score_histories(self.network_, histories)

    def score_events(
        self,
        histories: Sequence[np.ndarray],
        *,
        event_types: Sequence[Sequence[str]] | None = None,
        timestamps: Sequence[np.ndarray] | None = None,
    ) -> np.ndarray:
        """Like :meth:`score`, with each history's event types and timestamps (ms) as context
        (for a model that learned none of them, the same as :meth:`score`).

        Returns
        -------
        numpy.ndarray
            ``(len(histories), n_items)`` float32.
        """
        self._check_fitted()
        histories = [np.asarray(h, dtype=np.int64) for h in histories]
        for name, values in (("event_types", event_types), ("timestamps", timestamps)):
            if values is not None and [len(v) for v in values] != [len(h) for h in histories]:
                raise ParameterError(f"{name} must have one entry per history item")
        context = self.context_
        kinds = None if event_types is None else [context.type_codes(t) for t in event_types]
        gaps = None if timestamps is None else [context.gaps(np.asarray(t)) for t in timestamps]
        with self._threads():
            scores = self._score_histories(self.network_, histories, kinds, gaps)
        return np.asarray(scores, dtype=np.float32)

    def _threads(self) -> contextlib.AbstractContextManager[None]:
        return torch_threads(self.num_threads)

    # -- persistence ------------------------------------------------------------------------------
    def _get_state(self) -> dict[str, np.ndarray]:
        state = {k: v.detach().cpu().numpy() for k, v in self.network_.state_dict().items()}
        meta = json.dumps(self.context_.to_dict())
        state[_META] = np.frombuffer(meta.encode(), dtype=np.uint8)
        return state

    def _set_state(self, state: Mapping[str, np.ndarray]) -> None:
        import torch

        weights = dict(state)
        meta = weights.pop(_META, None)
        self.context_ = (
            SequenceContext()
            if meta is None
            else SequenceContext.from_dict(json.loads(bytes(meta)))
        )
        self.network_ = self._network_for_state(weights)
        self.network_.load_state_dict(
            {k: torch.from_numpy(np.array(v)) for k, v in weights.items()}
        )
        self.network_.eval()

    @abstractmethod
    def _network_for_state(self, weights: Mapping[str, np.ndarray]) -> torch.nn.Module:
        """An empty network shaped to hold the saved ``weights``."""

    def _check_fitted(self) -> None:
        super()._check_fitted()
        if not hasattr(self, "network_"):
            raise NotFittedError(f"{type(self).__name__} has no network; call fit() first")
