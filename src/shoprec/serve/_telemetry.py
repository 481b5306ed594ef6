"""Prometheus metrics, an access log without personal data, and redaction of user ids.

The access log names the route template (``/v1/users/{user_id}/portrait``), never the raw path
or the query string. Handlers mark the user ids they work on with :func:`mark_personal`; while
the service runs, a log record factory replaces those ids in every log message emitted in that
request's context, whichever library logs it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["REDACTED", "RequestMetrics", "ServiceMetrics", "install_redaction", "mark_personal"]

REDACTED = "<redacted>"
access_logger = logging.getLogger("shoprec.serve.access")  # a name operators configure
_personal: ContextVar[tuple[str, ...]] = ContextVar("shoprec_personal", default=())
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class ServiceMetrics:
    """The service's Prometheus metrics, in a registry of their own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "shoprec_http_requests",
            "HTTP requests by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "shoprec_http_request_seconds",
            "HTTP request latency by route template",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.events = Counter(
            "shoprec_events", "Ingested events by outcome", ["outcome"], registry=self.registry
        )
        self.batch_size = Histogram(
            "shoprec_recommend_batch_size",
            "Recommendation requests computed together in one pipeline call",
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=self.registry,
        )
        self.swaps = Counter(
            "shoprec_pipeline_swaps", "Pipeline deployments and rollbacks", registry=self.registry
        )
        self.abuse_scans = Counter(
            "shoprec_abuse_scans", "Abuse scans of the store's events", registry=self.registry
        )
        self.version = Gauge(
            "shoprec_pipeline_active",
            "1 for the active pipeline version",
            ["version"],
            registry=self.registry,
        )

    def set_version(self, version: str) -> None:
        """Mark ``version`` as the active one."""
        self.version.clear()
        self.version.labels(version=version).set(1)


class RequestMetrics:
    """ASGI middleware: counts and times every HTTP request and writes the access log."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics, *, access_log: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # unless a response starts

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            elapsed = time.perf_counter() - start
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(elapsed)
            if self.access_log:
                access_logger.info("%s %s %d %.1f ms", method, route, status, elapsed * 1000)


def mark_personal(*values: str | None) -> None:
    """Redact ``values`` from the log messages of the current request."""
    marked = tuple(v for v in values if v)
    if marked:
        _personal.set(_personal.get() + marked)


def install_redaction() -> Callable[[], None]:
    """Install the redacting log record factory; returns the function that removes it."""
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        marked = _personal.get()
        if marked:
            _redact(record, marked)
        return record

    logging.setLogRecordFactory(factory)

    def uninstall() -> None:
        if logging.getLogRecordFactory() is factory:
            logging.setLogRecordFactory(previous)

    return uninstall


def _redact(record: logging.LogRecord, marked: tuple[str, ...]) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a malformed record: leave it to logging's own error handling
        return
    pattern = "|".join(re.escape(v) for v in sorted(set(marked), key=len, reverse=True))
    redacted = re.sub(rf"(?<!\w)(?:{pattern})(?!\w)", REDACTED, message)
    if redacted != message:
        record.msg, record.args = redacted, None
