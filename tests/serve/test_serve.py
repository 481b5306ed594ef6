"""The recommendation service end to end through its HTTP API, on a tiny fitted pipeline."""

from __future__ import annotations

import contextvars
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from serve_support import (
    NEW_ITEM,
    Client,
    count_events,
    event,
    recommend,
    version_of,
)
from shoprec.client import ShoprecClient
from shoprec.client import event as client_event
from shoprec.data import Event, EventType
from shoprec.datasets import make_synthetic_shop
from shoprec.exceptions import OverloadedError
from shoprec.pipeline import Pipeline, PipelineConfig
from shoprec.serve import ServiceSettings, ServingState, create_app
from shoprec.serve._telemetry import REDACTED, install_redaction, mark_personal
from shoprec.store import MemoryStore, open_store


# -- the API surface ------------------------------------------------------------------------------
def test_openapi_documents_every_endpoint_under_v1(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    routes = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    assert routes == {
        ("/v1/events", "post"),
        ("/v1/events/batch", "post"),
        ("/v1/recommendations", "post"),
        ("/v1/search", "get"),
        ("/v1/items", "post"),
        ("/v1/items/{item_id}", "get"),
        ("/v1/items/{item_id}", "put"),
        ("/v1/items/{item_id}", "delete"),
        ("/v1/items/{item_id}/similar", "get"),
        ("/v1/users/{user_id}/portrait", "get"),
        ("/v1/users/{user_id}", "delete"),
        ("/v1/admin/reload", "post"),
        ("/v1/admin/rollback", "post"),
        ("/v1/admin/version", "get"),
        ("/v1/admin/abuse", "get"),
        ("/v1/admin/abuse/scan", "post"),
        ("/v1/admin/abuse/users/{user_id}/release", "post"),
        ("/v1/health", "get"),
        ("/v1/health/ready", "get"),
        ("/v1/metrics", "get"),
        ("/v1/metrics/online", "get"),
        ("/v1/admin/experiments", "get"),
        ("/v1/admin/experiments", "post"),
        ("/v1/admin/experiments/{name}", "get"),
        ("/v1/admin/experiments/{name}/stop", "post"),
    }
    assert "APIKeyHeader" in spec["components"]["securitySchemes"]


def test_health_readiness_version_and_metrics(client: TestClient, artifacts: dict) -> None:
    assert client.get("/v1/health").json() == {"status": "ok"}
    ready = client.get("/v1/health/ready").json()
    assert ready == {"status": "ready", "version": version_of(artifacts["a"])}
    version = client.get("/v1/admin/version").json()
    assert version["active"]["version"] == ready["version"]
    assert version["active"]["model"] == "als" and version["active"]["items"] == 40
    assert version["previous"] is None
    recommend(client)
    client.post("/v1/events", json=event("m1", "p00001"))
    text = client.get("/v1/metrics").text
    assert (
        'shoprec_http_requests_total{method="POST",route="/v1/recommendations",status="200"} 1.0'
        in text
    )
    assert 'shoprec_events_total{outcome="stored"} 1.0' in text
    assert "shoprec_recommend_batch_size_count 1.0" in text  # one batch, of one request
    assert 'shoprec_recommend_batch_size_bucket{le="1.0"} 1.0' in text
    assert f'shoprec_pipeline_active{{version="{ready["version"]}"}} 1.0' in text


def test_search_and_similar_items(client: TestClient, artifacts: dict) -> None:
    catalog = artifacts["data"].catalog
    title = catalog.item("p00003").title
    hits = client.get("/v1/search", params={"q": title, "k": 3}).json()
    assert hits["items"][0]["item_id"] == "p00003" and len(hits["items"]) == 3
    similar = client.get("/v1/items/p00003/similar", params={"k": 4}).json()
    assert len(similar["items"]) == 4
    assert "p00003" not in [hit["item_id"] for hit in similar["items"]]
    item = client.get("/v1/items/p00003").json()
    assert item["title"] == title and item["category"] == list(catalog.item("p00003").category)


# -- events and real time -------------------------------------------------------------------------
def test_read_your_writes(client: TestClient) -> None:
    api = ShoprecClient(http_client=client)  # the typed client, as a shop's backend would
    anonymous = api.recommend(k=5).item_ids
    before = api.recommend("rw-user", k=5).item_ids  # caches the user's (empty) history
    assert before == anonymous
    seen = anonymous[0]
    assert not api.send_event(client_event("rw-user", seen, "purchase")).duplicate
    after = api.recommend("rw-user", k=5).item_ids
    assert seen not in after and after != before
    portrait = api.portrait("rw-user")
    assert portrait.recent_items == [seen] and portrait.event_counts == {"purchase": 1}
    api.send_event(client_event("rw-user", after[0], "cart"))
    assert after[0] not in api.recommend("rw-user", k=5).item_ids
    portrait = api.portrait("rw-user")
    assert portrait.recent_items == [after[0], seen]
    assert portrait.event_counts == {"purchase": 1, "cart": 1}


def test_client_event_ids_make_ingestion_idempotent(client: TestClient, store_url: str) -> None:
    first = client.post("/v1/events", json=event("idem", "p00001", client_event_id="e-1"))
    again = client.post("/v1/events", json=event("idem", "p00001", client_event_id="e-1"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == {"sequence": first.json()["sequence"], "duplicate": True}
    batch = {"events": [event("idem", "p00002", client_event_id=f"b-{i}") for i in range(3)]}
    stored = client.post("/v1/events/batch", json=batch).json()
    retried = client.post("/v1/events/batch", json=batch).json()
    assert stored["stored"] == 3 and retried["stored"] == 0 and retried["duplicates"] == 3
    assert retried["sequences"] == stored["sequences"]
    assert count_events(store_url) == 4
    assert client.get("/v1/users/idem/portrait").json()["event_counts"] == {"view": 4}


def test_a_bad_event_rejects_the_whole_batch(client: TestClient, store_url: str) -> None:
    good = [event("batch", "p00001"), event("batch", "p00002")]
    response = client.post("/v1/events/batch", json={"events": [*good, event("batch", "nope")]})
    assert response.status_code == 422
    (detail,) = response.json()["detail"]
    assert (detail["row"], detail["field"]) == (3, "item_id")
    wrong_type = [*good, {**event("batch", "p00003"), "timestamp": "yesterday"}]
    response = client.post("/v1/events/batch", json={"events": wrong_type})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "events", 2, "timestamp"]
    search_without_query = [*good, event("batch", "", "search")]
    response = client.post("/v1/events/batch", json={"events": search_without_query})
    assert response.json()["detail"][0]["field"] == "query"
    assert count_events(store_url) == 0
    assert client.get("/v1/users/batch/portrait").status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/v1/events", {**event("x", "p00001"), "colour": "red"}, 422, "colour"),
        ("/v1/events", {**event("x", "p00001"), "timestamp": "5"}, 422, "timestamp"),
        ("/v1/events", {**event("x", "p00001"), "quantity": 1.5}, 422, "quantity"),
        ("/v1/events", {**event("x", "p00001"), "rating": 7}, 422, "rating"),
        ("/v1/events", {**event("x", "p00001"), "event_type": "hover"}, 422, "event_type"),
        ("/v1/events", event("x\u0000y", "p00001"), 422, "user_id"),
        ("/v1/events", event("shoprec:admin", "p00001"), 422, "user_id"),
        ("/v1/recommendations", {"k": 0}, 422, "k"),
        ("/v1/recommendations", {"k": "5"}, 422, "k"),
        ("/v1/recommendations", {"explain": 1}, 422, "explain"),
        ("/v1/recommendations", {"filters": {"min_price": 9, "max_price": 1}}, 422, "min_price"),
        ("/v1/recommendations", {"platform": "nowhere"}, 422, "platform"),
        ("/v1/items", {"items": [{**NEW_ITEM, "price": -1}]}, 422, "price"),
        ("/v1/items", {"items": [NEW_ITEM, NEW_ITEM]}, 422, "item_id"),
    ],
)
def test_bad_bodies_get_422_naming_the_field(
    client: TestClient, store_url: str, path: str, body: dict, status: int, field: str
) -> None:
    response = client.post(path, json=body)
    assert response.status_code == status, response.text
    detail = response.json()["detail"][0]
    assert field == detail.get("field") or field in detail["loc"]
    assert count_events(store_url) == 0


def test_malformed_oversized_and_unknown_requests_get_4xx(make_client: Client) -> None:
    client = make_client(max_body_bytes=2_000)
    headers = {"content-type": "application/json"}
    assert client.post("/v1/events", content=b'{"user_id": ', headers=headers).status_code == 422
    nan = b'{"k": 5, "diversity": NaN}'
    assert client.post("/v1/recommendations", content=nan, headers=headers).status_code == 422
    assert client.post("/v1/events", json=[1, 2]).status_code == 422
    big = {"events": [event(f"user-{i}", "p00001") for i in range(100)]}
    assert client.post("/v1/events/batch", json=big).status_code == 413
    assert client.get("/v1/search", params={"q": "x", "bogus": 1}).status_code == 422
    assert client.get("/v1/search", params={"q": ""}).status_code == 422
    assert client.get("/v1/items/nope").status_code == 404
    assert client.get("/v1/items/nope/similar").status_code == 404
    assert client.get("/v1/users/nobody/portrait").status_code == 404
    assert client.delete("/v1/users/nobody").status_code == 404
    assert client.delete("/v1/items/nope").status_code == 404
    assert client.get("/v1/nowhere").status_code == 404
    too_many = make_client(max_batch_events=2)
    batch = {"events": [event("u", "p00001")] * 3}
    assert too_many.post("/v1/events/batch", json=batch).json()["detail"][0]["field"] == "events"


# -- users ----------------------------------------------------------------------------------------
def test_deleting_a_user_removes_events_and_portrait(client: TestClient, store_url: str) -> None:
    anonymous = recommend(client, k=6)
    events = [event("gone", item, "purchase") for item in ("p00001", "p00002", "p00005")]
    client.post("/v1/events/batch", json={"events": events})
    assert recommend(client, "gone", k=6) != anonymous
    assert client.get("/v1/users/gone/portrait").status_code == 200
    response = client.delete("/v1/users/gone")
    assert response.json() == {
        "user_id": "gone", "events_deleted": 3, "training_history_removed": False
    }  # fmt: skip
    assert client.get("/v1/users/gone/portrait").status_code == 404
    assert recommend(client, "gone", k=6) == anonymous
    with open_store(store_url) as store:
        assert store.history("gone") == [] and store.load_profiles(["gone"]) == {}


def test_portraits_are_saved_at_shutdown_and_catch_up_with_the_store(
    artifacts: dict, store_url: str
) -> None:
    settings = ServiceSettings(pipeline=artifacts["a"], store_url=store_url)
    with TestClient(create_app(settings)) as client:
        client.post(
            "/v1/events", json=event("p-user", "p00001", "purchase", timestamp=1_700_000_000_000)
        )
        before = client.get("/v1/users/p-user/portrait").json()
    with open_store(store_url) as store:
        document = json.loads(store.load_profiles(["p-user"])["p-user"])
    assert document["events"] == 1 and document["version"] == version_of(artifacts["a"])
    with TestClient(create_app(settings)) as client:
        assert client.get("/v1/users/p-user/portrait").json() == before
    # An event committed without its portrait update (a crash in between) is not lost.
    with open_store(store_url) as store:
        store.append([Event("p-user", "p00002", EventType.CART, 2000)])
        state = ServingState(Pipeline.load(artifacts["a"]), store, path=artifacts["a"])
        assert state.portrait("p-user").event_counts == {"purchase": 1, "cart": 1}


def test_portrait_cache_evicts_least_recent_users_and_keeps_them_exact(
    artifacts: dict, store_url: str
) -> None:
    with open_store(store_url) as store:
        state = ServingState(Pipeline.load(artifacts["a"]), store, cache_users=2)
        for n, user in enumerate(["u1", "u2", "u3", "u1", "u4", "u2"]):
            state.ingest([Event(user, f"p{n:05d}", EventType.VIEW, n)])
        state.ingest([Event(u, "p00010", EventType.CLICK, 10) for u in ("u1", "u2", "u3")])
        counts = {user: dict(state.portrait(user).event_counts) for user in ("u1", "u2", "u3")}
        assert counts == {
            "u1": {"view": 2, "click": 1},
            "u2": {"view": 2, "click": 1},
            "u3": {"view": 1, "click": 1},
        }
        assert state.portrait("u4").recent_items == ["p00004"]


# -- catalog --------------------------------------------------------------------------------------
def test_catalog_upsert_and_delete_without_retraining(make_client: Client, store_url: str) -> None:
    client = make_client()
    widgets = {"filters": {"include_categories": ["widgets"]}, "k": 5}
    assert recommend(client, **widgets) == []
    assert client.post("/v1/items", json={"items": [NEW_ITEM]}).json() == {"written": 1}
    client.post("/v1/events", json=event("fan", "p00001"))
    # New items have no training events: they reach users with a history by their text.
    assert recommend(client, "fan", **widgets) == ["new-1"]
    hits = client.get("/v1/search", params={"q": "zorblax quantum widget", "k": 1}).json()
    assert hits["items"][0]["item_id"] == "new-1"
    assert client.post("/v1/events", json=event("fan", "new-1")).status_code == 201
    assert client.get("/v1/users/fan/portrait").json()["top_brands"][0]["name"] == "Zorblax"
    # The upsert survives a restart; so does the deletion that follows.
    assert make_client().get("/v1/items/new-1").json()["brand"] == "Zorblax"
    assert client.delete("/v1/items/new-1").json() == {"deleted": 1}
    assert client.get("/v1/items/new-1").status_code == 404
    assert recommend(client, **widgets) == []
    hits = client.get("/v1/search", params={"q": "zorblax quantum widget"}).json()
    assert "new-1" not in [hit["item_id"] for hit in hits["items"]]
    assert client.post("/v1/events", json=event("fan", "new-1")).status_code == 422
    assert client.delete("/v1/items/p00004").json() == {"deleted": 1}
    restarted = make_client()
    assert restarted.get("/v1/items/new-1").status_code == 404
    assert restarted.get("/v1/items/p00004").status_code == 404
    assert "p00004" not in recommend(restarted, k=40)
    # Upserting a deleted item brings it back.
    item = {**NEW_ITEM, "item_id": "p00004"}
    assert restarted.put("/v1/items/p00004", json=item).status_code == 422  # id in the path
    fields = {k: v for k, v in item.items() if k != "item_id"}
    assert restarted.put("/v1/items/p00004", json=fields).json() == {"written": 1}
    assert restarted.get("/v1/items/p00004").json()["title"] == NEW_ITEM["title"]


def test_platform_limits_items_and_history(client: TestClient) -> None:
    items = [
        {**NEW_ITEM, "item_id": f"app-{i}", "title": f"Zorblax App Widget {i}", "platform": "app"}
        for i in (1, 2)
    ]
    client.post("/v1/items", json={"items": items})
    client.post("/v1/events", json=event("mobile", "app-1", platform="app"))
    assert recommend(client, "mobile", platform="app", k=5) == ["app-2"]
    web = recommend(client, "mobile", platform="synthetic_shop", k=40)
    assert web == recommend(client, platform="synthetic_shop", k=40)  # no history there
    assert not [item for item in web if item.startswith("app-")]


def test_one_pipeline_trained_on_two_platforms_serves_each(tmp_path: Path) -> None:
    from dataclasses import replace

    from shoprec.transfer import combine_platforms

    shops = [
        replace(make_synthetic_shop(n_users=40, n_items=30, random_state=seed), name=name)
        for seed, name in ((0, "web"), (1, "app"))
    ]
    both = combine_platforms(shops)
    config = PipelineConfig(model="als", encoder="hashing", model_params={"factors": 8})
    pipeline = Pipeline(config).fit(both.split.train, both.catalog)
    settings = ServiceSettings(store_url=f"sqlite:///{tmp_path / 'events.db'}")
    with TestClient(create_app(settings, pipeline=pipeline)) as client:
        for platform in ("web", "app"):
            shopper = f"{platform}:u00001"
            for item in (f"{platform}:{i}" for i in shops[0].catalog.item_ids[:3]):
                body = event(shopper, item, platform=platform)
                assert client.post("/v1/events", json=body).status_code == 201
            items = recommend(client, shopper, platform=platform, k=10)
            assert len(items) == 10 and all(i.startswith(f"{platform}:") for i in items)
            anonymous = recommend(client, None, platform=platform, k=10)
            assert all(i.startswith(f"{platform}:") for i in anonymous)


# -- model lifecycle ------------------------------------------------------------------------------
def test_reload_and_rollback_swap_versions(client: TestClient, artifacts: dict) -> None:
    a, b = version_of(artifacts["a"]), version_of(artifacts["b"])
    assert a != b
    client.post("/v1/items", json={"items": [NEW_ITEM]})
    assert client.post("/v1/admin/rollback").status_code == 409
    swapped = client.post("/v1/admin/reload", json={"path": str(artifacts["b"])}).json()
    assert (swapped["active"]["version"], swapped["previous"]["version"]) == (b, a)
    assert client.get("/v1/health/ready").json()["version"] == b
    response = client.post("/v1/recommendations", json={"user_id": None, "k": 3})
    assert response.json()["version"] == b
    assert client.get("/v1/items/new-1").status_code == 200  # catalog changes carry over
    rolled = client.post("/v1/admin/rollback").json()
    assert (rolled["active"]["version"], rolled["previous"]["version"]) == (a, b)
    again = client.post("/v1/admin/rollback").json()
    assert again["active"]["version"] == b
    default = client.post("/v1/admin/reload").json()  # reloads the active version's directory
    assert (default["active"]["version"], default["previous"]["version"]) == (b, b)
    bad = client.post("/v1/admin/reload", json={"path": str(artifacts["a"].parent)})
    assert bad.status_code == 403 and bad.json()["detail"][0]["field"] == "path"  # the root
    missing = client.post("/v1/admin/reload", json={"path": "/no/such/dir"})
    assert missing.status_code == 403


def test_requests_during_swaps_all_succeed(client: TestClient, artifacts: dict) -> None:
    versions = {version_of(artifacts["a"]), version_of(artifacts["b"])}
    seen: list[tuple[int, str]] = []

    def ask(n: int) -> None:
        response = client.post("/v1/recommendations", json={"user_id": f"u{n % 5}", "k": 5})
        seen.append((response.status_code, response.json().get("version", "")))

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(ask, n) for n in range(60)]
        for path in ("b", "a", "b"):
            client.post("/v1/admin/reload", json={"path": str(artifacts[path])})
        for future in futures:
            future.result()
    assert len(seen) == 60 and {status for status, _ in seen} == {200}
    assert {version for _, version in seen} <= versions


def test_concurrent_recommendations_equal_sequential_ones(client: TestClient) -> None:
    users = [f"u{n}" for n in range(12)]
    sequential = {user: recommend(client, user, k=5) for user in users}
    with ThreadPoolExecutor(max_workers=6) as pool:
        lists = list(pool.map(lambda user: recommend(client, user, k=5), users))
    concurrent = dict(zip(users, lists, strict=True))
    assert concurrent == sequential
    batcher = client.app.state.recommender  # type: ignore[attr-defined]
    assert batcher.items == 2 * len(users)  # every request went through the batcher


def test_an_overloaded_service_answers_503_with_retry_after(client: TestClient) -> None:
    class Full:
        async def submit(self, query: object) -> None:
            raise OverloadedError("64 requests are waiting; retry later")

    state = client.app.state  # type: ignore[attr-defined]
    batcher, state.recommender = state.recommender, Full()
    response = client.post("/v1/recommendations", json={"user_id": "u1"})
    state.recommender = batcher
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert "retry later" in response.json()["detail"]


# -- security -------------------------------------------------------------------------------------
def test_no_user_id_in_log_records(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    user = "alice-7f3k"
    with caplog.at_level(logging.DEBUG):
        client.post("/v1/events", json=event(user, "p00001"))
        client.post("/v1/events", json=event(user, "unknown-item"))
        client.post("/v1/events/batch", json={"events": [event(user, "p00002")]})
        recommend(client, user)
        client.get("/v1/search", params={"q": "socks", "user_id": user})
        client.get(f"/v1/users/{user}/portrait")
        client.delete(f"/v1/users/{user}")
    # The test client (httpx) logs the URLs it calls; everything else is the service.
    server = [r for r in caplog.records if not r.name.startswith("httpx")]
    messages = [record.getMessage() for record in server]
    assert any("/v1/users/{user_id}/portrait" in m for m in messages)  # the access log ran
    assert any("deleted a user" in m for m in messages)  # the store logged, without the id
    assert not [m for m in messages if user in m]


def test_redaction_hides_marked_ids_from_any_logger(caplog: pytest.LogCaptureFixture) -> None:
    uninstall = install_redaction()
    try:
        context = contextvars.copy_context()  # marks live in the request's context only

        def request() -> None:
            mark_personal("bob-42")
            logging.getLogger("some.library").warning("loaded bob-42's items, not bob-420")

        with caplog.at_level(logging.INFO):
            context.run(request)
            logging.getLogger("some.library").warning("outside the request: bob-42")
    finally:
        uninstall()
    messages = [record.getMessage() for record in caplog.records]
    assert messages[0] == f"loaded {REDACTED}'s items, not bob-420"
    assert messages[1] == "outside the request: bob-42"


def test_serve_command_runs_uvicorn_without_access_log_and_with_a_concurrency_limit(
    monkeypatch: pytest.MonkeyPatch, artifacts: dict, store_url: str
) -> None:
    import uvicorn
    from click.testing import CliRunner

    from shoprec.cli import main

    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    monkeypatch.setenv("SHOPREC_MAX_CONCURRENCY", "32")
    monkeypatch.setenv("SHOPREC_API_KEY", "k")
    args = ["serve", "--pipeline", str(artifacts["a"]), "--store", store_url, "--port", "9123"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    ((app, options),) = calls
    assert isinstance(app, FastAPI)
    assert options == {
        "host": "127.0.0.1", "port": 9123, "access_log": False, "limit_concurrency": 32
    }  # fmt: skip
    settings = app.state.settings
    assert settings.store_url == store_url and settings.api_key.get_secret_value() == "k"


# -- fuzzing --------------------------------------------------------------------------------------
schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is a dev dependency")

FUZZ_KEY = "fuzz-admin-key"
# The OpenAPI document does not depend on the pipeline: an app that is never started gives it.
fuzz = schemathesis.openapi.from_dict(create_app(ServiceSettings()).openapi())


@pytest.fixture(scope="module")
def fuzz_app(artifacts: dict[str, Any]) -> FastAPI:
    """The app schemathesis calls (its ASGI client starts it on the first call and leaves it
    running); with keys, so that schemathesis' own auth checks see them enforced."""
    settings = ServiceSettings(pipeline=artifacts["a"], api_key=FUZZ_KEY, read_key="fuzz-read")
    return create_app(settings, store=MemoryStore())


def rules_beyond_the_schema(ctx: Any, response: Any, case: Any) -> bool | None:
    """positive_data_acceptance, except for the rules no schema can state (the item exists,
    the clock skew, min_price <= max_price, a pipeline directory is one): their 422s name the
    field, as the library's ValidationError does; a 422 of the request schema does not."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return None
    detail = response.json().get("detail")
    assert isinstance(detail, list) and detail and all("field" in e for e in detail), (
        f"schema-valid data rejected by the request schema: {response.text}"
    )
    return None


@pytest.mark.slow
@fuzz.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_openapi_document_matches_behaviour_under_all_schemathesis_checks(
    case: Any, fuzz_app: FastAPI
) -> None:
    """Every check (no 5xx, documented statuses, headers and bodies, invalid data refused,
    invalid keys refused, ...); positive data acceptance as :func:`rules_beyond_the_schema`."""
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    case.operation.app = case.operation.schema.app = fuzz_app  # as from_asgi: probes go there
    case.call_and_validate(
        headers={"X-API-Key": FUZZ_KEY},
        timeout=120,  # a reload takes seconds on a busy machine
        excluded_checks=[positive_data_acceptance],
        additional_checks=[rules_beyond_the_schema],
    )


def test_docs_pages_load_their_assets_from_the_service_not_a_cdn(client: TestClient) -> None:
    import re

    for page, assets in (("/docs", 2), ("/redoc", 1)):
        html = client.get(page).text
        urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: ?['"]([^'"]+)['"]""", html)
        found = [a or b for a, b in urls]
        assert found and not [u for u in found if u.startswith(("http:", "https:", "//"))], found
        scripts = [u for u in found if u.endswith((".js", ".css"))]
        assert len(scripts) == assets
        for url in scripts:
            response = client.get(url)
            assert response.status_code == 200 and len(response.content) > 100_000, url
    bundle = client.get("/docs-static/swagger-ui-bundle.js").text
    assert "SwaggerUIBundle" in bundle and '"5.' in bundle  # Swagger UI 5 reads OpenAPI 3.1
    assert client.get("/openapi.json").json()["openapi"].startswith("3.1")
