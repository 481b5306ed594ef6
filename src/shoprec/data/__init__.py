"""Data: domain schema, readers with validation, named datasets, splits."""

from __future__ import annotations

from shoprec.data.encoding import EncodedInteractions
from shoprec.data.schema import (
    CATEGORY_SEPARATOR,
    DEFAULT_PLATFORM,
    EVENT_COLUMNS,
    ITEM_COLUMNS,
    Catalog,
    Event,
    EventType,
    Interactions,
    Item,
)
from shoprec.data.splits import Split, leave_one_out, temporal_split, temporal_split_at

__all__ = [
    "CATEGORY_SEPARATOR",
    "DEFAULT_PLATFORM",
    "EVENT_COLUMNS",
    "ITEM_COLUMNS",
    "Catalog",
    "EncodedInteractions",
    "Event",
    "EventType",
    "Interactions",
    "Item",
    "Split",
    "leave_one_out",
    "temporal_split",
    "temporal_split_at",
]
