"""Deterministic train / validation / test splits for next-item evaluation.

- :func:`leave_one_out`: per user, the last event is the test target and the one before it the
  validation target (SASRec, BERT4Rec, P5 protocol). Works on order-only data.
- :func:`temporal_split`: one global cut in time; everything after ``test_start`` is test, which
  avoids leaking the future into training (the protocol for timestamped shops).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from shoprec.config import SPLITS
from shoprec.data._schema import Interactions
from shoprec.exceptions import ValidationError

logger = logging.getLogger(__name__)

__all__ = [
    "Split",
    "auto_split",
    "chosen_split",
    "leave_one_out",
    "spans_time",
    "split_events",
    "temporal_split",
    "temporal_split_at",
]


@dataclass(frozen=True)
class Split:
    """Three disjoint event sets. ``protocol`` names how they were made ("loo" or "temporal")."""

    train: Interactions
    valid: Interactions
    test: Interactions
    protocol: str

    def __repr__(self) -> str:
        return (
            f"Split({self.protocol}: train={len(self.train)}, valid={len(self.valid)}, "
            f"test={len(self.test)})"
        )

    @property
    def train_valid(self) -> Interactions:
        """Training plus validation events: the history available when predicting test."""
        return self.train.concat(self.valid)


def leave_one_out(interactions: Interactions, *, min_history: int = 3) -> Split:
    """Hold out each user's last item event for test and the one before for validation.

    Users with fewer than ``min_history`` item events keep all of them in training. Order is
    by timestamp, ties broken by input order, so the result is deterministic.
    """
    if min_history < 3:
        raise ValueError(f"min_history must be at least 3 (train, valid, test), got {min_history}")
    frame = interactions.frame
    has_item = (frame["item_id"] != "").to_numpy()
    # Position from the end of each user's item sequence: 0 = last event.
    from_end = np.full(len(frame), -1, dtype=np.int64)
    item_rows = np.flatnonzero(has_item)
    reversed_rank = frame.iloc[item_rows].groupby("user_id", sort=False).cumcount(ascending=False)
    from_end[item_rows] = reversed_rank.to_numpy()
    counts = frame.iloc[item_rows].groupby("user_id", sort=False).size()
    # pandas' hash-based isin: numpy's isin on object arrays compares pairwise (minutes on Beauty)
    eligible = frame["user_id"].isin(counts.index[counts.to_numpy() >= min_history]).to_numpy()
    test = eligible & (from_end == 0)
    valid = eligible & (from_end == 1)
    return Split(
        train=interactions.select(~(test | valid)),
        valid=interactions.select(valid),
        test=interactions.select(test),
        protocol="loo",
    )


def temporal_split_at(interactions: Interactions, *, valid_start: int, test_start: int) -> Split:
    """Split at two absolute timestamps: ``[.., valid_start)``, ``[valid_start, test_start)``,
    ``[test_start, ..]``."""
    if not interactions.has_timestamps:
        raise ValidationError("a temporal split needs real timestamps; this data is order-only")
    if valid_start > test_start:
        raise ValueError(f"valid_start ({valid_start}) is after test_start ({test_start})")
    ts = interactions.frame["timestamp"].to_numpy()
    return Split(
        train=interactions.select(ts < valid_start),
        valid=interactions.select((ts >= valid_start) & (ts < test_start)),
        test=interactions.select(ts >= test_start),
        protocol="temporal",
    )


def temporal_split(
    interactions: Interactions, *, valid_fraction: float = 0.05, test_fraction: float = 0.1
) -> Split:
    """Global temporal split by event-count quantiles: the last ``test_fraction`` of events (in
    time) are test and the ``valid_fraction`` before them validation."""
    if not (valid_fraction > 0 and test_fraction > 0 and valid_fraction + test_fraction < 1):
        raise ValueError(
            f"fractions must be positive and sum below 1, got {valid_fraction}, {test_fraction}"
        )
    ts = interactions.frame["timestamp"].to_numpy()
    valid_start, test_start = np.quantile(
        ts, [1 - valid_fraction - test_fraction, 1 - test_fraction]
    )
    return temporal_split_at(
        interactions, valid_start=int(np.ceil(valid_start)), test_start=int(np.ceil(test_start))
    )


def auto_split(interactions: Interactions) -> Split:
    """The standard split of a shop's events: :func:`temporal_split` when the events have real
    timestamps spread over time, else :func:`leave_one_out` (order-only data)."""
    timestamps = interactions.frame["timestamp"].to_numpy()
    if interactions.has_timestamps and len(np.unique(timestamps)) > 2:
        split = temporal_split(interactions)
        if len(split.test) and len(split.train):
            return split
        logger.info("timestamps too concentrated for a temporal split; using leave-one-out")
    return leave_one_out(interactions)


def split_events(interactions: Interactions, protocol: str) -> Split:
    """Split under a named protocol: ``"loo"`` (:func:`leave_one_out`) or ``"temporal"``
    (:func:`temporal_split`).

    Raises
    ------
    ValidationError
        An unknown protocol, or ``"temporal"`` on order-only events.
    """
    if protocol == "loo":
        return leave_one_out(interactions)
    if protocol == "temporal":
        return temporal_split(interactions)
    raise ValidationError(f"unknown split {protocol!r}; choose from {list(SPLITS)}", field="split")


def chosen_split(
    interactions: Interactions, split: str | None, *, source: str | None = None
) -> str:
    """The split protocol for ``interactions``: ``split`` when possible; ``"loo"`` for
    order-only events; never guessed for events with timestamps.

    Raises
    ------
    ValidationError
        ``split`` is None while the events have timestamps (which could be positions: the
        user must choose), or ``"temporal"`` for events without timestamps.
    """
    timed = interactions.has_timestamps and spans_time(interactions)
    if split == "temporal" and not timed:
        raise ValidationError(
            "split 'temporal' needs timestamps that span time; these events have none: use "
            "--split loo",
            source=source,
            field="timestamp",
        )
    if split is not None:
        return split
    if timed:
        raise ValidationError(
            "the events have timestamps: choose how to split them for evaluation with --split "
            "temporal (one global cut in time: train on the past, test on the latest events) "
            "or --split loo (each user's last event is the test target; use this if the "
            "'timestamps' are really positions or export times)",
            source=source,
            field="split",
        )
    logger.info("%s has no timestamps: split leave-one-out (by order)", source)
    return "loo"


def spans_time(interactions: Interactions) -> bool:
    """Whether the events' timestamps take more than two values (real times, not one export)."""
    return len(np.unique(interactions.frame["timestamp"].to_numpy())) > 2
