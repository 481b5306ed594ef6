"""The typed clients of the HTTP API: :class:`ShoprecClient` (blocking) and
:class:`AsyncShoprecClient` (asyncio). Both send the same :mod:`~shoprec.client._calls`."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from shoprec.client import _calls as calls
from shoprec.client._calls import Call, EventFields
from shoprec.client._models import (
    BatchResult,
    CatalogItem,
    EventResult,
    Experiment,
    ExperimentStatus,
    Filters,
    OnlineMetrics,
    Portrait,
    Recommendations,
    SearchResults,
    SimilarItems,
    Versions,
)
from shoprec.client._transport import RetryPolicy, send, send_async
from shoprec.exceptions import ServiceError

__all__ = ["AsyncShoprecClient", "ShoprecClient"]

DEFAULT_URL = "http://127.0.0.1:8000"


def _headers(api_key: str | None) -> dict[str, str]:
    return {} if api_key is None else {"X-API-Key": api_key}


def event(
    user_id: str,
    item_id: str = "",
    event_type: str = "view",
    *,
    timestamp: int | None = None,
    platform: str | None = None,
    rating: float | None = None,
    review: str | None = None,
    query: str | None = None,
    quantity: int | None = None,
    client_event_id: str | None = None,
    request_id: str | None = None,
    position: int | None = None,
    dwell_ms: int | None = None,
) -> dict[str, Any]:
    """One event as the API takes it (``None`` fields left out; ``timestamp`` in ms since the
    epoch, the service's clock when absent). ``request_id`` and ``position`` (0-based) name
    the recommendation list and place the event answers, for online metrics."""
    fields = {
        "user_id": user_id,
        "item_id": item_id,
        "event_type": event_type,
        "timestamp": timestamp,
        "platform": platform,
        "rating": rating,
        "review": review,
        "query": query,
        "quantity": quantity,
        "client_event_id": client_event_id,
        "request_id": request_id,
        "position": position,
        "dwell_ms": dwell_ms,
    }
    return {key: value for key, value in fields.items() if value is not None}


class _Options:
    """What both clients share: the retry policy, its random source, and headers."""

    def __init__(self, api_key: str | None, retry: RetryPolicy | None, seed: int | None) -> None:
        self.headers = _headers(api_key)
        self.retry = retry or RetryPolicy()
        self.rng = random.Random(seed)


class ShoprecClient:
    """A blocking client of the shoprec HTTP API.

    Parameters
    ----------
    base_url
        The service, e.g. ``http://127.0.0.1:8000``.
    api_key
        Sent as ``X-API-Key``: the read key for recommendations, search, items and portraits,
        the admin key for events, catalog changes and admin calls.
    timeout
        Seconds per attempt.
    retry
        Retry policy (default: 4 attempts, 0.2 s doubling backoff).
    http_client
        An ``httpx.Client`` to use instead (e.g. FastAPI's ``TestClient``); its base URL is used
        and it is not closed by :meth:`close`.
    random_state
        Seed of the backoff jitter.

    Examples
    --------
    >>> with ShoprecClient("http://127.0.0.1:8000") as shop:  # doctest: +SKIP
    ...     shop.send_event(event("u1", "B07", "view"))
    ...     for rec in shop.recommend("u1", k=5).items:
    ...         print(rec.item_id, rec.reason)
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        api_key: str | None = None,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        http_client: httpx.Client | None = None,
        random_state: int | None = None,
    ) -> None:
        self._options = _Options(api_key, retry, random_state)
        self._owned = http_client is None
        self._http = http_client or httpx.Client(base_url=base_url, timeout=timeout)
        self._http.headers.update(self._options.headers)

    def _run(self, call: Call[Any]) -> Any:
        return send(self._http, call, self._options.retry, self._options.rng)

    def close(self) -> None:
        """Close the connections (unless the ``http_client`` was given)."""
        if self._owned:
            self._http.close()

    def __enter__(self) -> ShoprecClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- events
    def send_event(self, event: EventFields) -> EventResult:
        """Store one event (see :func:`event`); retried safely through its client event id."""
        return self._run(calls.send_event(event))

    def send_events(self, events: Iterable[EventFields]) -> BatchResult:
        """Store events all or nothing, in one request (the service caps the batch size)."""
        return self._run(calls.send_events(events))

    # -- reading
    def recommend(
        self,
        user_id: str | None = None,
        *,
        k: int = 10,
        diversity: float | None = None,
        filters: Filters | None = None,
        platform: str | None = None,
        explain: bool = True,
    ) -> Recommendations:
        """The top ``k`` items for ``user_id`` with reasons (anonymous when ``None``)."""
        call = calls.recommend(
            user_id, k=k, diversity=diversity, filters=filters, platform=platform, explain=explain
        )
        return self._run(call)

    def search(
        self, query: str, *, user_id: str | None = None, k: int = 10, personalization: float = 0.3
    ) -> SearchResults:
        """Semantic search, personalised by ``user_id``'s portrait when given."""
        return self._run(calls.search(query, user_id=user_id, k=k, personalization=personalization))

    def similar(self, item_id: str, *, k: int = 10) -> SimilarItems:
        """Items like ``item_id``."""
        return self._run(calls.similar(item_id, k=k))

    def item(self, item_id: str) -> CatalogItem:
        return self._run(calls.item(item_id))

    def portrait(self, user_id: str) -> Portrait:
        return self._run(calls.portrait(user_id))

    # -- catalog and users
    def upsert_items(self, items: Iterable[CatalogItem]) -> int:
        """Add or replace items (recommendable at once); returns how many were written."""
        return self._run(calls.upsert_items(items))

    def delete_item(self, item_id: str) -> int:
        return self._run(calls.delete_item(item_id))

    def delete_user(self, user_id: str) -> int:
        """Delete a user's events and portrait; returns the events deleted."""
        return self._run(calls.delete_user(user_id))

    # -- operations
    def version(self) -> Versions:
        return self._run(calls.version())

    def reload(self, path: str | None = None) -> Versions:
        """Load a pipeline artifact (default: the configured one) without downtime."""
        return self._run(calls.reload(path))

    def rollback(self, version: str | None = None) -> Versions:
        """Swap a kept version back in: ``version``, or the one replaced last."""
        return self._run(calls.rollback(version))

    def health(self) -> str:
        return self._run(calls.health())

    def ready(self) -> bool:
        """Whether the service can answer (pipeline loaded, store answering)."""
        try:
            return self._run(calls.ready())
        except ServiceError as error:
            if error.status_code == 503:
                return False
            raise

    # -- online metrics and experiments
    def online_metrics(
        self,
        *,
        by: str = "version,variant,day",
        since: int | None = None,
        until: int | None = None,
        window_hours: float | None = None,
    ) -> OnlineMetrics:
        """CTR, conversion and dwell per ``by`` group (version, experiment, variant, day)."""
        call = calls.online_metrics(by=by, since=since, until=until, window_hours=window_hours)
        return self._run(call)

    def experiments(self) -> list[Experiment]:
        return self._run(calls.experiments())

    def start_experiment(
        self,
        name: str,
        variants: Iterable[Mapping[str, Any]],
        *,
        salt: str | None = None,
        description: str = "",
    ) -> Experiment:
        """Split users between ``variants`` (``{"name", "pipeline", "weight"}``; the first is
        the control)."""
        return self._run(calls.start_experiment(name, variants, salt=salt, description=description))

    def stop_experiment(self, name: str) -> Experiment:
        return self._run(calls.stop_experiment(name))

    def experiment(self, name: str) -> ExperimentStatus:
        """Per-variant results with 95% intervals, lifts and p-values."""
        return self._run(calls.experiment(name))


class AsyncShoprecClient:
    """:class:`ShoprecClient` for asyncio: the same methods, awaited.

    ``http_client`` may be an ``httpx.AsyncClient`` (e.g. over ``httpx.ASGITransport``).
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        api_key: str | None = None,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        random_state: int | None = None,
    ) -> None:
        self._options = _Options(api_key, retry, random_state)
        self._owned = http_client is None
        self._http = http_client or httpx.AsyncClient(base_url=base_url, timeout=timeout)
        self._http.headers.update(self._options.headers)

    async def _run(self, call: Call[Any]) -> Any:
        return await send_async(self._http, call, self._options.retry, self._options.rng)

    async def aclose(self) -> None:
        if self._owned:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncShoprecClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def send_event(self, event: EventFields) -> EventResult:
        return await self._run(calls.send_event(event))

    async def send_events(self, events: Iterable[EventFields]) -> BatchResult:
        return await self._run(calls.send_events(events))

    async def recommend(
        self,
        user_id: str | None = None,
        *,
        k: int = 10,
        diversity: float | None = None,
        filters: Filters | None = None,
        platform: str | None = None,
        explain: bool = True,
    ) -> Recommendations:
        call = calls.recommend(
            user_id, k=k, diversity=diversity, filters=filters, platform=platform, explain=explain
        )
        return await self._run(call)

    async def search(
        self, query: str, *, user_id: str | None = None, k: int = 10, personalization: float = 0.3
    ) -> SearchResults:
        call = calls.search(query, user_id=user_id, k=k, personalization=personalization)
        return await self._run(call)

    async def similar(self, item_id: str, *, k: int = 10) -> SimilarItems:
        return await self._run(calls.similar(item_id, k=k))

    async def item(self, item_id: str) -> CatalogItem:
        return await self._run(calls.item(item_id))

    async def portrait(self, user_id: str) -> Portrait:
        return await self._run(calls.portrait(user_id))

    async def upsert_items(self, items: Iterable[CatalogItem]) -> int:
        return await self._run(calls.upsert_items(items))

    async def delete_item(self, item_id: str) -> int:
        return await self._run(calls.delete_item(item_id))

    async def delete_user(self, user_id: str) -> int:
        return await self._run(calls.delete_user(user_id))

    async def version(self) -> Versions:
        return await self._run(calls.version())

    async def reload(self, path: str | None = None) -> Versions:
        return await self._run(calls.reload(path))

    async def rollback(self, version: str | None = None) -> Versions:
        return await self._run(calls.rollback(version))

    async def health(self) -> str:
        return await self._run(calls.health())

    async def ready(self) -> bool:
        try:
            return await self._run(calls.ready())
        except ServiceError as error:
            if error.status_code == 503:
                return False
            raise

    async def online_metrics(
        self,
        *,
        by: str = "version,variant,day",
        since: int | None = None,
        until: int | None = None,
        window_hours: float | None = None,
    ) -> OnlineMetrics:
        call = calls.online_metrics(by=by, since=since, until=until, window_hours=window_hours)
        return await self._run(call)

    async def experiments(self) -> list[Experiment]:
        return await self._run(calls.experiments())

    async def start_experiment(
        self,
        name: str,
        variants: Iterable[Mapping[str, Any]],
        *,
        salt: str | None = None,
        description: str = "",
    ) -> Experiment:
        call = calls.start_experiment(name, variants, salt=salt, description=description)
        return await self._run(call)

    async def stop_experiment(self, name: str) -> Experiment:
        return await self._run(calls.stop_experiment(name))

    async def experiment(self, name: str) -> ExperimentStatus:
        return await self._run(calls.experiment(name))
