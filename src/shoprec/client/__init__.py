"""A typed Python client for the shoprec HTTP API, blocking and asyncio (httpx).

Retries are safe: connection failures, timeouts and "try again" answers (429, 502-504) are
retried with backoff, and every event gets a ``client_event_id`` before its first attempt, so an
event whose answer was lost is stored once. Errors are :class:`~shoprec.exceptions.ServiceError`
with the status code and the fields at fault. Only httpx is imported: the client runs without
the rest of shoprec's dependencies being used.
"""

from __future__ import annotations

from shoprec.client._client import AsyncShoprecClient, ShoprecClient, event
from shoprec.client._models import (
    BatchResult,
    CatalogItem,
    EventResult,
    Experiment,
    ExperimentStatus,
    Filters,
    OnlineMetrics,
    Portrait,
    Recommendation,
    Recommendations,
    ScoredItem,
    SearchResults,
    SimilarItems,
    VariantResult,
    VersionInfo,
    Versions,
)
from shoprec.client._transport import RetryPolicy
from shoprec.exceptions import ServiceError

__all__ = [
    "AsyncShoprecClient",
    "BatchResult",
    "CatalogItem",
    "EventResult",
    "Experiment",
    "ExperimentStatus",
    "Filters",
    "OnlineMetrics",
    "Portrait",
    "Recommendation",
    "Recommendations",
    "RetryPolicy",
    "ScoredItem",
    "SearchResults",
    "ServiceError",
    "ShoprecClient",
    "SimilarItems",
    "VariantResult",
    "VersionInfo",
    "Versions",
    "event",
]
