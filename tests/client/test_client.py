"""``shoprec.client`` against the real service: typed answers, errors naming the field, and
retries that never store an event twice."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from serve_support import NEW_ITEM, Client, count_events, version_of
from shoprec.client import (
    AsyncShoprecClient,
    CatalogItem,
    Filters,
    RetryPolicy,
    ServiceError,
    ShoprecClient,
    event,
)
from shoprec.serve import ServiceSettings, create_app

NO_WAIT = RetryPolicy(attempts=3, backoff=0.0)


def shop(client: TestClient, **options: Any) -> ShoprecClient:
    return ShoprecClient(http_client=client, retry=NO_WAIT, **options)


def test_every_operation_returns_typed_results(make_client: Client, artifacts: dict) -> None:
    api = shop(make_client())
    assert api.health() == "ok" and api.ready() is True
    anonymous = api.recommend(k=5)
    assert len(anonymous.items) == 5 and anonymous.version == version_of(artifacts["a"])
    assert all(rec.reason for rec in anonymous.items)  # explained by default
    seen = anonymous.item_ids[0]
    stored = api.send_event(event("typed", seen, "purchase"))
    assert not stored.duplicate and stored.client_event_id.startswith("py-")
    mine = api.recommend("typed", k=5)
    assert seen not in mine.item_ids and mine.user_id == "typed"  # read your writes
    portrait = api.portrait("typed")
    assert portrait.event_counts == {"purchase": 1} and portrait.recent_items == [seen]

    assert api.upsert_items([CatalogItem(**NEW_ITEM)]) == 1
    assert api.item("new-1").category == ("Gadgets", "Widgets")
    assert api.search("zorblax quantum widget", k=1).item_ids == ["new-1"]
    widgets = api.recommend("typed", k=5, filters=Filters(include_categories=["widgets"]))
    assert widgets.item_ids == ["new-1"]
    cheap = api.recommend(k=40, filters=Filters(max_price=0.0))
    assert all(api.item(i).price in (None, 0.0) for i in cheap.item_ids)
    similar = api.similar(seen, k=3)
    assert similar.item_id == seen and len(similar.items) == 3 and seen not in similar.item_ids
    assert api.delete_item("new-1") == 1
    assert api.delete_user("typed") == 1

    swapped = api.reload(str(artifacts["b"]))
    assert swapped.active.version == version_of(artifacts["b"])
    assert api.rollback().active.version == version_of(artifacts["a"])
    kept = api.version()
    assert kept.previous is not None and kept.previous.version in {v.version for v in kept.kept}
    assert api.rollback(kept.previous.version).active.version == kept.previous.version


def test_errors_name_the_status_and_the_field(make_client: Client) -> None:
    api = shop(make_client())
    with pytest.raises(ServiceError, match="event_type") as caught:
        api.send_event(event("u", "p00001", "teleport"))
    assert caught.value.status_code == 422
    with pytest.raises(ServiceError, match="404"):
        api.item("no-such-item")
    batch = [event("u", "p00001"), event("u", "p00002", quantity=0)]
    with pytest.raises(ServiceError, match=r"row 2|events\.1") as caught:
        api.send_events(batch)
    assert caught.value.status_code == 422


def test_keys_are_sent(make_client: Client) -> None:
    client = make_client(api_key="admin-secret", read_key="read-secret")
    with pytest.raises(ServiceError) as caught:
        shop(client).recommend()
    assert caught.value.status_code == 401
    assert shop(client, api_key="read-secret").recommend(k=2).items
    with pytest.raises(ServiceError, match=r"403|401"):
        shop(client, api_key="read-secret").send_event(event("u", "p00001"))


class LoseAnswers(httpx.BaseTransport):
    """Delivers each request to the service but loses the first ``lose`` answers, as a network
    timeout after the server did its work would."""

    def __init__(self, inner: httpx.BaseTransport, lose: int) -> None:
        self.inner, self.lose, self.delivered = inner, lose, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        content = response.read()
        self.delivered += 1
        if self.lose > 0:
            self.lose -= 1
            raise httpx.ReadTimeout("answer lost", request=request)
        return httpx.Response(response.status_code, headers=response.headers, content=content)


def test_a_lost_answer_is_retried_and_the_event_stored_once(
    make_client: Client, store_url: str
) -> None:
    client = make_client()
    flaky = LoseAnswers(client._transport, lose=2)
    http = httpx.Client(transport=flaky, base_url=str(client.base_url))
    api = ShoprecClient(http_client=http, retry=NO_WAIT)
    result = api.send_event(event("retry", "p00001", "purchase"))
    assert flaky.delivered == 3 and result.duplicate  # the third try finds it stored
    flaky.lose = 1
    batch = api.send_events([event("retry", f"p0000{i}") for i in range(2, 5)])
    assert batch.stored == 0 and batch.duplicates == 3  # stored by the first, lost, attempt
    assert count_events(store_url) == 4
    assert shop(client).portrait("retry").event_counts == {"purchase": 1, "view": 3}


def test_a_rollback_whose_answer_was_lost_is_not_sent_again(
    make_client: Client, artifacts: dict
) -> None:
    client = make_client()
    shop(client).reload(str(artifacts["b"]))
    flaky = LoseAnswers(client._transport, lose=1)
    http = httpx.Client(transport=flaky, base_url=str(client.base_url))
    with pytest.raises(ServiceError, match="no answer"):
        ShoprecClient(http_client=http, retry=NO_WAIT).rollback()
    assert flaky.delivered == 1  # a second rollback would have undone the first
    assert shop(client).version().active.version == version_of(artifacts["a"])


def test_busy_answers_are_retried_after_retry_after() -> None:
    answers = iter([503, 503, 200])
    slept: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        code = next(answers)
        if code == 503:
            return httpx.Response(503, headers={"Retry-After": "0.01"}, json={"detail": "busy"})
        return httpx.Response(200, json={"status": "ok"})

    http = httpx.Client(transport=httpx.MockTransport(handler), base_url="http://shop")
    started = time.perf_counter()
    assert ShoprecClient(http_client=http, retry=RetryPolicy(attempts=3)).health() == "ok"
    slept.append(time.perf_counter() - started)
    assert 0.02 <= slept[0] < 1.0  # two waits of Retry-After, not the default backoff
    refused = httpx.Client(
        transport=httpx.MockTransport(lambda r: httpx.Response(503, json={"detail": "busy"})),
        base_url="http://shop",
    )
    with pytest.raises(ServiceError, match="503: busy"):
        ShoprecClient(http_client=refused, retry=NO_WAIT).health()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_service(artifacts: dict, tmp_path: Path) -> Iterator[str]:
    """The service on a real socket (uvicorn in a thread)."""
    settings = ServiceSettings(pipeline=artifacts["a"], store_url=f"sqlite:///{tmp_path}/e.db")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the service did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_async_client_over_http(live_service: str) -> None:
    async def scenario() -> tuple[Any, ...]:
        async with AsyncShoprecClient(live_service, retry=NO_WAIT) as api:
            assert await api.ready()
            first = (await api.recommend(k=3)).item_ids
            results = await asyncio.gather(
                *(api.send_event(event(f"a{i}", first[0], "purchase")) for i in range(5))
            )
            lists = await asyncio.gather(*(api.recommend(f"a{i}", k=3) for i in range(5)))
            return first, results, lists

    first, results, lists = asyncio.run(scenario())
    assert len({r.sequence for r in results}) == 5 and not any(r.duplicate for r in results)
    assert all(first[0] not in rec.item_ids for rec in lists)
    with ShoprecClient(live_service) as api:  # and the blocking client on the same socket
        assert api.portrait("a3").event_counts == {"purchase": 1}


def test_unreachable_service_is_a_clear_error() -> None:
    api = ShoprecClient(f"http://127.0.0.1:{free_port()}", retry=NO_WAIT, timeout=1.0)
    with pytest.raises(ServiceError, match="no answer from the service") as caught:
        api.recommend()
    assert caught.value.status_code is None


def test_experiments_and_online_metrics(make_client: Client, artifacts: dict) -> None:
    api = shop(make_client())
    variants = [
        {"name": "control", "pipeline": str(artifacts["a"])},
        {"name": "treatment", "pipeline": str(artifacts["b"])},
    ]
    started = api.start_experiment("ab-1", variants, salt="s", description="factors 8 vs 16")
    assert started.status == "running" and [v["name"] for v in started.variants] == [
        "control",
        "treatment",
    ]
    assert [e.name for e in api.experiments()] == ["ab-1"]
    served = {}
    for i in range(12):
        answer = api.recommend(f"ab-user-{i}", k=3)
        served[answer.user_id] = answer
        api.send_event(event(f"ab-user-{i}", answer.item_ids[0], "click",
                             request_id=answer.request_id, position=0))  # fmt: skip
    assert all(answer.request_id for answer in served.values())
    status = api.experiment("ab-1")
    assert status.experiment.name == "ab-1"
    assert {r.variant for r in status.results} <= {"control", "treatment"}
    assert api.stop_experiment("ab-1").status == "stopped"
    metrics = api.online_metrics(by="variant")
    assert metrics.by == ("variant",) and metrics.rows
    assert sum(row["impressions"] for row in metrics.rows) >= 12 * 3
