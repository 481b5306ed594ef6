"""Abuse flags as Prometheus gauges, read from the store's quarantine records when scraped.

``shoprec_abuse_accounts{status="flagged"|"released", kind=...}`` counts the records and
``shoprec_abuse_suspicious_items`` the items behind the last scan's cohort flags. Records are read
at most every ``ttl_s`` seconds; a scrape never fails because the store is down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from shoprec.quality import latest_scan
from shoprec.store import EventStore, quarantine_records

__all__ = ["AbuseCollector"]

logger = logging.getLogger(__name__)


class AbuseCollector(Collector):
    """Collector of the abuse gauges of the store ``get_store()`` returns."""

    def __init__(self, get_store: Callable[[], EventStore], *, ttl_s: float = 15.0) -> None:
        self.get_store = get_store
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._cached: tuple[float, Counter[tuple[str, str]], int] | None = None

    def values(self) -> tuple[Counter[tuple[str, str]], int]:
        """Records by ``(status, kind)`` and the last scan's suspicious items (cached)."""
        with self._lock:
            if self._cached is not None and time.monotonic() - self._cached[0] < self.ttl_s:
                return self._cached[1], self._cached[2]
            try:
                store = self.get_store()
                records = quarantine_records(store).values()
                counts = Counter((str(r.get("status")), str(r.get("kind"))) for r in records)
                scan = latest_scan(store)
                items = 0 if scan is None else len(scan.suspicious_items)
            except Exception:  # a scrape must not fail because the store is down
                logger.exception("abuse gauges could not be read")
                counts, items = Counter(), 0
            self._cached = (time.monotonic(), counts, items)
            return counts, items

    def collect(self) -> Iterator[GaugeMetricFamily]:
        counts, items = self.values()
        accounts = GaugeMetricFamily(
            "shoprec_abuse_accounts",
            "Accounts with a quarantine record: flagged (events held out of training) or "
            "released, by why they were flagged",
            labels=["status", "kind"],
        )
        for (status, kind), n in sorted(counts.items()):
            accounts.add_metric([status, kind], n)
        yield accounts
        yield GaugeMetricFamily(
            "shoprec_abuse_suspicious_items",
            "Items behind the last abuse scan's cohort flags",
            value=items,
        )
