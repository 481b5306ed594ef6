"""Domain records (Item, Event) and their columnar collections (Catalog, Interactions).

Single records are what the API and the stores exchange; the collections hold many records as
pandas frames with a fixed set of typed columns, which is what readers produce and models consume.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

from shoprec.exceptions import ValidationError

__all__ = [
    "CATEGORY_SEPARATOR",
    "DEFAULT_PLATFORM",
    "EVENT_COLUMNS",
    "ITEM_COLUMNS",
    "Catalog",
    "Event",
    "EventType",
    "Interactions",
    "Item",
]

DEFAULT_PLATFORM = "default"
CATEGORY_SEPARATOR = " > "


class EventType(StrEnum):
    """What a customer did. Ordered roughly from weakest to strongest signal of interest."""

    VIEW = "view"
    CLICK = "click"
    SEARCH = "search"
    CART = "cart"
    PURCHASE = "purchase"
    RATING = "rating"
    REVIEW = "review"


@dataclass(frozen=True, slots=True)
class Item:
    """A product in a shop's catalog.

    ``category`` is the path from the root category to the leaf, e.g. ``("Beauty", "Skin Care")``.
    ``price`` is in the shop's currency; ``None`` when unknown.
    """

    item_id: str
    title: str
    description: str = ""
    brand: str = ""
    category: tuple[str, ...] = ()
    price: float | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    platform: str = DEFAULT_PLATFORM


@dataclass(frozen=True, slots=True)
class Event:
    """One customer action. ``item_id`` is empty only for searches, which carry ``query`` instead.

    ``timestamp`` is milliseconds since the Unix epoch (UTC), or the position in the user's sequence
    for order-only data.
    """

    user_id: str
    item_id: str
    event_type: EventType
    timestamp: int
    platform: str = DEFAULT_PLATFORM
    rating: float | None = None
    review: str = ""
    query: str = ""
    quantity: int = 1


# Column name -> pandas dtype of the columnar forms. Missing numbers are NaN, missing text "".
ITEM_COLUMNS: dict[str, str] = {
    "item_id": "object",
    "title": "object",
    "description": "object",
    "brand": "object",
    "category": "object",  # path joined by CATEGORY_SEPARATOR
    "price": "float64",
    "attributes": "object",  # JSON object text, "{}" when none
    "platform": "object",
}
EVENT_COLUMNS: dict[str, str] = {
    "user_id": "object",
    "item_id": "object",
    "event_type": "object",
    "timestamp": "int64",
    "platform": "object",
    "rating": "float64",
    "review": "object",
    "query": "object",
    "quantity": "int64",
}
_TEXT_DEFAULTS = {"description": "", "brand": "", "category": "", "attributes": "{}", "review": ""}


def _as_text(values: np.ndarray) -> pd.Series:
    """Cells as an object Series of ``str``: missing -> "", anything else -> ``str(value)``.

    The per-cell conversion (which round-trips through pandas' Arrow-backed ``str`` dtype) is
    skipped when every cell is already exactly ``str`` and valid UTF-8, where it is a no-op;
    ``str`` subclasses (``StrEnum`` members, ``np.str_``) are still converted, and text with
    lone surrogates still raises ``UnicodeEncodeError`` as the conversion does.
    """
    series = pd.Series(values, dtype=object)
    cells = series.to_numpy()
    if len(cells) and set(map(type, cells)) == {str} and _is_utf8(cells):
        return series
    return series.fillna("").map(str).astype(object)


def _is_utf8(cells: np.ndarray) -> bool:
    """Whether the strings encode as UTF-8 (no lone surrogates); one pass over the joined text."""
    try:
        "".join(cells).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _conform(frame: pd.DataFrame, columns: Mapping[str, str], what: str) -> pd.DataFrame:
    """Return ``frame`` with exactly ``columns``, in order and dtype, filling optional ones."""
    required = {"item_id"} if what == "catalog" else {"user_id", "item_id", "event_type"}
    missing = required - set(frame.columns)
    if missing:
        raise ValidationError(f"{what} is missing required column(s) {sorted(missing)}")
    out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    for name, dtype in columns.items():
        if name in frame.columns:
            values = frame[name].to_numpy()
        elif name == "platform":
            values = np.full(len(frame), DEFAULT_PLATFORM, dtype=object)
        elif name == "timestamp":
            values = np.arange(len(frame), dtype=np.int64)  # file order stands in for time
        elif name == "quantity":
            values = np.ones(len(frame), dtype=np.int64)
        elif dtype == "float64":
            values = np.full(len(frame), np.nan)
        else:
            values = np.full(len(frame), _TEXT_DEFAULTS.get(name, ""), dtype=object)
        if dtype == "object":
            out[name] = _as_text(values)
        else:
            out[name] = pd.Series(values).astype(dtype)
    return out


class Catalog:
    """The items of one or more shops, one row per ``(item_id)``; ids are unique.

    Parameters
    ----------
    frame
        A frame with at least an ``item_id`` column; other :data:`ITEM_COLUMNS` are optional.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        frame = _conform(frame, ITEM_COLUMNS, "catalog")
        duplicated = frame["item_id"].duplicated()
        if duplicated.any():
            row = int(np.flatnonzero(duplicated.to_numpy())[0])
            raise ValidationError(
                f"duplicate item id {frame['item_id'].iat[row]!r}", row=row + 1, field="item_id"
            )
        self.frame = frame
        self._position = pd.Index(frame["item_id"])

    @classmethod
    def from_items(cls, items: Iterable[Item]) -> Catalog:
        rows = []
        for item in items:
            row = asdict(item)
            row["category"] = CATEGORY_SEPARATOR.join(item.category)
            row["attributes"] = json.dumps(dict(item.attributes), sort_keys=True)
            row["price"] = np.nan if item.price is None else item.price
            rows.append(row)
        return cls(pd.DataFrame(rows, columns=list(ITEM_COLUMNS)))

    def __len__(self) -> int:
        return len(self.frame)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._position

    def __repr__(self) -> str:
        return f"Catalog({len(self)} items)"

    @property
    def item_ids(self) -> np.ndarray:
        """Item ids in catalog order, shape ``(n_items,)``, dtype object."""
        return self.frame["item_id"].to_numpy()

    def item(self, item_id: str) -> Item:
        """The record of one item; raises ``KeyError`` for an unknown id."""
        row = self.frame.iloc[self._position.get_loc(item_id)]
        price = float(row["price"])
        return Item(
            item_id=row["item_id"],
            title=row["title"],
            description=row["description"],
            brand=row["brand"],
            category=tuple(row["category"].split(CATEGORY_SEPARATOR)) if row["category"] else (),
            price=None if np.isnan(price) else price,
            attributes=json.loads(row["attributes"]),
            platform=row["platform"],
        )

    def subset(self, item_ids: Iterable[str]) -> Catalog:
        """The catalog restricted to ``item_ids`` (unknown ids are ignored), in catalog order."""
        keep = self.frame["item_id"].isin(set(item_ids))
        return Catalog(self.frame[keep.to_numpy()].reset_index(drop=True))

    def upsert(self, items: Catalog) -> Catalog:
        """A new catalog: ``items`` replace same-id rows in place, the others are appended."""
        frame = self.frame.set_index("item_id")
        update = items.frame.set_index("item_id")
        merged = pd.concat([frame.loc[~frame.index.isin(update.index)], update]).reset_index()
        order = {item: i for i, item in enumerate(self.item_ids)}  # known items keep their rows
        merged["_order"] = [order.get(i, len(order) + n) for n, i in enumerate(merged["item_id"])]
        merged = merged.sort_values("_order", kind="stable").drop(columns="_order")
        return Catalog(merged.reset_index(drop=True))


class Interactions:
    """Behaviour events, one row per event, kept in time order (stable for equal timestamps).

    Parameters
    ----------
    frame
        A frame with at least ``user_id``, ``item_id`` and ``event_type``; other
        :data:`EVENT_COLUMNS` are optional. Without ``timestamp``, row order is taken as time.
    has_timestamps
        False when timestamps are only positions (order-only data); temporal splits then refuse.
    """

    def __init__(self, frame: pd.DataFrame, *, has_timestamps: bool = True) -> None:
        has_timestamps = has_timestamps and "timestamp" in frame.columns
        frame = _conform(frame, EVENT_COLUMNS, "interactions")
        unknown = ~frame["event_type"].isin([t.value for t in EventType])
        if unknown.any():
            row = int(np.flatnonzero(unknown.to_numpy())[0])
            raise ValidationError(
                f"unknown event type {frame['event_type'].iat[row]!r}; expected one of "
                f"{[t.value for t in EventType]}",
                row=row + 1,
                field="event_type",
            )
        order = np.argsort(frame["timestamp"].to_numpy(), kind="stable")
        self.frame = frame.iloc[order].reset_index(drop=True)
        self.has_timestamps = has_timestamps

    @classmethod
    def from_events(cls, events: Iterable[Event], *, has_timestamps: bool = True) -> Interactions:
        rows = [asdict(e) for e in events]
        frame = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
        frame["event_type"] = frame["event_type"].map(lambda t: EventType(t).value)
        return cls(frame, has_timestamps=has_timestamps)

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        return (
            f"Interactions({len(self)} events, {self.frame['user_id'].nunique()} users, "
            f"{self.frame['item_id'].nunique()} items)"
        )

    @property
    def user_ids(self) -> np.ndarray:
        """Distinct users in order of first appearance, dtype object."""
        return self.frame["user_id"].unique()

    @property
    def item_ids(self) -> np.ndarray:
        """Distinct non-empty item ids in order of first appearance, dtype object."""
        items = self.frame["item_id"]
        return items[items != ""].unique()

    def select(self, mask: np.ndarray | pd.Series) -> Interactions:
        """The events where ``mask`` is true, keeping order and the timestamp kind."""
        return Interactions(
            self.frame[np.asarray(mask, dtype=bool)], has_timestamps=self.has_timestamps
        )

    def concat(self, other: Interactions) -> Interactions:
        """These events followed by ``other``'s, re-sorted by time (stable)."""
        frame = pd.concat([self.frame, other.frame], ignore_index=True)
        return Interactions(frame, has_timestamps=self.has_timestamps and other.has_timestamps)

    def histories(self) -> dict[str, np.ndarray]:
        """Each user's item ids in time order (searches without an item left out)."""
        frame = self.frame[self.frame["item_id"] != ""]
        return {
            user: group.to_numpy()
            for user, group in frame.groupby("user_id", sort=False)["item_id"]
        }

    def to_events(self) -> list[Event]:
        """The rows as :class:`Event` records (for small collections: tests, the API)."""
        records: list[dict[str, Any]] = self.frame.to_dict("records")
        return [
            Event(
                **{
                    **r,
                    "event_type": EventType(r["event_type"]),
                    "rating": None if np.isnan(r["rating"]) else float(r["rating"]),
                }
            )
            for r in records
        ]
