"""Text-sequence recommender: SASRec over items represented by their (frozen) text embeddings.

Each item is its MiniLM embedding (computed once per catalog through the encoder cache) passed
through a learned mixture-of-experts whitening adaptor (UniSRec), plus a learned ID embedding
when ``use_ids``; the user's sequence goes through SASRec's causal transformer with event-type
and time-gap embeddings added, and every catalog item is scored by the dot product of the final
state with its representation (full-softmax cross-entropy training). Because an item's text
alone gives it a representation, items without training events, and items added after fitting
(:meth:`TextSequence.add_items`), are scored sensibly. The network is in
:mod:`shoprec.nn._text_sequence_network`, the loop in :mod:`shoprec.nn._training`, the
sequences in :mod:`shoprec.data`, batches in :mod:`shoprec.nn`, the fit loop (shared with
SASRec) in :mod:`shoprec.models._sequential`.

``fit(..., warm_start=model, trainable=...)`` starts from another fitted text-sequence model,
e.g. one pretrained on other shops (:mod:`shoprec.transfer`) or the previous version of this
shop's model (incremental retraining): ``"none"`` trains nothing (zero-shot: every item scored
from its text), ``"adaptor"`` only :data:`ADAPTOR_PARAMETERS` (and the ID embeddings with
``use_ids``), ``"full"`` everything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from shoprec.data import PAD, Catalog, EncodedInteractions
from shoprec.exceptions import ParameterError
from shoprec.models._sequential import SequentialRecommender
from shoprec.text import encode_texts, item_texts

if TYPE_CHECKING:  # torch is imported lazily so that `import shoprec.models` stays light
    import torch

    from shoprec.nn import TextSequenceNetwork

__all__ = ["ADAPTOR_PARAMETERS", "TextSequence"]

# Parameter-name prefixes that train with trainable="adaptor" (plus "item_embedding." with
# use_ids): the platform-specific parts, as in UniSRec's parameter-efficient fine-tuning.
ADAPTOR_PARAMETERS = ("adaptor.", "event_embedding.", "gap_embedding.", "popularity_weight")
# Item-specific state a warm start never copies (the start row is, separately).
_OWN_STATE = (
    "text_embeddings", "id_mask", "item_embedding.weight", "event_embedding.weight", "popularity"
)  # fmt: skip
_WHITENING = ("text_mean", "text_scale")


class TextSequence(SequentialRecommender):
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
    recenter
        With a warm start, whiten the text vectors with this catalog's statistics instead of
        the source model's (a statistics-only domain adaptation, like AdaBN).

    Attributes
    ----------
    network_
        The trained :class:`~shoprec.nn._text_sequence_network.TextSequenceNetwork`.
    context_
        The :class:`~shoprec.data.SequenceContext`: event types with their own embedding, and
        whether time gaps were learned.
    history_
        The :class:`~shoprec.nn._training.TrainHistory` of the last ``fit`` (not saved).
    """

    name: ClassVar[str] = "text_sequence"
    TRAINABLE: ClassVar[tuple[str, ...]] = ("full", "adaptor", "none")
    supports_new_items: ClassVar[bool] = True

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
        recenter: bool = True,
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
        self.recenter = recenter

    # -- the sequential core's hooks --------------------------------------------------------------
    def _check_params(self) -> None:
        super()._check_params()
        for name in ("context_dropout", "id_dropout"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ParameterError(f"{name} must be in [0, 1], got {value}")

    def _prepare(self, data: EncodedInteractions, catalog: Catalog | None) -> None:
        import torch

        texts = list(map(str, data.item_ids)) if catalog is None else item_texts(catalog)
        self._text = self._encode(texts)
        trained = np.bincount(data.items, minlength=data.n_items) > 0
        self._trained = trained
        # Items without a training event are left out of the softmax: as mere negatives the
        # shared text adaptor would learn to push their text down, and they could never rank.
        self._untrained = torch.from_numpy(~trained)
        self._counts = np.bincount(data.items, minlength=data.n_items).astype(np.float64)

    def _forget_preparation(self) -> None:
        for name in ("_text", "_trained", "_untrained", "_counts"):
            self.__dict__.pop(name, None)

    def _build_network(self, data: EncodedInteractions) -> TextSequenceNetwork:
        import torch

        network = self._network(self._text, data.n_items if self.use_ids else 0)
        if self.use_ids:
            network.id_mask.copy_(torch.from_numpy(self._trained.astype(np.float32)))
        if self.popularity_prior:
            feature = self._popularity_feature(self._counts)
            network.popularity.copy_(torch.from_numpy(feature.astype(np.float32)))
        return network

    def _popularity_feature(self, counts: np.ndarray) -> np.ndarray:
        """Standardised ``log(1 + count)`` over the catalog."""
        return _standardised_log(counts)

    def _trains(self, parameter: str, trainable: str) -> bool:
        if trainable == "adaptor":
            return parameter.startswith(ADAPTOR_PARAMETERS) or (
                self.use_ids and parameter.startswith("item_embedding.")
            )
        return super()._trains(parameter, trainable)

    def _copy_network(self, network: TextSequenceNetwork, source: SequentialRecommender) -> None:
        """``source``'s weights but this catalog's own item state (text, IDs, popularity; with
        ``recenter`` also the whitening statistics); the start row; event types matched by name
        (new types start at zero); ID embeddings of the items both know."""
        import torch

        old = source.network_
        skip = {*_OWN_STATE, *(_WHITENING if self.recenter else ())}
        own = network.state_dict()  # tensors sharing storage with the parameters and buffers
        with torch.no_grad():
            for name, value in old.state_dict().items():
                if name in skip:
                    continue
                if name not in own or own[name].shape != value.shape:
                    raise ParameterError(
                        f"warm_start {name} {tuple(value.shape)} does not fit this model"
                    )
                own[name].copy_(value)
            network.item_embedding.weight[network.start_token].copy_(
                old.item_embedding.weight[old.start_token]
            )
            rows = {kind: i for i, kind in enumerate(source.context_.event_types, start=1)}
            for j, kind in enumerate(self.context_.event_types, start=1):
                row = network.event_embedding.weight[j]
                row.copy_(old.event_embedding.weight[rows[kind]]) if kind in rows else row.zero_()
            n_old_ids = len(old.id_mask)  # ID rows of the source (0 when it had none)
            if self.use_ids and n_old_ids:
                for i, item in enumerate(self.item_ids_):
                    j = source.item_index_.get(item)
                    if j is not None and j < n_old_ids:
                        network.item_embedding.weight[i + 1].copy_(old.item_embedding.weight[j + 1])

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        return encode_texts(self.encoder, texts, cache_dir=self.cache_dir, progress=self.progress)

    def _network(self, text: np.ndarray, n_id_items: int) -> TextSequenceNetwork:
        import torch

        from shoprec.nn import TextSequenceNetwork

        return TextSequenceNetwork(
            torch.from_numpy(np.asarray(text, dtype=np.float32)),
            n_id_items=n_id_items,
            n_event_types=len(self.context_.event_types),
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

    def _network_for_state(self, weights: Mapping[str, np.ndarray]) -> TextSequenceNetwork:
        n_id_items = weights["item_embedding.weight"].shape[0] - 2
        return self._network(weights["text_embeddings"], n_id_items)

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

    def _score_histories(
        self,
        network: TextSequenceNetwork,
        histories: Sequence[np.ndarray],
        kinds: Sequence[np.ndarray] | None = None,
        gaps: Sequence[np.ndarray | None] | None = None,
    ) -> np.ndarray:
        from shoprec.nn import score_histories

        # the served network's item representations are cached; a network in training is not
        serving = network is getattr(self, "network_", None) and not hasattr(self, "_untrained")
        reps = self._item_reps() if serving else None
        return score_histories(network, histories, self.max_len, kinds, gaps, reps=reps)

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
        kinds = None if event_types is None else [self.context_.type_codes(t) for t in event_types]
        with self._threads():
            states = history_states(
                self.network_, histories, self.max_len, kinds, reps=self._item_reps()
            )
        return np.hstack([states, np.ones((len(states), 1), dtype=np.float32)])

    # -- catalog updates --------------------------------------------------------------------------
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


def _standardised_log(counts: np.ndarray) -> np.ndarray:
    """``log(1 + counts)`` with zero mean and unit variance (all zeros when constant)."""
    values = np.log1p(counts)
    scale = values.std()
    return (values - values.mean()) / scale if scale > 0 else np.zeros_like(values)
