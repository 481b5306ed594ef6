"""Drift as Prometheus gauges: ``shoprec_drift{kind=...}``, computed when scraped, cached.

The reference is the training data's profile when the active pipeline recorded one in its
metrics (``data_profile``, written by ``shoprec retrain``), else the store's events before the
recent window. Computing it reads the window's events from the store, so a result is kept for
``ttl_s`` seconds; a scrape never waits on more than one computation at a time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from shoprec.online import DataProfile, store_drift

__all__ = ["DriftCollector"]

logger = logging.getLogger(__name__)


class DriftCollector(Collector):
    """Collector of the drift gauges of the serving state ``get_state()`` returns."""

    def __init__(
        self, get_state: Callable[[], object], *, window_hours: float = 24.0, ttl_s: float = 300.0
    ) -> None:
        self.get_state = get_state
        self.window_ms = int(window_hours * 3_600_000)
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._cached: tuple[float, dict[str, float]] | None = None

    def values(self) -> dict[str, float]:
        """The current drift (cached for ``ttl_s``); empty if it cannot be computed."""
        with self._lock:
            if self._cached is not None and time.monotonic() - self._cached[0] < self.ttl_s:
                return self._cached[1]
            state = self.get_state()
            try:
                pipeline = state.active.pipeline  # type: ignore[attr-defined]
                profile = pipeline.metrics_.get("data_profile")
                drift, _ = store_drift(
                    state.store,  # type: ignore[attr-defined]
                    reference=None if profile is None else DataProfile.from_dict(profile),
                    window_ms=self.window_ms,
                    catalog=pipeline.catalog,
                )
            except Exception:  # a scrape must not fail because the store is down
                logger.exception("drift could not be computed")
                drift = {}
            self._cached = (time.monotonic(), drift)
            return drift

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "shoprec_drift",
            "Recent events against the training data: total variation of the event-type, "
            "category and item distributions, and the share of events on unseen items",
            labels=["kind"],
        )
        for kind, value in self.values().items():
            if value == value:  # NaN: not enough data
                gauge.add_metric([kind], value)
        yield gauge
