"""Validation of records entering a store and their flat row forms, shared by every backend.

An event row is ``(user_id, item_id, event_type, timestamp, platform, rating, review, query,
quantity)``, the order of :data:`~shoprec.data._schema.EVENT_COLUMNS`; an item row is
``(item_id, title, description, brand, category, price, attributes, platform)`` with the category
path and the attributes as JSON text. Every check names the 1-based row within the batch and the
field, and runs before anything is written, so a bad batch is refused whole.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from shoprec.data import (
    CATEGORY_SEPARATOR,
    EVENT_COLUMNS,
    ITEM_COLUMNS,
    Catalog,
    Event,
    EventType,
    Item,
)
from shoprec.exceptions import IdempotencyConflictError, ValidationError

__all__: list[str] = []

EventRow = tuple[str, str, str, int, str, float | None, str, str, int]
ItemRow = tuple[str, str, str, str, str, float | None, str, str]

_INT64 = (-(2**63), 2**63 - 1)
_MAX_CLIENT_ID = 256  # characters; client event ids are keys, not payloads


def _text(value: object, row: int | None, field: str, *, required: bool = False) -> str:
    """``value`` as stored text; refuses non-strings and what SQL text columns cannot hold."""
    if not isinstance(value, str):
        raise ValidationError(
            f"{field} must be a string, got {type(value).__name__}", row=row, field=field
        )
    if required and not value:
        raise ValidationError(f"missing {field}", row=row, field=field)
    # PostgreSQL text cannot hold NUL and no backend can encode lone surrogates.
    if "\x00" in value:
        raise ValidationError(f"{field} contains a NUL character", row=row, field=field)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(f"{field} is not valid Unicode text", row=row, field=field) from None
    return str(value)


def _integer(value: object, row: int | None, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValidationError(f"{field} must be an integer, got {value!r}", row=row, field=field)
    number = int(value)
    if not _INT64[0] <= number <= _INT64[1]:
        raise ValidationError(f"{field} {number} is outside the 64-bit range", row=row, field=field)
    return number


def _event_row(event: object, row: int) -> EventRow:
    """One validated, normalised event row; ``row`` is its 1-based position in the batch."""
    if not isinstance(event, Event):
        raise ValidationError(f"expected an Event, got {type(event).__name__}", row=row)
    user_id = _text(event.user_id, row, "user_id", required=True)
    try:
        event_type = EventType(event.event_type)
    except ValueError:
        raise ValidationError(
            f"unknown event type {event.event_type!r}; expected one of "
            f"{[t.value for t in EventType]}",
            row=row,
            field="event_type",
        ) from None
    item_id = _text(event.item_id, row, "item_id", required=event_type != EventType.SEARCH)
    rating = event.rating
    if rating is not None:
        if isinstance(rating, bool) or not isinstance(rating, numbers.Real):
            raise ValidationError(
                f"rating must be a number, got {rating!r}", row=row, field="rating"
            )
        rating = float(rating)
        if not 0.0 <= rating <= 5.0:  # also refuses NaN
            raise ValidationError(f"rating {rating} outside 0-5", row=row, field="rating")
    quantity = _integer(event.quantity, row, "quantity")
    if quantity <= 0:
        raise ValidationError(f"non-positive quantity {quantity}", row=row, field="quantity")
    return (
        user_id,
        item_id,
        event_type.value,
        _integer(event.timestamp, row, "timestamp"),
        _text(event.platform, row, "platform", required=True),
        rating,
        _text(event.review, row, "review"),
        _text(event.query, row, "query"),
        quantity,
    )


def _event_rows(
    events: Sequence[Event], client_event_ids: Sequence[str | None] | None
) -> tuple[list[EventRow], list[str | None]]:
    """Validated rows and client ids (``None`` where absent) of one append batch."""
    if isinstance(events, Event):
        raise ValidationError("append takes a sequence of events; wrap a single event in a list")
    rows = [_event_row(event, i + 1) for i, event in enumerate(events)]
    if client_event_ids is None:
        return rows, [None] * len(rows)
    if isinstance(client_event_ids, str) or len(client_event_ids) != len(rows):
        raise ValidationError(
            f"client_event_ids must be a sequence with one entry per event ({len(rows)})",
            field="client_event_id",
        )
    ids: list[str | None] = []
    for i, cid in enumerate(client_event_ids):
        if cid is not None:
            cid = _text(cid, i + 1, "client_event_id", required=True)
            if len(cid) > _MAX_CLIENT_ID:
                raise ValidationError(
                    f"client_event_id longer than {_MAX_CLIENT_ID} characters",
                    row=i + 1,
                    field="client_event_id",
                )
        ids.append(cid)
    return rows, ids


StoredKeys = dict[tuple[str, str], tuple[int, Sequence[Any]]]
"""Stored events by ``(user_id, client_event_id)``: ``(seq, event row)``."""


def _resolve(
    rows: list[EventRow],
    client_ids: list[str | None],
    stamped: Sequence[bool],
    stored: StoredKeys,
    next_seq: int,
) -> tuple[list[tuple[int, EventRow, str | None]], tuple[int, ...], tuple[bool, ...]]:
    """Which rows of a batch are new, given the stored events under their idempotency keys.

    A client event id is a key per user. An event under a stored key (or one repeated earlier
    in the batch) is a duplicate if its fields equal the stored event's, the timestamp ignored
    where ``stamped`` says the caller stamped it on arrival (a retry arrives later); otherwise
    :class:`IdempotencyConflictError` names the row and the differing fields. ``stored`` is
    updated with the new rows. Returns ``(seq, row, client id)`` of the new rows, and each
    row's sequence and duplicate flag.
    """
    fresh: list[tuple[int, EventRow, str | None]] = []
    sequences: list[int] = []
    duplicate: list[bool] = []
    for i, (row, cid) in enumerate(zip(rows, client_ids, strict=True)):
        key = (row[0], cid) if cid is not None else None
        if key is not None and key in stored:
            seq, old = stored[key]
            differ = [
                name
                for name, new, was in zip(EVENT_COLUMNS, row, old, strict=True)
                if new != was and not (name == "timestamp" and stamped[i])
            ]
            if differ:
                raise IdempotencyConflictError(
                    f"client_event_id {cid!r} of this user belongs to a stored event with "
                    f"another {', '.join(differ)}; use a new id for a new event",
                    row=i + 1,
                    field="client_event_id",
                )
            sequences.append(seq)
            duplicate.append(True)
            continue
        if key is not None:
            stored[key] = (next_seq, row)
        fresh.append((next_seq, row, cid))
        sequences.append(next_seq)
        duplicate.append(False)
        next_seq += 1
    return fresh, tuple(sequences), tuple(duplicate)


def _stamped(stamped: Sequence[bool] | None, n: int) -> list[bool]:
    if stamped is None:
        return [False] * n
    if isinstance(stamped, str | bytes) or len(stamped) != n:
        raise ValidationError(
            f"stamped must be a sequence with one entry per event ({n})", field="stamped"
        )
    return [bool(flag) for flag in stamped]


def _event(row: Sequence[Any]) -> Event:
    """The :class:`Event` of a stored event row (in :func:`_event_row` order)."""
    user_id, item_id, event_type, timestamp, platform, rating, review, query, quantity = row
    return Event(
        user_id=user_id,
        item_id=item_id,
        event_type=EventType(event_type),
        timestamp=int(timestamp),
        platform=platform,
        rating=None if rating is None else float(rating),
        review=review,
        query=query,
        quantity=int(quantity),
    )


def _event_frame(rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """Stored event rows as a frame with :data:`EVENT_COLUMNS` (missing ratings -> NaN)."""
    frame = pd.DataFrame(list(rows), columns=list(EVENT_COLUMNS))
    frame["rating"] = pd.to_numeric(frame["rating"], errors="coerce").astype("float64")
    return frame


def _item_row(item: object, row: int) -> ItemRow:
    """One validated item row; ``row`` is its 1-based position in the batch."""
    if not isinstance(item, Item):
        raise ValidationError(f"expected an Item, got {type(item).__name__}", row=row)
    if isinstance(item.category, str) or not isinstance(item.category, Sequence):
        raise ValidationError("category must be a tuple of names", row=row, field="category")
    category = [_text(name, row, "category", required=True) for name in item.category]
    price = item.price
    if price is not None:
        if isinstance(price, bool) or not isinstance(price, numbers.Real):
            raise ValidationError(f"price must be a number, got {price!r}", row=row, field="price")
        price = float(price)
        if not (math.isfinite(price) and price >= 0):
            raise ValidationError(
                f"price {price} is negative or not finite", row=row, field="price"
            )
    if not isinstance(item.attributes, Mapping):
        raise ValidationError("attributes must be a mapping", row=row, field="attributes")
    attributes = {
        _text(key, row, "attributes"): _text(value, row, "attributes")
        for key, value in item.attributes.items()
    }
    return (
        _text(item.item_id, row, "item_id", required=True),
        _text(item.title, row, "title"),
        _text(item.description, row, "description"),
        _text(item.brand, row, "brand"),
        json.dumps(category, ensure_ascii=False),
        price,
        json.dumps(attributes, sort_keys=True, ensure_ascii=False),
        _text(item.platform, row, "platform", required=True),
    )


def _item_rows(items: Iterable[Item]) -> list[ItemRow]:
    """Validated item rows, one per item id; a later entry for the same id wins."""
    if isinstance(items, Item):
        raise ValidationError("upsert_items takes a sequence of items; wrap one item in a list")
    rows: dict[str, ItemRow] = {}
    for i, item in enumerate(items):
        row = _item_row(item, i + 1)
        rows.pop(row[0], None)  # keep the position of the winning entry
        rows[row[0]] = row
    return list(rows.values())


def _item(row: Sequence[Any]) -> Item:
    item_id, title, description, brand, category, price, attributes, platform = row
    return Item(
        item_id=item_id,
        title=title,
        description=description,
        brand=brand,
        category=tuple(json.loads(category)),
        price=None if price is None else float(price),
        attributes=json.loads(attributes),
        platform=platform,
    )


def _catalog(rows: Sequence[Sequence[Any]]) -> Catalog:
    """A :class:`Catalog` of stored item rows, without building an :class:`Item` per row."""
    frame = pd.DataFrame(list(rows), columns=list(ITEM_COLUMNS))  # the item row order
    frame["category"] = [CATEGORY_SEPARATOR.join(json.loads(c)) for c in frame["category"]]
    frame["price"] = pd.to_numeric(frame["price"], errors="coerce").astype(np.float64)
    return Catalog(frame)


def _ids(values: Iterable[str], field: str) -> list[str]:
    """Distinct ids in first-seen order; a bare string is refused (it would iterate characters)."""
    if isinstance(values, str):
        raise ValidationError(f"expected a collection of {field}s, got one string", field=field)
    return list(dict.fromkeys(_text(v, i + 1, field) for i, v in enumerate(values)))


def _limit(value: int | None, field: str = "limit") -> int | None:
    if value is None:
        return None
    number = _integer(value, None, field)
    if number < 0:
        raise ValidationError(f"{field} must be >= 0, got {number}", field=field)
    return number
