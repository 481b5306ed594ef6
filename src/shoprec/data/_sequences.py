"""Item sequences for the sequence models, torch-free: per-user sequences in time order, training
windows and the model inputs with event types and time-gap buckets.

Tokens are ``0`` padding, ``i + 1`` catalog item ``i`` and a start token after the catalog;
every input position also carries an event-type index and a time-gap bucket (``0``: unknown).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np

from shoprec.data._encoding import EncodedInteractions

__all__ = [
    "MIN_EPOCH_MS",
    "N_GAP_BUCKETS",
    "PAD",
    "Example",
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
