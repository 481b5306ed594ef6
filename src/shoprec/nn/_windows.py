"""Torch side of the item sequences: padded batches, and scoring each history's last state
against every item (the validation callable of the sequence models' early stopping)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from shoprec.data import PAD, Example, model_inputs
from shoprec.nn._training import next_item_ndcg

if TYPE_CHECKING:
    from shoprec.nn._text_sequence_network import TextSequenceNetwork

__all__ = [
    "VALID_K",
    "NextItemValidation",
    "collate_windows",
    "history_states",
    "score_histories",
]

VALID_K = 10
_SCORE_BATCH = 512


class NextItemValidation:
    """Validation callable: mean NDCG@10 of one held-out next item per user (full ranking,
    history excluded).

    Parameters
    ----------
    histories, targets
        Each user's history (item indices) and held-out next item.
    score
        ``score(network, histories)``: ``(len(histories), n_items)`` scores of a network.
    outside
        ``(n_users, n_items)`` bool, items a user is not ranked among (e.g. another
        platform's); ``None``: none.
    """

    def __init__(
        self,
        histories: list[np.ndarray],
        targets: np.ndarray,
        score: Callable[[Any, Sequence[np.ndarray]], np.ndarray],
        outside: np.ndarray | None = None,
    ) -> None:
        self.histories = histories
        self.targets = targets
        self.score = score
        self.outside = outside

    def __call__(self, network: Any) -> float:
        scores = np.asarray(self.score(network, self.histories))
        if self.outside is not None:
            scores[self.outside] = np.nan  # excluded from the ranking
        return next_item_ndcg(scores, self.histories, self.targets, k=VALID_K)


def collate_windows(examples: list[Example]) -> tuple[torch.Tensor, ...]:
    """Right-pad a batch of windows to its longest: four ``(batch, length)`` int64 tensors."""
    length = max(len(example[0]) for example in examples)
    out = np.full((4, len(examples), length), PAD, dtype=np.int64)
    for row, example in enumerate(examples):
        for field, values in enumerate(example):
            out[field, row, : len(values)] = values
    return tuple(torch.from_numpy(part) for part in out)


def score_histories(
    network: TextSequenceNetwork,
    histories: Sequence[np.ndarray],
    max_len: int,
    kinds: Sequence[np.ndarray] | None = None,
    gaps: Sequence[np.ndarray | None] | None = None,
    *,
    reps: torch.Tensor | None = None,
) -> np.ndarray:
    """``(len(histories), n_catalog)`` float32: the last state of ``[start] + history`` (its
    last ``max_len`` inputs) against every item representation."""
    out = np.empty((len(histories), network.n_catalog), dtype=np.float32)
    for lo, states, item_reps in _states(network, histories, max_len, kinds, gaps, reps):
        with torch.no_grad():
            out[lo : lo + len(states)] = network.item_logits(states, item_reps=item_reps).numpy()
    return out


def history_states(
    network: TextSequenceNetwork,
    histories: Sequence[np.ndarray],
    max_len: int,
    kinds: Sequence[np.ndarray] | None = None,
    gaps: Sequence[np.ndarray | None] | None = None,
    *,
    reps: torch.Tensor | None = None,
) -> np.ndarray:
    """``(len(histories), hidden)`` float32: the last state of each history, the user side of
    :func:`score_histories` (its logits are these states times the item representations, plus
    the item bias)."""
    parts = [s.numpy() for _, s, _ in _states(network, histories, max_len, kinds, gaps, reps)]
    return np.concatenate(parts).astype(np.float32, copy=False)


def _states(
    network: TextSequenceNetwork,
    histories: Sequence[np.ndarray],
    max_len: int,
    kinds: Sequence[np.ndarray] | None,
    gaps: Sequence[np.ndarray | None] | None,
    reps: torch.Tensor | None,
) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
    """Per batch of histories: its first index, last states ``(batch, hidden)``, item reps."""
    was_training = network.training
    if was_training:  # eval() walks every module: too slow to repeat per request
        network.eval()
    try:
        with torch.no_grad():
            if reps is None:
                reps = network.item_representations()  # (n_catalog, hidden)
            for lo in range(0, len(histories), _SCORE_BATCH):
                windows = [
                    tuple(
                        part[-max_len:]
                        for part in model_inputs(
                            histories[i],
                            None if kinds is None else kinds[i],
                            None if gaps is None else gaps[i],
                            network.start_index,
                        )
                    )
                    for i in range(lo, min(lo + _SCORE_BATCH, len(histories)))
                ]
                tokens, _, batch_kinds, batch_gaps = collate_windows(
                    [(w[0], w[0], w[1], w[2]) for w in windows]
                )
                hidden = network(tokens, batch_kinds, batch_gaps, item_reps=reps)
                last = torch.as_tensor([len(w[0]) - 1 for w in windows])  # (batch,)
                yield lo, hidden[torch.arange(len(windows)), last], reps
    finally:
        if was_training:
            network.train()
