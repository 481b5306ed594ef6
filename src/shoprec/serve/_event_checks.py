"""What the service checks of incoming events beyond their schema: reserved user ids, known
items, searches with a query, and times within sane bounds of the service's clock."""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence

from shoprec.data import Catalog, Event, EventType
from shoprec.exceptions import ValidationError

__all__ = ["RESERVED_USER_PREFIX", "check_events"]

RESERVED_USER_PREFIX = "shoprec:"
"""User ids starting with this are refused: the service keeps its own documents under them."""


def check_events(
    events: Sequence[Event],
    catalog: Catalog,
    removed: Collection[str],
    *,
    max_future_skew_ms: int,
    now_ms: int | None = None,
) -> None:
    """Raise :class:`ValidationError` naming the 1-based row and field of the first event the
    service refuses.

    An event more than ``max_future_skew_ms`` ahead of the clock is refused: one far-future
    event would stay the user's "latest" forever (their portrait and history order follow
    time). Times before 2000 are refused by the request schema.
    """
    now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    for row, event in enumerate(events, start=1):
        if event.user_id.startswith(RESERVED_USER_PREFIX):
            raise ValidationError(
                f"user ids starting with {RESERVED_USER_PREFIX!r} are reserved",
                row=row,
                field="user_id",
            )
        if event.item_id and (event.item_id not in catalog or event.item_id in removed):
            raise ValidationError("unknown item id", row=row, field="item_id")
        if not event.item_id and event.event_type == EventType.SEARCH and not event.query:
            raise ValidationError("a search without an item needs a query", row=row, field="query")
        if event.timestamp > now + max_future_skew_ms:
            raise ValidationError(_future(event.timestamp, now), row=row, field="timestamp")


def _future(timestamp: int, now: int) -> str:
    ahead_h = (timestamp - now) / 3_600_000
    hint = ""
    if timestamp > now * 500:  # 1e3 x now would be microseconds, 1e6 x nanoseconds
        hint = "; it looks like micro- or nanoseconds: send milliseconds since the epoch"
    return f"timestamp {timestamp} is {ahead_h:,.0f} h ahead of the service's clock{hint}"
