"""SASRec: the ID-only self-attentive sequential recommender (Kang & McAuley, ICDM 2018).

Trained with full-softmax cross-entropy over the catalog by default, which beats the paper's
binary cross-entropy with one sampled negative by a wide margin (Klenitskiy & Vasilev, "Turning
Dross Into Gold Loss: is BERT4Rec really better than SASRec?", RecSys 2023). The network is in
:mod:`shoprec.nn._sasrec_network`; the fit loop, shared with the text-sequence model, in
:mod:`shoprec.models._sequential`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from shoprec.data import PAD, EncodedInteractions
from shoprec.exceptions import ParameterError
from shoprec.models._sequential import SequentialRecommender

if TYPE_CHECKING:  # torch is imported lazily so that `import shoprec.models` stays light
    import torch

    from shoprec.nn import SASRecNetwork

__all__ = ["SASRec"]

_LOSSES = ("ce", "bce")
_SCORE_BATCH = 512


class SASRec(SequentialRecommender):
    """Self-attentive sequential recommender over item IDs.

    Every position of each user's training sequence predicts the next item (the first item is
    predicted from a learned start token, which also gives cold-start scores). Scores for a
    history are the last hidden state (of at most ``max_len`` tokens) against every item embedding.

    The defaults were tuned on Amazon 2014 Beauty (leave-one-out, full ranking, history
    excluded): test NDCG@10 0.051 / HR@10 0.083 after 20 epochs of 20-50 s on 2 shared CPU
    cores, against the published 0.032 of the BCE-trained original. The learning rate decays
    linearly to zero at ``max_epochs``, so a larger budget also slows the decay.

    Parameters
    ----------
    hidden
        Embedding and transformer width; divisible by ``n_heads``.
    n_layers, n_heads
        Transformer blocks and attention heads.
    max_len
        Longest input window, counting the start token; longer histories keep their most recent
        items.
    dropout
        Dropout on the input embeddings and on the attention and feed-forward outputs.
    lr, weight_decay
        AdamW learning rate (linear warm-up then linear decay) and weight decay.
    batch_size
        Training windows per step.
    max_epochs, patience
        Epoch budget; with ``fit(..., validation=...)`` training stops after ``patience`` epochs
        without a better validation NDCG@10 and keeps the best epoch's weights.
    loss
        ``"ce"``: softmax cross-entropy over the whole catalog; ``"bce"``: the paper's binary
        cross-entropy with one uniformly sampled negative per position.
    random_state
        Seeds initialisation, dropout, negative sampling and shuffling.
    progress
        Show a progress bar per epoch.
    num_threads
        torch intra-op threads while fitting and scoring; ``None`` keeps torch's setting.

    Attributes
    ----------
    network_
        The trained :class:`~shoprec.nn._sasrec_network.SASRecNetwork`, in eval mode.
    history_
        The :class:`~shoprec.nn._training.TrainHistory` of the last ``fit`` (per-epoch loss,
        validation score, time); not saved with the model.
    """

    name: ClassVar[str] = "sasrec"
    supports_event_context: ClassVar[bool] = False  # IDs only: no event types or time gaps

    def __init__(
        self,
        *,
        hidden: int = 64,
        n_layers: int = 2,
        n_heads: int = 2,
        max_len: int = 50,
        dropout: float = 0.3,
        lr: float = 2e-3,
        weight_decay: float = 0.0,
        batch_size: int = 256,
        max_epochs: int = 20,
        patience: int = 5,
        loss: str = "ce",
        random_state: int = 0,
        progress: bool = False,
        num_threads: int | None = None,
    ) -> None:
        self.hidden = hidden
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.max_len = max_len
        self.dropout = dropout
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.loss = loss
        self.random_state = random_state
        self.progress = progress
        self.num_threads = num_threads

    # -- the sequential core's hooks --------------------------------------------------------------
    def _check_params(self) -> None:
        super()._check_params()
        if self.loss not in _LOSSES:
            raise ParameterError(f"loss must be one of {_LOSSES}, got {self.loss!r}")

    def _build_network(self, data: EncodedInteractions) -> SASRecNetwork:
        return self._network(data.n_items)

    def _network(self, n_items: int) -> SASRecNetwork:
        from shoprec.nn import SASRecNetwork

        return SASRecNetwork(
            n_items,
            hidden=self.hidden,
            n_layers=self.n_layers,
            n_heads=self.n_heads,
            max_len=self.max_len,
            dropout=self.dropout,
        )

    def _network_for_state(self, weights: Mapping[str, np.ndarray]) -> SASRecNetwork:
        return self._network(len(self.item_ids_))

    def retrieval_vectors(self) -> np.ndarray:
        """The tied output embeddings ``(n_items, hidden)``."""
        self._check_fitted()
        return self.network_.item_weights.detach().numpy().astype(np.float32)

    def query_vectors(
        self, histories: Sequence[np.ndarray], *, event_types: Sequence[Sequence[str]] | None = None
    ) -> np.ndarray:
        """Each history's last transformer state (event types are not read)."""
        self._check_fitted()
        with self._threads():
            return self._states(self.network_, [np.asarray(h, dtype=np.int64) for h in histories])

    def _copy_network(self, network: SASRecNetwork, source: SequentialRecommender) -> None:
        """Every same-shaped tensor; item embeddings row by row for the items both know (new
        items keep their fresh initialisation), with the padding and start rows."""
        import torch

        super()._copy_network(network, source)
        old = source.network_.item_embedding.weight  # (n_old + 2, hidden)
        new = network.item_embedding.weight  # (n_new + 2, hidden)
        if old.shape == new.shape and np.array_equal(source.item_ids_, self.item_ids_):
            return
        rows = [(i, source.item_index_[item]) for i, item in enumerate(self.item_ids_)
                if item in source.item_index_]  # fmt: skip
        with torch.no_grad():
            if rows:
                to, frm = (torch.as_tensor(side) + 1 for side in zip(*rows, strict=True))
                new[to] = old[frm]
            new[network.n_items + 1] = old[source.network_.n_items + 1]  # the start token

    def _loss(self, network: SASRecNetwork, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return (_loss_ce if self.loss == "ce" else _loss_bce)(network, batch)

    def _score_histories(
        self,
        network: SASRecNetwork,
        histories: Sequence[np.ndarray],
        kinds: Sequence[np.ndarray] | None = None,
        gaps: Sequence[np.ndarray | None] | None = None,
    ) -> np.ndarray:
        """``(len(histories), n_items)`` float32 scores: each history's last state against
        every item embedding; no context is read."""
        import torch

        states = torch.from_numpy(self._states(network, histories))
        with torch.no_grad():
            return network.item_logits(states).numpy()

    def _states(self, network: SASRecNetwork, histories: Sequence[np.ndarray]) -> np.ndarray:
        """``(len(histories), hidden)`` float32: the last state of ``[start] + history`` (its
        last ``max_len`` tokens)."""
        import torch

        from shoprec.nn import collate_windows

        start = network.n_items + 1
        out = np.empty((len(histories), network.item_weights.shape[1]), dtype=np.float32)
        was_training = network.training
        network.eval()
        with torch.no_grad():
            for lo in range(0, len(histories), _SCORE_BATCH):
                chunk = histories[lo : lo + _SCORE_BATCH]
                windows = [np.concatenate([[start], h + 1])[-self.max_len :] for h in chunk]
                tokens, *_ = collate_windows([(w, w, w, w) for w in windows])  # (batch, length)
                hidden = network(tokens)  # (batch, length, hidden)
                last = torch.as_tensor([len(w) - 1 for w in windows])  # (batch,)
                out[lo : lo + len(chunk)] = hidden[torch.arange(len(windows)), last].numpy()
        network.train(was_training)
        return out


def _loss_ce(model: SASRecNetwork, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Softmax cross-entropy of every real position's next item over the whole catalog."""
    import torch.nn.functional as F

    tokens, targets, *_ = batch  # (batch, length) each
    hidden = model(tokens)  # (batch, length, hidden)
    real = targets != PAD  # (batch, length)
    logits = model.item_logits(hidden[real])  # (n_targets, n_items)
    return F.cross_entropy(logits, targets[real] - 1)


def _loss_bce(model: SASRecNetwork, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """The paper's loss: binary cross-entropy of the next item against one uniform negative."""
    import torch
    import torch.nn.functional as F

    tokens, targets, *_ = batch  # (batch, length) each
    real = targets != PAD  # (batch, length)
    hidden = model(tokens)[real]  # (n_targets, hidden)
    positives = targets[real] - 1  # (n_targets,)
    negatives = torch.randint(0, model.n_items, positives.shape)  # (n_targets,)
    weights = model.item_weights  # (n_items, hidden)
    pos = (hidden * weights[positives]).sum(-1)  # (n_targets,)
    neg = (hidden * weights[negatives]).sum(-1)  # (n_targets,)
    logits = torch.cat([pos, neg])  # (2 * n_targets,)
    labels = torch.cat([torch.ones_like(pos), torch.zeros_like(neg)])  # (2 * n_targets,)
    return F.binary_cross_entropy_with_logits(logits, labels)
