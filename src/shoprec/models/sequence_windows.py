"""Item sequences for the text-sequence models: per-user sequences, training windows, padded
batches, and scoring each history's last state against every item.

Tokens are ``0`` padding, ``i + 1`` catalog item ``i`` and a start token after the catalog;
every input position also carries an event-type index and a time-gap bucket (``0``: unknown).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from shoprec.data.encoding import EncodedInteractions

if TYPE_CHECKING:  # torch is imported lazily so that `import shoprec.models` stays light
    import torch

    from shoprec.models.text_sequence_network import TextSequenceNetwork

__all__ = [
    "MIN_EPOCH_MS",
    "N_GAP_BUCKETS",
    "PAD",
    "VALID_K",
    "Example",
    "NextItemValidation",
    "collate_windows",
    "gap_buckets",
    "model_inputs",
    "score_histories",
    "training_windows",
    "user_sequences",
]

PAD = 0
N_GAP_BUCKETS = 32  # text_sequence_network.N_GAP_BUCKETS, repeated to keep torch out
MIN_EPOCH_MS = 1e11  # timestamps below this (1973 in ms) are positions: order-only data
VALID_K = 10
_SCORE_BATCH = 512
# One training window: input tokens, next-item targets, event types, gap buckets; (length,) each.
Example = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class NextItemValidation:
    """Validation callable: mean NDCG@10 of one held-out next item per user (full ranking,
    history excluded).

    Parameters
    ----------
    max_len
        Inputs per history (its last ``max_len``).
    histories, targets
        Each user's history (item indices) and held-out next item.
    outside
        ``(n_users, n_catalog)`` bool, items a user is not ranked among (e.g. another
        platform's); ``None``: none.
    """

    def __init__(
        self,
        max_len: int,
        histories: list[np.ndarray],
        targets: np.ndarray,
        outside: np.ndarray | None = None,
    ) -> None:
        self.max_len = max_len
        self.histories = histories
        self.targets = targets
        self.outside = outside

    def __call__(self, network: TextSequenceNetwork) -> float:
        from shoprec.models.training import next_item_ndcg

        scores = score_histories(network, self.histories, self.max_len)
        if self.outside is not None:
            scores[self.outside] = np.nan  # excluded from the ranking
        return next_item_ndcg(scores, self.histories, self.targets, k=VALID_K)


def gap_buckets(timestamps: np.ndarray) -> np.ndarray:
    """Bucket of the gap to the previous event: ``1 + floor(log2(1 + seconds))`` capped at
    :data:`N_GAP_BUCKETS`; ``0`` (unknown) for the first event."""
    seconds = np.maximum(np.diff(np.asarray(timestamps, dtype=np.float64)), 0.0) / 1000.0
    buckets = 1 + np.minimum(np.floor(np.log2(1.0 + seconds)), N_GAP_BUCKETS - 1)
    return np.concatenate([[0], buckets]).astype(np.int64)


def user_sequences(
    data: EncodedInteractions, type_codes: np.ndarray
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Each user's items, event-type codes and timestamps in time order."""
    order = np.argsort(data.users, kind="stable")  # stable keeps time order within a user
    bounds = np.searchsorted(data.users[order], np.arange(data.n_users + 1))
    items, kinds, times = data.items[order], type_codes[order], data.timestamps[order]
    for lo, hi in itertools.pairwise(bounds):
        yield items[lo:hi], kinds[lo:hi], times[lo:hi]


def model_inputs(
    history: np.ndarray, kinds: np.ndarray | None, gaps: np.ndarray | None, start: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Input tokens ``[start, h_0 + 1, ...]`` with event types and gaps (``0`` at the start)."""
    tokens = np.concatenate([[start], history + 1]).astype(np.int64)
    zeros = np.zeros(len(history), dtype=np.int64)
    kinds = np.concatenate([[0], zeros if kinds is None else kinds]).astype(np.int64)
    gaps = np.concatenate([[0], zeros if gaps is None else gaps]).astype(np.int64)
    return tokens, kinds, gaps


def training_windows(
    items: np.ndarray, kinds: np.ndarray, gaps: np.ndarray | None, n_items: int, max_len: int
) -> Iterator[Example]:
    """Training windows of one user, inputs ``[start, i_0, .., i_{n-2}]`` against targets
    ``[i_0, .., i_{n-1}]``, cut from the end into pieces of at most ``max_len``."""
    tokens, in_kinds, in_gaps = model_inputs(
        items[:-1], kinds[:-1], None if gaps is None else gaps[:-1], n_items + 1
    )
    targets = items.astype(np.int64) + 1
    for end in range(len(targets), 0, -max_len):
        lo = max(0, end - max_len)
        yield tokens[lo:end], targets[lo:end], in_kinds[lo:end], in_gaps[lo:end]


def collate_windows(examples: list[Example]) -> tuple[torch.Tensor, ...]:
    """Right-pad a batch of windows to its longest: four ``(batch, length)`` int64 tensors."""
    import torch

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
    import torch

    out = np.empty((len(histories), network.n_catalog), dtype=np.float32)
    was_training = network.training
    if was_training:  # eval() walks every module: too slow to repeat per request
        network.eval()
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
            states = hidden[torch.arange(len(windows)), last]  # (batch, hidden)
            out[lo : lo + len(windows)] = network.item_logits(states, item_reps=reps).numpy()
    if was_training:
        network.train()
    return out
