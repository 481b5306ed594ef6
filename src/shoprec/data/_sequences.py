"""Item sequences for the sequence models, torch-free: per-user sequences in time order, training
windows and the model inputs with event types and time-gap buckets.

Tokens are ``0`` padding, ``i + 1`` catalog item ``i`` and a start token after the catalog;
every input position also carries an event-type index and a time-gap bucket (``0``: unknown).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from shoprec.data._encoding import EncodedInteractions

__all__ = [
    "MIN_EPOCH_MS",
    "N_GAP_BUCKETS",
    "PAD",
    "Example",
    "SequenceContext",
    "gap_buckets",
    "model_inputs",
    "training_windows",
    "user_sequences",
]

PAD = 0
N_GAP_BUCKETS = 32  # log2 buckets of the gap in seconds; 0 = unknown
MIN_EPOCH_MS = 1e11  # timestamps below this (1973 in ms) are positions: order-only data
# One training window: input tokens, next-item targets, event types, gap buckets; (length,) each.
Example = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


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


@dataclass(frozen=True)
class SequenceContext:
    """What a sequence model reads of each event besides its item: the event types that get an
    embedding of their own (none when the training data had a single type) and whether time
    gaps are used (not for order-only positions). Learned from training data by :meth:`of`.
    """

    event_types: tuple[str, ...] = ()
    uses_time: bool = False

    @classmethod
    def of(cls, data: EncodedInteractions) -> SequenceContext:
        """The context learnable from ``data``."""
        types = sorted(set(map(str, data.event_types)))
        timed = bool(len(data.timestamps) and data.timestamps.max() >= MIN_EPOCH_MS)
        return cls(tuple(types) if len(types) > 1 else (), timed)

    def type_codes(self, event_types: Sequence[str] | np.ndarray) -> np.ndarray:
        """Embedding index of each event type (``0``: unknown or not modelled)."""
        index = {name: i + 1 for i, name in enumerate(self.event_types)}
        return np.fromiter((index.get(str(t), 0) for t in event_types), np.int64, len(event_types))

    def gaps(self, timestamps: np.ndarray | None) -> np.ndarray | None:
        """Time-gap buckets of one history (``None`` when time is not used or unknown)."""
        if not self.uses_time or timestamps is None or not len(timestamps):
            return None
        if np.max(timestamps) < MIN_EPOCH_MS:  # positions: all would fall under one second
            return None
        return gap_buckets(timestamps)

    def windows(self, data: EncodedInteractions, max_len: int) -> list[Example]:
        """Every user's training windows with their event types and time gaps."""
        return [
            example
            for items, kinds, times in user_sequences(data, self.type_codes(data.event_types))
            for example in training_windows(items, kinds, self.gaps(times), data.n_items, max_len)
        ]

    def to_dict(self) -> dict[str, Any]:
        return {"event_types": list(self.event_types), "uses_time": self.uses_time}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SequenceContext:
        return cls(tuple(map(str, data["event_types"])), bool(data["uses_time"]))
