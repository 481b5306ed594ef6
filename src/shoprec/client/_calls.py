"""Each API operation once, as a :class:`Call` (method, path, body, how to read the answer and
whether a retry is safe), so the sync and async clients only differ in how they send it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import quote

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

__all__ = ["Call", "EventFields"]

T = TypeVar("T")
EventFields = Mapping[str, Any]
"""One event as the JSON object ``POST /v1/events`` takes (``user_id``, ``item_id``,
``event_type``, optional ``timestamp`` in ms, ``platform``, ``rating``, ``review``, ``query``,
``quantity``, ``client_event_id``)."""


@dataclass(frozen=True)
class Call(Generic[T]):
    """One HTTP request and how to turn its JSON answer into ``T``.

    ``idempotent``: sending it twice has the effect of sending it once, so it may be retried
    after a timeout or a lost connection, not only when it surely never reached the server.
    """

    method: str
    path: str
    parse: Callable[[Any], T]
    json: Any = None
    params: Mapping[str, Any] | None = None
    idempotent: bool = True


def _id(value: str) -> str:
    return quote(value, safe="")


def _with_event_id(event: EventFields) -> dict[str, Any]:
    """The event with a ``client_event_id``: made here, before the first attempt, so that a
    retry of an event whose answer was lost is recognised by the store as the same event."""
    body = {key: value for key, value in event.items() if value is not None}
    body.setdefault("client_event_id", f"py-{uuid.uuid4().hex}")
    return body


def send_event(event: EventFields) -> Call[EventResult]:
    body = _with_event_id(event)
    return Call(
        "POST",
        "/v1/events",
        lambda data: EventResult(data["sequence"], data["duplicate"], body["client_event_id"]),
        json=body,
    )


def send_events(events: Iterable[EventFields]) -> Call[BatchResult]:
    bodies = [_with_event_id(event) for event in events]

    def parse(data: Any) -> BatchResult:
        return BatchResult(
            stored=data["stored"],
            duplicates=data["duplicates"],
            sequences=tuple(data["sequences"]),
            duplicate=tuple(data["duplicate"]),
            client_event_ids=tuple(body["client_event_id"] for body in bodies),
        )

    return Call("POST", "/v1/events/batch", parse, json={"events": bodies})


def recommend(
    user_id: str | None,
    *,
    k: int,
    diversity: float | None,
    filters: Filters | None,
    platform: str | None,
    explain: bool,
) -> Call[Recommendations]:
    body: dict[str, Any] = {"user_id": user_id, "k": k, "explain": explain}
    if diversity is not None:
        body["diversity"] = diversity
    if filters is not None:
        body["filters"] = filters.to_json()
    if platform is not None:
        body["platform"] = platform
    return Call("POST", "/v1/recommendations", Recommendations.from_json, json=body)


def search(query: str, *, user_id: str | None, k: int, personalization: float) -> Call[Any]:
    params: dict[str, Any] = {"q": query, "k": k, "personalization": personalization}
    if user_id is not None:
        params["user_id"] = user_id
    return Call("GET", "/v1/search", SearchResults.from_json, params=params)


def similar(item_id: str, *, k: int) -> Call[SimilarItems]:
    path = f"/v1/items/{_id(item_id)}/similar"
    return Call("GET", path, SimilarItems.from_json, params={"k": k})


def item(item_id: str) -> Call[CatalogItem]:
    return Call("GET", f"/v1/items/{_id(item_id)}", CatalogItem.from_json)


def upsert_items(items: Iterable[CatalogItem]) -> Call[int]:
    body = {"items": [entry.to_json() for entry in items]}
    return Call("POST", "/v1/items", lambda data: int(data["written"]), json=body)


def delete_item(item_id: str) -> Call[int]:
    return Call("DELETE", f"/v1/items/{_id(item_id)}", lambda data: int(data["deleted"]))


def portrait(user_id: str) -> Call[Portrait]:
    return Call("GET", f"/v1/users/{_id(user_id)}/portrait", Portrait.from_json)


def delete_user(user_id: str) -> Call[int]:
    path = f"/v1/users/{_id(user_id)}"
    return Call("DELETE", path, lambda data: int(data["events_deleted"]))


def version() -> Call[Versions]:
    return Call("GET", "/v1/admin/version", Versions.from_json)


def reload(path: str | None) -> Call[Versions]:
    body = {} if path is None else {"path": path}
    # a second reload of the same artifact would push the first out of the rollback slot
    return Call("POST", "/v1/admin/reload", Versions.from_json, json=body, idempotent=False)


def rollback(version: str | None) -> Call[Versions]:
    body = None if version is None else {"version": version}
    # two rollbacks undo each other: never resent unless it surely did not arrive
    return Call("POST", "/v1/admin/rollback", Versions.from_json, json=body, idempotent=False)


def health() -> Call[str]:
    return Call("GET", "/v1/health", lambda data: str(data["status"]))


def ready() -> Call[bool]:
    return Call("GET", "/v1/health/ready", lambda data: data.get("status") == "ready")


def online_metrics(
    *, by: str, since: int | None, until: int | None, window_hours: float | None
) -> Call[OnlineMetrics]:
    params: dict[str, Any] = {"by": by}
    for name, value in (("since", since), ("until", until), ("window_hours", window_hours)):
        if value is not None:
            params[name] = value
    return Call("GET", "/v1/metrics/online", OnlineMetrics.from_json, params=params)


def experiments() -> Call[list[Experiment]]:
    return Call(
        "GET",
        "/v1/admin/experiments",
        lambda data: [Experiment.from_json(e) for e in data["experiments"]],
    )


def start_experiment(
    name: str, variants: Iterable[Mapping[str, Any]], *, salt: str | None, description: str
) -> Call[Experiment]:
    body: dict[str, Any] = {"name": name, "variants": list(variants), "description": description}
    if salt is not None:
        body["salt"] = salt
    # a second start of the same name is refused (409), not duplicated: safe to resend
    return Call("POST", "/v1/admin/experiments", Experiment.from_json, json=body)


def stop_experiment(name: str) -> Call[Experiment]:
    path = f"/v1/admin/experiments/{_id(name)}/stop"
    return Call("POST", path, Experiment.from_json)


def experiment(name: str) -> Call[ExperimentStatus]:
    return Call("GET", f"/v1/admin/experiments/{_id(name)}", ExperimentStatus.from_json)
