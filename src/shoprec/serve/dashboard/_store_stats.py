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
from shoprec.online import attributed_impressions, summarise
from shoprec.store import EventStore

__all__ = ["WINDOW_DAYS", "StoreStats", "StoreStatsCache", "bucket_for", "time_buckets"]

logger = logging.getLogger(__name__)

WINDOW_DAYS = 14
_DAY_MS = 86_400_000


_FORMATS = {"minute": "%Y-%m-%d %H:%M", "hour": "%Y-%m-%d %Hh", "day": "%Y-%m-%d"}


def time_buckets(timestamps: pd.Series, *, per: str) -> pd.Series:
    """The ``per`` minute, hour or day of ms timestamps (UTC) as text that sorts in time."""
    return pd.to_datetime(timestamps, unit="ms", utc=True).dt.strftime(_FORMATS[per])


def bucket_for(first: int, last: int) -> str:
    """Series over a span are drawn per minute up to 3 hours, per hour up to 2 days, else per
    day: a service that started an hour ago still gets a line, not one dot."""
    span = last - first
    return "minute" if span <= _DAY_MS / 8 else "hour" if span <= 2 * _DAY_MS else "day"


@dataclass
class StoreStats:
    """The store over the window ``[since, until)`` (ms)."""

    total_events: int = 0
    since: int = 0
    until: int = 0
    per: str = "day"  # the series' bucket: minute, hour or day (see bucket_for)
    events_per_bucket: dict[str, dict[str, int]] = field(default_factory=dict)
    item_events: dict[str, dict[str, int]] = field(default_factory=dict)  # item -> type -> n
    item_series: dict[str, dict[str, int]] = field(default_factory=dict)  # item -> bucket -> n
    lists_per_bucket: dict[str, int] = field(default_factory=dict)
    item_exposure: dict[str, int] = field(default_factory=dict)  # item -> times shown
    online_series: list[dict[str, Any]] = field(default_factory=list)  # rows with "bucket"
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
    shown = store.impression_frame(since=stats.since, until=stats.until)
    starts = [int(f["timestamp"].min()) for f in (events, shown) if len(f)]
    stats.per = bucket_for(min(starts, default=anchor), anchor)
    if len(events):
        bucket = time_buckets(events["timestamp"], per=stats.per)
        per_bucket = events.assign(bucket=bucket).groupby(["bucket", "event_type"]).size()
        for (b, kind), n in per_bucket.items():
            stats.events_per_bucket.setdefault(str(b), {})[str(kind)] = int(n)
        items = events[events["item_id"] != ""].assign(bucket=bucket)
        for (item, kind), n in items.groupby(["item_id", "event_type"]).size().items():
            stats.item_events.setdefault(str(item), {})[str(kind)] = int(n)
        for (item, b), n in items.groupby(["item_id", "bucket"]).size().items():
            stats.item_series.setdefault(str(item), {})[str(b)] = int(n)
    stats.impressions = len(shown)
    if len(shown):
        lists = shown.drop_duplicates("request_id")
        counts = time_buckets(lists["timestamp"], per=stats.per).value_counts()
        stats.lists_per_bucket = {str(k): int(v) for k, v in counts.sort_index().items()}
        stats.item_exposure = {str(k): int(v) for k, v in shown["item_id"].value_counts().items()}
        try:
            attributed = attributed_impressions(
                store, since=stats.since, until=stats.until, catalog=catalog
            )
            bucket = time_buckets(attributed["timestamp"], per=stats.per)
            table = summarise(attributed.assign(bucket=bucket), ("bucket",))
            stats.online_series = table.to_dict(orient="records")
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
