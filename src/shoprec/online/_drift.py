"""Drift: how far recent behaviour has moved from what the model was trained on.

A :class:`DataProfile` summarises events (counts by event type, leaf category and item, and
the time span); it is small enough to keep in a pipeline's metrics and in the model registry.
:func:`measure_drift` compares a recent profile with the training one:

- ``event_type``, ``category``, ``item``: total variation distance between the two
  distributions (half the L1 distance, 0 = identical, 1 = disjoint);
- ``new_item_share``: share of recent item events on items the training data never saw.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from shoprec.data import CATEGORY_SEPARATOR, Catalog
from shoprec.store import EventStore

__all__ = ["DRIFT_KINDS", "DataProfile", "measure_drift", "store_drift"]

DRIFT_KINDS = ("event_type", "category", "item", "new_item_share")


@dataclass(frozen=True)
class DataProfile:
    """Counts that describe a body of events."""

    events: int
    first: int
    last: int
    event_types: dict[str, int]
    categories: dict[str, int]
    items: dict[str, int]

    @classmethod
    def of(cls, events: pd.DataFrame, catalog: Catalog | None = None) -> DataProfile:
        """The profile of an events frame (``Interactions.frame`` or a store's event frame);
        categories are the leaf categories of ``catalog``."""
        with_item = events[events["item_id"] != ""]
        categories: dict[str, int] = {}
        if catalog is not None and len(with_item):
            leaf = catalog.frame.set_index("item_id")["category"].map(
                lambda path: path.split(CATEGORY_SEPARATOR)[-1] if path else ""
            )
            counts = with_item["item_id"].map(leaf).fillna("").value_counts()
            categories = {str(k): int(v) for k, v in counts.items()}
        ts = events["timestamp"]
        return cls(
            events=len(events),
            first=int(ts.min()) if len(events) else 0,
            last=int(ts.max()) if len(events) else 0,
            event_types={str(k): int(v) for k, v in events["event_type"].value_counts().items()},
            categories=categories,
            items={str(k): int(v) for k, v in with_item["item_id"].value_counts().items()},
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataProfile:
        """The profile of :meth:`to_dict`'s output."""
        return cls(**{key: data[key] for key in cls.__dataclass_fields__})


def _total_variation(a: Mapping[str, int], b: Mapping[str, int]) -> float:
    na, nb = sum(a.values()), sum(b.values())
    if not na or not nb:
        return float("nan")
    keys = set(a) | set(b)
    return 0.5 * sum(abs(a.get(k, 0) / na - b.get(k, 0) / nb) for k in keys)


def measure_drift(reference: DataProfile, recent: DataProfile) -> dict[str, float]:
    """Drift of ``recent`` from ``reference``, one value per :data:`DRIFT_KINDS`."""
    recent_item_events = sum(recent.items.values())
    unseen = sum(n for item, n in recent.items.items() if item not in reference.items)
    return {
        "event_type": _total_variation(reference.event_types, recent.event_types),
        "category": _total_variation(reference.categories, recent.categories),
        "item": _total_variation(reference.items, recent.items),
        "new_item_share": unseen / recent_item_events if recent_item_events else float("nan"),
    }


def store_drift(
    store: EventStore,
    *,
    reference: DataProfile | None = None,
    window_ms: int = 86_400_000,
    now_ms: int | None = None,
    catalog: Catalog | None = None,
) -> tuple[dict[str, float], DataProfile]:
    """Drift of the store's last ``window_ms`` of events from ``reference`` (the training
    data's profile; default: the store's events before the window). Returns the drift and the
    recent profile."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    catalog = catalog if catalog is not None else store.catalog()
    recent = DataProfile.of(store.event_frame(since=now - window_ms, until=now + 1), catalog)
    if reference is None:
        reference = DataProfile.of(store.event_frame(until=now - window_ms), catalog)
    return measure_drift(reference, recent), recent
