"""The service's own telemetry, read from its Prometheus registry in process.

Everything here counts since the service started (Prometheus counters and histograms); rates
over time come from the store (see :mod:`shoprec.serve.dashboard._store_stats`). Latency
quantiles are estimated from the histogram buckets the way Prometheus' ``histogram_quantile``
does (linear within a bucket), so they are as coarse as the buckets. The dashboard's own pages
are left out of the traffic figures.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry

__all__ = ["ServiceStats", "histogram_quantile", "service_stats"]

RECOMMEND_ROUTE = "/v1/recommendations"
INGEST_ROUTES = ("/v1/events", "/v1/events/batch")


@dataclass
class ServiceStats:
    """Counts and latencies since the service started."""

    requests: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    by_route: dict[str, int] = field(default_factory=dict)
    errors: int = 0  # 5xx other than 503
    shed: int = 0  # 503: overloaded, or the store unavailable
    recommend_requests: int = 0
    recommend_p50_ms: float = math.nan
    recommend_p99_ms: float = math.nan
    events: dict[str, int] = field(default_factory=dict)
    ingest_rejected: dict[str, int] = field(default_factory=dict)  # status -> requests
    drift: dict[str, float] = field(default_factory=dict)
    abuse: dict[str, float] = field(default_factory=dict)
    swaps: int = 0


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """The ``q`` quantile of cumulative ``(upper bound, count)`` buckets, interpolated linearly
    inside the bucket that holds it (NaN without observations)."""
    buckets = sorted(buckets)
    total = buckets[-1][1] if buckets else 0.0
    if total <= 0:
        return math.nan
    rank = q * total
    lower, below = 0.0, 0.0
    for upper, count in buckets:
        if count >= rank:
            if math.isinf(upper):
                return lower  # beyond the last finite bound: report that bound
            inside = count - below
            return lower + (upper - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = upper, count
    return lower


def service_stats(registry: CollectorRegistry) -> ServiceStats:
    """Read the service's metrics from its registry."""
    stats = ServiceStats()
    buckets: dict[float, float] = defaultdict(float)
    for family in registry.collect():
        for sample in family.samples:
            _read(stats, family.name, sample.name, sample.labels, sample.value, buckets)
    p50 = histogram_quantile(0.5, list(buckets.items()))
    p99 = histogram_quantile(0.99, list(buckets.items()))
    stats.recommend_p50_ms, stats.recommend_p99_ms = p50 * 1000, p99 * 1000
    return stats


def _read(
    stats: ServiceStats,
    family: str,
    name: str,
    labels: dict[str, str],
    value: float,
    buckets: dict[float, float],
) -> None:
    route = labels.get("route", "")
    if route.startswith("/dashboard"):
        return
    if name == "shoprec_http_requests_total":
        code, n = labels["status"], int(value)
        stats.requests += n
        stats.by_status[code] = stats.by_status.get(code, 0) + n
        stats.by_route[route] = stats.by_route.get(route, 0) + n
        if code == "503":
            stats.shed += n
        elif code.startswith("5"):
            stats.errors += n
        if route == RECOMMEND_ROUTE:
            stats.recommend_requests += n
        if route in INGEST_ROUTES and code.startswith("4"):
            stats.ingest_rejected[code] = stats.ingest_rejected.get(code, 0) + n
    elif name == "shoprec_http_request_seconds_bucket" and route == RECOMMEND_ROUTE:
        buckets[float(labels["le"])] += value
    elif name == "shoprec_events_total":
        stats.events[labels["outcome"]] = int(value)
    elif name == "shoprec_pipeline_swaps_total":
        stats.swaps = int(value)
    elif family == "shoprec_drift":
        stats.drift[labels["kind"]] = value
    elif family.startswith("shoprec_abuse"):
        stats.abuse[_label(name, labels)] = value


def _label(name: str, labels: dict[str, Any]) -> str:
    if not labels:
        return name
    return name + "{" + ",".join(f"{k}={v}" for k, v in sorted(labels.items())) + "}"
