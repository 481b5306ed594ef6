"""Text-sequence recommender: SASRec over items represented by their (frozen) text embeddings.

Each item is its MiniLM embedding (computed once per catalog through the encoder cache) passed
through a learned mixture-of-experts whitening adaptor (UniSRec), plus a learned ID embedding
when ``use_ids``; the user's sequence goes through SASRec's causal transformer with event-type
and time-gap embeddings added, and every catalog item is scored by the dot product of the final
state with its representation (full-softmax cross-entropy training). Because an item's text
alone gives it a representation, items without training events, and items added after fitting
(:meth:`TextSequence.add_items`), are scored sensibly. The network is in
:mod:`shoprec.nn._text_sequence_network`, the loop in :mod:`shoprec.nn._training`, the
sequences in :mod:`shoprec.data`, batches in :mod:`shoprec.nn`.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from shoprec._runtime import torch_threads
from shoprec.data import (
    MIN_EPOCH_MS,
    PAD,
    Catalog,
    EncodedInteractions,
    Example,
    gap_buckets,
    training_windows,
    user_sequences,
)
from shoprec.models._base import Recommender
from shoprec.text import encode_texts, item_texts

if TYPE_CHECKING:  # torch is imported lazily so that `import shoprec.models` stays light
    import torch

    from shoprec.nn import EpochRecord, NextItemValidation, TextSequenceNetwork, TrainHistory

__all__ = ["TextSequence"]

logger = logging.getLogger(__name__)


class TextSequence(Recommender):
    """Self-attentive sequential recommender over text-represented items.

    Parameters
    ----------
    encoder
        Text encoder registry name (:data:`shoprec.text.ENCODERS`): ``onnx``, ``minilm`` or
        ``hashing`` (tests). The encoder stays frozen; item vectors are cached on disk.
    use_ids
        Add a learned ID embedding to each trained item's text representation. Items without
        training events (and items added later) are represented from text alone either way.
    hidden, n_layers, n_heads, max_len, dropout
        Transformer width, blocks, heads, longest input window (counting the start token), and
        dropout (inputs, text vectors, block outputs).
    n_experts
        Whitening experts in the text adaptor.
    id_dropout
        Per training step, the share of items scored from text alone (ID embedding dropped), so
        that items without training events, whose representation is text only, are not ranked
        below everything else.
    context_dropout
        Share of training windows whose event types and time gaps are hidden, so the model also
        scores histories given without them (as :meth:`score` receives them).
    popularity_prior
        Add a learned weight times each item's standardised log training-event count to its
        score. The feature is the shop's own, so the weight carries over to another shop
        (:mod:`shoprec.transfer._sequence`) where ID embeddings cannot.
    lr, weight_decay
        AdamW learning rate (linear warm-up then linear decay) and weight decay.
    batch_size, max_epochs, patience
        Windows per step, epoch budget, and epochs without a better validation NDCG@10 before
        stopping (the best epoch's weights are kept).
    random_state
        Seeds initialisation, dropout and shuffling.
    progress
        Progress bars for encoding and per epoch.
    num_threads
        torch intra-op threads while fitting and scoring; ``None`` keeps torch's setting.
    cache_dir
        Where item encodings are cached (default :func:`shoprec.text.default_cache_dir`).

    Attributes
    ----------
    network_
        The trained :class:`~shoprec.nn._text_sequence_network.TextSequenceNetwork`.
    event_types_
        Event types with their own embedding (empty when training saw only one type).
    uses_time_
        Whether time gaps were learned (false for order-only timestamps).
    history_
        The :class:`~shoprec.nn._training.TrainHistory` of the last ``fit`` (not saved).
    """

    name: ClassVar[str] = "text_sequence"

    def __init__(
        self,
        *,
        encoder: str = "onnx",
        use_ids: bool = True,
        hidden: int = 64,
        n_layers: int = 2,
        n_heads: int = 2,
        max_len: int = 50,
        dropout: float = 0.3,
        n_experts: int = 8,
        id_dropout: float = 0.1,
        context_dropout: float = 0.5,
        popularity_prior: bool = False,
        lr: float = 2e-3,
        weight_decay: float = 0.0,
        batch_size: int = 256,
        max_epochs: int = 20,
        patience: int = 5,
        random_state: int = 0,
        progress: bool = False,
        num_threads: int | None = None,
        cache_dir: str | None = None,
    ) -> None:
        self.encoder = encoder
        self.use_ids = use_ids
        self.hidden = hidden
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.max_len = max_len
        self.dropout = dropout
        self.n_experts = n_experts
        self.id_dropout = id_dropout
        self.context_dropout = context_dropout
        self.popularity_prior = popularity_prior
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.random_state = random_state
        self.progress = progress
        self.num_threads = num_threads
        self.cache_dir = cache_dir

    # -- training ---------------------------------------------------------------------------------
    def _fit(
        self,
        data: EncodedInteractions,
        catalog: Catalog | None,
        validation: EncodedInteractions | None,
    ) -> None:
        import torch

        from shoprec.nn import TrainConfig, collate_windows, fit_model

        self._check_params()
        texts = list(map(str, data.item_ids)) if catalog is None else item_texts(catalog)
        text = self._encode(texts)
        types = sorted(set(map(str, data.event_types)))
        self.event_types_ = types if len(types) > 1 else []
        self.uses_time_ = bool(len(data.timestamps) and data.timestamps.max() >= MIN_EPOCH_MS)
        examples = self._examples(data)
        config = TrainConfig(
            epochs=self.max_epochs,
            lr=self.lr,
            weight_decay=self.weight_decay,
            warmup_fraction=0.02,
            batch_size=self.batch_size,
            patience=self.patience,
            random_state=self.random_state,
        )
        validate = None if validation is None else self._validator(validation)
        trained = np.bincount(data.items, minlength=data.n_items) > 0
        # Items without a training event are left out of the softmax: as mere negatives the
        # shared text adaptor would learn to push their text down, and they could never rank.
        self._untrained = torch.from_numpy(~trained)
        with self._threads(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.random_state)
            self.network_ = self._network(text, data.n_items if self.use_ids else 0)
            if self.use_ids:
                self.network_.id_mask.copy_(torch.from_numpy(trained.astype(np.float32)))
            self._set_popularity(data)
            try:
                self.history_: TrainHistory = fit_model(
                    self.network_,
                    self._loss,
                    examples,
                    config,
                    collate=collate_windows,
                    length=lambda example: len(example[0]),
                    validate=validate,
                    callbacks=self._epoch_callbacks(),
                    progress=self.progress,
                )
            finally:
                del self._untrained
        logger.info(
            "text_sequence: kept epoch %s of %d (validation NDCG@10 %s)",
            self.history_.best_epoch,
            len(self.history_.epochs),
            self.history_.best_score,
        )

    def _set_popularity(self, data: EncodedInteractions) -> None:
        """Fill the network's popularity feature from ``data`` (with ``popularity_prior``)."""
        import torch

        if self.popularity_prior:
            counts = np.bincount(data.items, minlength=self.network_.n_catalog)
            feature = self._popularity_feature(counts.astype(np.float64))
            self.network_.popularity.copy_(torch.from_numpy(feature.astype(np.float32)))

    def _popularity_feature(self, counts: np.ndarray) -> np.ndarray:
        """Standardised ``log(1 + count)`` over the catalog."""
        return _standardised_log(counts)

    def _examples(self, data: EncodedInteractions) -> list[Example]:
        """Every user's training windows with their event types and time gaps."""
        return [
            example
            for items, kinds, times in user_sequences(data, self._type_codes(data.event_types))
            for example in training_windows(
                items, kinds, self._gaps(times), data.n_items, self.max_len
            )
        ]

    def _epoch_callbacks(self) -> list[Callable[[EpochRecord], None]]:
        """Called after each training epoch: none here (a hook, e.g. to redraw examples)."""
        return []

    def _check_params(self) -> None:
        if self.hidden % self.n_heads:
            raise ValueError(
                f"hidden ({self.hidden}) must be divisible by n_heads ({self.n_heads})"
            )
        if self.max_len < 2:
            raise ValueError(f"max_len must be at least 2, got {self.max_len}")
        for name in ("context_dropout", "id_dropout"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        return encode_texts(self.encoder, texts, cache_dir=self.cache_dir, progress=self.progress)

    def _network(self, text: np.ndarray, n_id_items: int) -> TextSequenceNetwork:
        import torch

        from shoprec.nn import TextSequenceNetwork

        return TextSequenceNetwork(
            torch.from_numpy(np.asarray(text, dtype=np.float32)),
            n_id_items=n_id_items,
            n_event_types=len(self.event_types_),
            use_ids=self.use_ids,
            hidden=self.hidden,
            n_layers=self.n_layers,
            n_heads=self.n_heads,
            max_len=self.max_len,
            dropout=self.dropout,
            n_experts=self.n_experts,
            id_dropout=self.id_dropout,
            popularity_prior=self.popularity_prior,
        )

    def _loss(self, network: TextSequenceNetwork, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Softmax cross-entropy of every real position's next item over the items with
        training events; a ``context_dropout`` share of windows trains without event types and
        gaps."""
        import torch
        import torch.nn.functional as F

        tokens, targets, kinds, gaps = batch  # (batch, length) each
        keep = (torch.rand(tokens.shape[0], 1) >= self.context_dropout).long()  # (batch, 1)
        reps = network.item_representations()  # (n_catalog, hidden)
        hidden = network(tokens, kinds * keep, gaps * keep, item_reps=reps)
        real = targets != PAD  # (batch, length)
        logits = network.item_logits(hidden[real], item_reps=reps)  # (n_targets, n_catalog)
        logits = logits.masked_fill(self._untrained, float("-inf"))
        return F.cross_entropy(logits, targets[real] - 1)

    def _type_codes(self, event_types: np.ndarray) -> np.ndarray:
        """Embedding index of each event type (``0``: unknown or not modelled)."""
        index = {name: i + 1 for i, name in enumerate(self.event_types_)}
        return np.fromiter((index.get(str(t), 0) for t in event_types), np.int64, len(event_types))

    def _gaps(self, timestamps: np.ndarray | None) -> np.ndarray | None:
        return gap_buckets(timestamps) if self.uses_time_ and timestamps is not None else None

    def _validator(self, validation: EncodedInteractions) -> NextItemValidation | None:
        from shoprec.nn import NextItemValidation

        """NDCG@10 of each validation user's first validation item not already in their
        training history, scored like the test protocol (history only, no context)."""
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
        return NextItemValidation(self.max_len, histories, np.array(targets, dtype=np.int64))

    # -- inference --------------------------------------------------------------------------------
    def _score(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        from shoprec.nn import score_histories

        with self._threads():
            return score_histories(self.network_, histories, self.max_len, reps=self._item_reps())

    def score_events(
        self,
        histories: Sequence[np.ndarray],
        *,
        event_types: Sequence[Sequence[str]] | None = None,
        timestamps: Sequence[np.ndarray] | None = None,
    ) -> np.ndarray:
        """Like :meth:`score`, with each history's event types and timestamps (ms) as context.

        Returns
        -------
        numpy.ndarray
            ``(len(histories), n_items)`` float32.
        """
        from shoprec.nn import score_histories

        self._check_fitted()
        histories = [np.asarray(h, dtype=np.int64) for h in histories]
        for name, values in (("event_types", event_types), ("timestamps", timestamps)):
            if values is not None and [len(v) for v in values] != [len(h) for h in histories]:
                raise ValueError(f"{name} must have one entry per history item")
        kinds = (
            None if event_types is None else [self._type_codes(np.asarray(t)) for t in event_types]
        )
        gaps = None if timestamps is None else [self._gaps(np.asarray(t)) for t in timestamps]
        with self._threads():
            scores = score_histories(
                self.network_, histories, self.max_len, kinds, gaps, reps=self._item_reps()
            )
        return scores.astype(np.float32, copy=False)

    def retrieval_vectors(self) -> np.ndarray:
        """``(n_items, hidden + 1)``: item representations and the item bias (zeros without
        the popularity prior) as a last column (queries carry a 1 there)."""
        self._check_fitted()
        reps = self._item_reps().numpy()
        bias = self.network_.item_bias()
        last = np.zeros(len(reps), dtype=np.float32) if bias is None else bias.detach().numpy()
        return np.hstack([reps, last[:, None]]).astype(np.float32)

    def query_vectors(
        self, histories: Sequence[np.ndarray], *, event_types: Sequence[Sequence[str]] | None = None
    ) -> np.ndarray:
        """Each history's last state (read with its event types when given), with a trailing 1
        for the bias column."""
        from shoprec.nn import history_states

        self._check_fitted()
        histories = [np.asarray(h, dtype=np.int64) for h in histories]
        kinds = (
            None if event_types is None else [self._type_codes(np.asarray(t)) for t in event_types]
        )
        with self._threads():
            states = history_states(
                self.network_, histories, self.max_len, kinds, reps=self._item_reps()
            )
        return np.hstack([states, np.ones((len(states), 1), dtype=np.float32)])

    def add_items(self, catalog: Catalog) -> None:
        """Make new items recommendable from their text alone (no retraining); known ids in
        ``catalog`` get their text re-encoded."""
        import torch

        self._check_fitted()
        vectors = self._encode(item_texts(catalog))
        text = self.network_.text_embeddings.numpy().copy()
        new_ids: list[str] = []
        new_rows: list[np.ndarray] = []
        for item_id, vector in zip(catalog.item_ids, vectors, strict=True):
            row = self.item_index_.get(item_id)
            if row is None:
                self.item_index_[item_id] = len(self.item_ids_) + len(new_ids)
                new_ids.append(item_id)
                new_rows.append(vector)
            else:
                text[row] = vector
        if new_rows:
            text = np.vstack([text, np.asarray(new_rows, dtype=np.float32)])
            self.item_ids_ = np.append(self.item_ids_, np.array(new_ids, dtype=object))
        self.network_.set_text_embeddings(torch.from_numpy(text))
        self._reps: tuple[TextSequenceNetwork, torch.Tensor] | None = None

    def _item_reps(self) -> torch.Tensor:
        """Every item's representation, computed once per fitted network: serving scores one
        user at a time, and the adaptor over the whole catalog costs more than the user."""
        import torch

        cached = getattr(self, "_reps", None)
        if cached is None or cached[0] is not self.network_:
            network = self.network_
            was_training = network.training
            network.eval()
            with torch.no_grad():
                cached = (network, network.item_representations())
            network.train(was_training)
            self._reps = cached
        return cached[1]

    def _threads(self) -> contextlib.AbstractContextManager[None]:
        return torch_threads(self.num_threads)

    # -- persistence ------------------------------------------------------------------------------
    def _get_state(self) -> dict[str, np.ndarray]:
        state = {k: v.detach().cpu().numpy() for k, v in self.network_.state_dict().items()}
        meta = json.dumps({"event_types": self.event_types_, "uses_time": self.uses_time_})
        state["_meta"] = np.frombuffer(meta.encode(), dtype=np.uint8)
        return state

    def _set_state(self, state: Mapping[str, np.ndarray]) -> None:
        import torch

        weights = dict(state)
        meta = json.loads(bytes(weights.pop("_meta")).decode())
        self.event_types_ = list(meta["event_types"])
        self.uses_time_ = bool(meta["uses_time"])
        n_id_items = weights["item_embedding.weight"].shape[0] - 2
        self.network_ = self._network(weights["text_embeddings"], n_id_items)
        self.network_.load_state_dict(
            {k: torch.from_numpy(np.array(v)) for k, v in weights.items()}
        )
        self.network_.eval()


def _standardised_log(counts: np.ndarray) -> np.ndarray:
    """``log(1 + counts)`` with zero mean and unit variance (all zeros when constant)."""
    values = np.log1p(counts)
    scale = values.std()
    return (values - values.mean()) / scale if scale > 0 else np.zeros_like(values)
