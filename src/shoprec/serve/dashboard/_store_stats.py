"""What the store says about recent days: events and served lists per day, per item counts,
online metrics per day. Read once per ``ttl_s`` and shared by the pages.

The window is the :data:`WINDOW_DAYS` days up to the most recently stored event (for a live
shop, now; for a store filled by an import of history, the end of that history), so a store
of old events still shows its last weeks rather than nothing. Reading is bounded by the window:
a large store's whole history is never loaded.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from shoprec.data import Catalog
from shoprec.online import online_metrics
from shoprec.store import EventStore

__all__ = ["WINDOW_DAYS", "StoreStats", "StoreStatsCache"]

logger = logging.getLogger(__name__)

WINDOW_DAYS = 14
_DAY_MS = 86_400_000


def _days(timestamps: pd.Series) -> pd.Series:
    return pd.to_datetime(timestamps, unit="ms", utc=True).dt.strftime("%Y-%m-%d")


@dataclass
class StoreStats:
    """The store over the window ``[since, until)`` (ms)."""

    total_events: int = 0
    since: int = 0
    until: int = 0
    events_per_day: dict[str, dict[str, int]] = field(default_factory=dict)
    item_events: dict[str, dict[str, int]] = field(default_factory=dict)  # item -> type -> n
    item_daily: dict[str, dict[str, int]] = field(default_factory=dict)  # item -> day -> n
    lists_per_day: dict[str, int] = field(default_factory=dict)
    item_exposure: dict[str, int] = field(default_factory=dict)  # item -> times shown
    online_daily: list[dict[str, Any]] = field(default_factory=list)
    impressions: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def window(self) -> str:
        """The window in words."""
        if not self.until:
            return "no events stored yet"
        first = pd.Timestamp(self.since, unit="ms", tz="UTC").strftime("%Y-%m-%d")
        last = pd.Timestamp(self.until - 1, unit="ms", tz="UTC").strftime("%Y-%m-%d %H:%M")
        return f"{first} to {last} UTC"


def _anchor(store: EventStore) -> int | None:
    """The timestamp of the most recently stored event (by sequence)."""
    last = store.last_sequence()
    if last <= 0:
        return None
    found = store.events_since(max(last - 1, 0), limit=1)
    return found[-1][1].timestamp if found else None


def read_store_stats(store: EventStore, catalog: Catalog | None) -> StoreStats:
    """Read the window's events, impressions and online metrics."""
    stats = StoreStats(total_events=store.count_events())
    anchor = _anchor(store)
    if anchor is None:
        return stats
    stats.until, stats.since = anchor + 1, anchor + 1 - WINDOW_DAYS * _DAY_MS
    events = store.event_frame(since=stats.since, until=stats.until)
    if len(events):
        day = _days(events["timestamp"])
        per_day = events.assign(day=day).groupby(["day", "event_type"]).size()
        for (d, kind), n in per_day.items():
            stats.events_per_day.setdefault(str(d), {})[str(kind)] = int(n)
        items = events[events["item_id"] != ""].assign(day=day)
        for (item, kind), n in items.groupby(["item_id", "event_type"]).size().items():
            stats.item_events.setdefault(str(item), {})[str(kind)] = int(n)
        for (item, d), n in items.groupby(["item_id", "day"]).size().items():
            stats.item_daily.setdefault(str(item), {})[str(d)] = int(n)
    shown = store.impression_frame(since=stats.since, until=stats.until)
    stats.impressions = len(shown)
    if len(shown):
        lists = shown.drop_duplicates("request_id")
        stats.lists_per_day = {
            str(k): int(v) for k, v in _days(lists["timestamp"]).value_counts().sort_index().items()
        }
        stats.item_exposure = {str(k): int(v) for k, v in shown["item_id"].value_counts().items()}
        try:
            table = online_metrics(
                store, since=stats.since, until=stats.until, by=("day",), catalog=catalog
            )
            stats.online_daily = table.to_dict(orient="records")
        except Exception as error:  # a page must still show what it can
            logger.exception("online metrics could not be computed")
            stats.problems.append(f"online metrics failed: {type(error).__name__}: {error}")
    return stats


class StoreStatsCache:
    """:func:`read_store_stats`, read again after ``ttl_s``, or sooner when events were stored."""

    def __init__(self, ttl_s: float = 30.0) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._cached: tuple[float, int, StoreStats] | None = None
        self._cost = 0.0  # seconds the last read took

    def get(self, store: EventStore, catalog: Catalog | None, *, fresh: bool = False) -> StoreStats:
        """The stats, from the cache when younger than ``ttl_s`` and no event arrived since."""
        with self._lock:
            sequence = store.last_sequence()
            cached = self._cached
            if not fresh and cached is not None:
                age = time.monotonic() - cached[0]
                # a busy shop stores events all the time: after new events, re-read only once
                # the last read's cost is small beside the time since (at most 10% busy)
                if age < (
                    self.ttl_s if cached[1] == sequence else min(self.ttl_s, 10 * self._cost)
                ):
                    return cached[2]
            start = time.monotonic()
            stats = read_store_stats(store, catalog)
            self._cost = time.monotonic() - start
            self._cached = (time.monotonic(), sequence, stats)
            return stats
