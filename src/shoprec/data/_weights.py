"""Event weights and history matrices: how much each event says about interest, shared by the
models that count events (co-visitation, ALS).

The portrait (:class:`~shoprec.profiles.PortraitConfig`) weighs events on its own scale: it
describes a user to people and to the ranker, where a purchase rightly outweighs more views
than it does in these counts, tuned for ranking.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

import numpy as np
import scipy.sparse as sp

from shoprec.data._schema import EventType

__all__ = ["DEFAULT_EVENT_WEIGHTS", "event_weights", "history_matrix"]

# How much one event of each type says about interest; purchases and reviews (which imply a
# purchase) count four views, a cart three.
DEFAULT_EVENT_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {
        EventType.VIEW.value: 1.0,
        EventType.CLICK.value: 1.0,
        EventType.SEARCH.value: 1.0,
        EventType.CART.value: 3.0,
        EventType.PURCHASE.value: 4.0,
        EventType.RATING.value: 4.0,
        EventType.REVIEW.value: 4.0,
    }
)


def event_weights(
    event_types: np.ndarray, weights: Mapping[str, float] | None = None
) -> np.ndarray:
    """Weight of each event from its type, divided by the mean so that the weights average 1.

    Parameters
    ----------
    event_types
        Event type names, shape ``(n_events,)``.
    weights
        Type name -> weight; types not named weigh 1. ``None`` uses :data:`DEFAULT_EVENT_WEIGHTS`.

    Returns
    -------
    np.ndarray
        Shape ``(n_events,)``, float64. Data with a single event type gets all ones, so the
        weighting only matters where event types are mixed.
    """
    table = DEFAULT_EVENT_WEIGHTS if weights is None else weights
    types, inverse = np.unique(np.asarray(event_types, dtype=str), return_inverse=True)
    per_type = np.array([float(table.get(t, 1.0)) for t in types], dtype=np.float64)
    if (per_type <= 0).any():
        raise ValueError(
            f"event weights must be positive, got {dict(zip(types, per_type, strict=True))}"
        )
    values = per_type[inverse.reshape(-1)]
    return values / values.mean() if len(values) else values


def history_matrix(
    histories: Sequence[np.ndarray], n_items: int, *, recency_decay: float = 1.0
) -> sp.csr_matrix:
    """Histories as a sparse ``(len(histories), n_items)`` float64 matrix.

    The item ``t`` places before the last of its history weighs ``recency_decay ** t``; repeated
    items add up. With the default ``recency_decay=1`` entries are event counts.
    """
    lengths = np.fromiter((len(h) for h in histories), dtype=np.int64, count=len(histories))
    items = (
        np.concatenate([np.asarray(h, dtype=np.int64) for h in histories])
        if lengths.sum()
        else np.empty(0, dtype=np.int64)
    )
    rows = np.repeat(np.arange(len(histories)), lengths)
    ends = np.cumsum(lengths)
    from_end = ends[rows] - 1 - np.arange(len(items))
    values = np.power(float(recency_decay), from_end.astype(np.float64))
    matrix = sp.csr_matrix((values, (rows, items)), shape=(len(histories), n_items))
    matrix.sum_duplicates()
    return matrix
