"""The service's hardening: keys on every route, confined reloads, bad artifacts, store
outages, idempotency per user, timestamp sanity, secrets and deletion."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import stat
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from postgres_support import PostgresServer, skip_reason
from serve_support import Client, event, recommend, version_of
from shoprec.data import Event, EventType
from shoprec.datasets import make_synthetic_shop
from shoprec.pipeline import Pipeline, training_users
from shoprec.serve import ServiceSettings, create_app
from shoprec.serve._admission import Gate
from shoprec.store import SQLiteStore, drop_deleted_users, open_store, user_digest

ADMIN, READ = "adm1n-k3y", "r3ad-k3y"
YEAR_2000_MS = 946_684_800_000
OPEN_ROUTES = {("get", "/v1/health"), ("get", "/v1/health/ready")}
# the routes a front-end's read key opens; everything else needs the admin key
READ_ROUTES = {
    ("post", "/v1/recommendations"),
    ("get", "/v1/search"),
    ("get", "/v1/items/{item_id}"),
    ("get", "/v1/items/{item_id}/similar"),
    ("get", "/v1/users/{user_id}/portrait"),
    ("get", "/v1/metrics"),
    ("get", "/v1/metrics/online"),  # aggregates only, like /v1/metrics
}


def routes(client: TestClient) -> list[tuple[str, str]]:
    spec = client.app.openapi()  # type: ignore[attr-defined]
    return sorted((method, path) for path, ops in spec["paths"].items() for method in ops)


def call(client: TestClient, method: str, path: str, key: str | None = None) -> int:
    url = path.replace("{item_id}", "p00001").replace("{user_id}", "key-user")
    headers = {} if key is None else {"X-API-Key": key}
    return client.request(method, url, headers=headers).status_code


# -- 1. keys ---------------------------------------------------------------------------------------
def test_every_route_but_health_needs_a_key_and_admin_routes_the_admin_key(
    make_client: Client,
) -> None:
    client = make_client(api_key=ADMIN, read_key=READ)
    body = event("key-user", "p00001")
    assert client.post("/v1/events", json=body, headers={"X-API-Key": ADMIN}).status_code == 201
    bearer = {"Authorization": f"Bearer {READ}"}
    assert client.get("/v1/users/key-user/portrait", headers=bearer).status_code == 200
    seen = set()
    for method, path in routes(client):
        seen.add((method, path))
        if (method, path) in OPEN_ROUTES:
            assert call(client, method, path) == 200, path
            continue
        assert call(client, method, path) == 401, (method, path)
        assert call(client, method, path, "wrong") == 401, (method, path)
        assert call(client, method, path, ADMIN + "x") == 401, (method, path)
        read = call(client, method, path, READ)
        if (method, path) in READ_ROUTES:
            assert read not in (401, 403), (method, path)
        else:
            assert read == 403, (method, path)
        assert call(client, method, path, ADMIN) not in (401, 403), (method, path)
    assert seen >= READ_ROUTES | OPEN_ROUTES


def test_without_a_key_a_known_and_an_unknown_user_look_the_same(make_client: Client) -> None:
    client = make_client(api_key=ADMIN, read_key=READ)
    client.post("/v1/events", json=event("known", "p00001"), headers={"X-API-Key": ADMIN})
    answers = []
    for user in ("known", "nobody"):
        for method, path, body in [
            ("get", f"/v1/users/{user}/portrait", None),
            ("post", "/v1/recommendations", {"user_id": user}),
            ("get", f"/v1/search?q=socks&user_id={user}", None),
            ("delete", f"/v1/users/{user}", None),
        ]:
            response = client.request(method, path, json=body, headers={"X-API-Key": "guess"})
            answers.append((path.replace(user, "U"), response.status_code, response.text))
    assert answers[:4] == answers[4:]
    assert {status for _, status, _ in answers} == {401}
    # a bad path or body does not tell a caller without a key anything either: 401 first
    assert client.get("/v1/users/" + "x" * 300 + "/portrait").status_code == 401
    assert client.post("/v1/recommendations", json={"k": "many"}).status_code == 401


def test_docs_are_open_or_closed_by_a_setting(make_client: Client) -> None:
    public = make_client(api_key=ADMIN)
    assert public.get("/openapi.json").status_code == 200
    assert public.get("/docs").status_code == 200
    private = make_client(api_key=ADMIN, read_key=READ, public_docs=False)
    assert private.get("/docs").status_code == 404
    assert private.get("/openapi.json").status_code == 401
    spec = private.get("/openapi.json", headers={"X-API-Key": READ})
    assert spec.status_code == 200 and "/v1/recommendations" in spec.json()["paths"]


def test_a_read_key_alone_is_refused(artifacts: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="read_key needs api_key"):
        ServiceSettings(pipeline=artifacts["a"], read_key=READ)


def test_without_keys_everything_is_open_and_start_up_warns(
    client: TestClient, artifacts: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    assert client.post("/v1/events", json=event("open", "p00001")).status_code == 201
    assert client.get("/v1/admin/version").status_code == 200
    with (
        caplog.at_level("WARNING", logger="shoprec.serve"),
        TestClient(create_app(ServiceSettings(pipeline=artifacts["a"], store_url="memory://"))),
    ):
        pass
    assert any("no API key is set" in r.getMessage() for r in caplog.records)


# -- 3. bad artifacts ------------------------------------------------------------------------------
def _json(path: Path, change: Callable[[dict[str, Any]], object]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _truncate(path: Path, keep: float) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * keep)])


def _vectors(path: Path, change: Callable[[np.ndarray], np.ndarray]) -> None:
    from safetensors.numpy import load_file, save_file

    file = path / "item_vectors.safetensors"
    save_file({"vectors": np.ascontiguousarray(change(load_file(str(file))["vectors"]))}, str(file))


CORRUPTIONS: dict[str, tuple[Callable[[Path], object], str]] = {
    "manifest missing": (lambda p: (p / "manifest.json").unlink(), "manifest.json"),
    "manifest not JSON": (lambda p: (p / "manifest.json").write_text("{nope"), "manifest.json"),
    "manifest not an object": (lambda p: (p / "manifest.json").write_text("[]"), "manifest.json"),
    "another format": (
        lambda p: _json(p / "manifest.json", lambda m: m.update(format="shoprec-pipeline/9")),
        "manifest.json",
    ),
    "extra config key": (
        lambda p: _json(p / "manifest.json", lambda m: m["config"].update(colour="red")),
        "colour",
    ),
    "config missing": (
        lambda p: _json(p / "manifest.json", lambda m: m.pop("config")),
        "config",
    ),
    "components not a mapping": (
        lambda p: _json(p / "manifest.json", lambda m: m.update(components=["model"])),
        "components",
    ),
    "removed_items not a list": (
        lambda p: _json(p / "manifest.json", lambda m: m.update(removed_items="p00001")),
        "removed_items",
    ),
    "unknown model parameter": (
        lambda p: _json(p / "model" / "manifest.json", lambda m: m["params"].update(depth=3)),
        "depth",
    ),
    "truncated vectors": (
        lambda p: _truncate(p / "item_vectors.safetensors", 0.5),
        "item_vectors.safetensors",
    ),
    "empty vectors": (
        lambda p: _truncate(p / "item_vectors.safetensors", 0.0),
        "item_vectors.safetensors",
    ),
    "vectors for fewer items": (lambda p: _vectors(p, lambda v: v[:-1]), "item_vectors"),
    "vectors of another width": (lambda p: _vectors(p, lambda v: v[:, :-1]), "item_vectors"),
    "truncated model state": (
        lambda p: _truncate(p / "model" / "state.safetensors", 0.6),
        "state.safetensors",
    ),
    "items.json shorter than the state": (
        lambda p: _json(p / "model" / "items.json", lambda m: m["item_ids"].pop()),
        "items.json",
    ),
    "catalog unreadable": (
        lambda p: (p / "catalog.parquet").write_bytes(b"PAR1 not really"),
        "catalog.parquet",
    ),
    "component missing": (lambda p: shutil.rmtree(p / "covisitation"), "covisitation"),
}


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_every_corrupt_artifact_gets_422_naming_the_file_and_the_old_version_serves(
    make_client: Client, shop: dict[str, Path], kind: str
) -> None:
    client = make_client(pipeline=shop["a"])
    corrupt, named = CORRUPTIONS[kind]
    bad = variant(shop["b"], shop["root"] / "bad")
    corrupt(bad)
    before = client.get("/v1/admin/version").json()["active"]["version"]
    response = client.post("/v1/admin/reload", json={"path": str(bad)})
    assert response.status_code == 422, (kind, response.text)
    message = response.json()["detail"][0]["msg"]
    assert named in message, (kind, message)
    assert client.get("/v1/admin/version").json()["active"]["version"] == before
    assert client.post("/v1/recommendations", json={"user_id": "u1"}).status_code == 200


# -- 4. store outages ------------------------------------------------------------------------------
def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["detail"] == "the event store is unavailable; retry later"


def test_a_stopped_postgresql_gives_503_with_retry_after_and_recovery_is_automatic(
    artifacts: dict[str, Any],
) -> None:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    server = PostgresServer()
    try:
        server.start()
        settings = ServiceSettings(pipeline=artifacts["a"], store_url=server.url)
        with TestClient(create_app(settings)) as client:
            assert client.post("/v1/events", json=event("pg-a", "p00001")).status_code == 201
            cached = client.post("/v1/recommendations", json={"user_id": "pg-a"}).json()
            server.stop()
            assert_unavailable(client.post("/v1/events", json=event("pg-a", "p00002")))
            batch = {"events": [event("pg-b", "p00002")]}
            assert_unavailable(client.post("/v1/events/batch", json=batch))
            assert_unavailable(client.post("/v1/recommendations", json={"user_id": "pg-new"}))
            assert_unavailable(client.get("/v1/users/pg-new/portrait"))
            assert_unavailable(client.delete("/v1/users/pg-a"))
            assert client.get("/v1/health/ready").status_code == 503
            again = client.post("/v1/recommendations", json={"user_id": "pg-a"})  # cached
            assert again.status_code == 200 and again.json()["items"] == cached["items"]
            server.start()
            assert client.get("/v1/health/ready").status_code == 200
            assert client.post("/v1/events", json=event("pg-a", "p00002")).status_code == 201
            assert client.post("/v1/recommendations", json={"user_id": "pg-new"}).status_code == 200
            portrait = client.get("/v1/users/pg-a/portrait").json()
            assert portrait["event_counts"] == {"view": 2}  # nothing half-written in the outage
    finally:
        server.remove()


def test_a_locked_or_read_only_sqlite_gives_503(artifacts: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    store = SQLiteStore(path, busy_timeout_ms=100)
    try:
        app = create_app(ServiceSettings(pipeline=artifacts["a"]), store=store)
        with TestClient(app) as client:
            other = sqlite3.connect(path, isolation_level=None)
            other.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
            assert_unavailable(client.post("/v1/events", json=event("lock", "p00001")))
            other.execute("ROLLBACK")
            other.close()
            assert client.post("/v1/events", json=event("lock", "p00001")).status_code == 201
            store._writer.execute(
                "PRAGMA query_only = ON"
            )  # writes now fail as on a read-only disk
            assert_unavailable(client.post("/v1/events", json=event("lock", "p00002")))
            assert_unavailable(client.delete("/v1/users/lock"))
            store._writer.execute("PRAGMA query_only = OFF")
            assert client.get("/v1/users/lock/portrait").json()["event_counts"] == {"view": 1}
    finally:
        store.close()


# -- 5. idempotency per user -----------------------------------------------------------------------
def test_client_event_ids_are_per_user_and_a_changed_payload_is_409(
    client: TestClient, store_url: str
) -> None:
    first = client.post("/v1/events", json=event("ann", "p00001", client_event_id="e-1"))
    other_user = client.post("/v1/events", json=event("bob", "p00001", client_event_id="e-1"))
    assert (first.status_code, other_user.status_code) == (201, 201)
    retry = client.post("/v1/events", json=event("ann", "p00001", client_event_id="e-1"))
    assert retry.status_code == 200 and retry.json()["duplicate"] is True  # stamped anew: fine
    changed = client.post("/v1/events", json=event("ann", "p00002", client_event_id="e-1"))
    assert changed.status_code == 409
    (detail,) = changed.json()["detail"]
    assert detail["field"] == "client_event_id" and "another item_id" in detail["msg"]
    batch = {
        "events": [event("cy", "p00003"), event("ann", "p00001", "cart", client_event_id="e-1")]
    }
    refused = client.post("/v1/events/batch", json=batch)
    assert refused.status_code == 409 and refused.json()["detail"][0]["row"] == 2
    timed = event("dee", "p00001", client_event_id="t", timestamp=1_700_000_000_000)
    assert client.post("/v1/events", json=timed).status_code == 201
    later = {**timed, "timestamp": 1_700_000_000_001}
    assert client.post("/v1/events", json=later).status_code == 409  # a client's own time counts
    with open_store(store_url) as store:
        assert store.count_events() == 3


# -- 6. timestamps ---------------------------------------------------------------------------------
def test_timestamps_before_2000_or_too_far_ahead_are_refused_with_a_hint(
    make_client: Client, store_url: str
) -> None:
    client = make_client(max_future_skew_s=3600)
    now = int(time.time() * 1000)

    def post(timestamp: int) -> Any:
        return client.post("/v1/events", json=event("tim", "p00001", timestamp=timestamp))

    seconds = post(now // 1000)
    assert seconds.status_code == 422
    (detail,) = seconds.json()["detail"]
    assert detail["loc"] == ["body", "timestamp"]
    assert (
        "before 2000-01-01" in detail["msg"]
        and f"send milliseconds ({now // 1000 * 1000})" in (detail["msg"])
    )
    assert post(0).status_code == 422 and "seconds" not in post(0).text
    ahead = post(now + 2 * 3_600_000)
    assert ahead.status_code == 422 and ahead.json()["detail"][0]["field"] == "timestamp"
    assert "2 h ahead" in ahead.json()["detail"][0]["msg"]
    micro = post(now * 1000)
    assert "micro- or nanoseconds" in micro.json()["detail"][0]["msg"]
    assert post(2**63 - 1).status_code == 422
    batch = {"events": [event("tim", "p00001"), event("tim", "p00002", timestamp=now * 1000)]}
    refused = client.post("/v1/events/batch", json=batch).json()["detail"][0]
    assert refused["loc"] == ["body", "events", 1, "timestamp"]
    ahead_in_batch = [event("tim", "p00001"), event("tim", "p00002", timestamp=now + 7_200_000)]
    refused = client.post("/v1/events/batch", json={"events": ahead_in_batch}).json()
    assert (refused["detail"][0]["row"], refused["detail"][0]["field"]) == (2, "timestamp")
    assert post(now + 1_800_000).status_code == 201  # within the allowed skew
    assert post(YEAR_2000_MS).status_code == 201
    with open_store(store_url) as store:
        assert store.count_events() == 2
    spec = client.app.openapi()  # type: ignore[attr-defined]
    stamp = spec["components"]["schemas"]["EventIn"]["properties"]["timestamp"]["anyOf"][0]
    assert stamp["minimum"] == YEAR_2000_MS and stamp["maximum"] == 4_102_444_800_000


# -- 2. reloads confined to the artifacts directory ------------------------------------------------
def reload(client: TestClient, path: str | Path) -> Any:
    return client.post("/v1/admin/reload", json={"path": str(path)})


def variant(source: Path, target: Path) -> Path:
    """A copy of ``source`` with another version id (its manifest differs)."""
    shutil.copytree(source, target)
    _json(target / "manifest.json", lambda m: m.update(created_at=target.name))
    return target


@pytest.fixture
def shop(artifacts: dict[str, Any], tmp_path: Path) -> dict[str, Path]:
    """An artifacts directory with pipelines a and b, and a valid pipeline outside it."""
    root = tmp_path / "artifacts"
    root.mkdir()
    paths = {name: variant(artifacts[name], root / name) for name in ("a", "b")}
    return {"root": root, "outside": variant(artifacts["a"], tmp_path / "outside"), **paths}


def test_reloads_resolve_inside_the_artifacts_dir_and_refuse_the_outside_alike(
    make_client: Client, shop: dict[str, Path]
) -> None:
    client = make_client(pipeline=shop["a"])  # artifacts dir: the parent of the pipeline
    assert reload(client, "b").status_code == 200  # relative to the artifacts directory
    assert client.get("/v1/admin/version").json()["active"]["path"] == str(shop["b"])
    (shop["root"] / "current").symlink_to(shop["a"])  # a symlink inside, to inside: fine
    assert reload(client, "current").json()["active"]["path"] == str(shop["a"])
    (shop["root"] / "escape").symlink_to(shop["outside"])
    answers = [
        reload(client, path)
        for path in (shop["outside"], "/no/such/dir", "../outside", "escape", "/etc", shop["root"])
    ]
    assert {r.status_code for r in answers} == {403}
    assert len({r.text for r in answers}) == 1  # nothing tells whether the outside path exists
    assert "outside" in answers[0].json()["detail"][0]["msg"]
    missing = reload(client, "nothing-here")
    assert missing.status_code == 422 and "nothing-here" in missing.text
    assert str(shop["root"].parent) not in missing.text  # named relative to the artifacts dir


def test_only_regular_files_are_read_and_within_a_time_limit(
    make_client: Client, shop: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(pipeline=shop["a"], reload_timeout_s=1.0)
    fifo = variant(shop["b"], shop["root"] / "fifo")
    (fifo / "manifest.json").unlink()
    os.mkfifo(fifo / "manifest.json")  # reading it would block forever
    started = time.monotonic()
    response = reload(client, "fifo")
    assert response.status_code == 422 and "manifest.json is not a regular file" in response.text
    assert time.monotonic() - started < 1.0
    linked = variant(shop["b"], shop["root"] / "linked")
    (linked / "catalog.parquet").unlink()
    (linked / "catalog.parquet").symlink_to(shop["outside"] / "catalog.parquet")
    assert reload(client, "linked").status_code == 422
    slow = Pipeline.load

    def hang(path: Any) -> Pipeline:
        time.sleep(3)
        return slow(path)

    monkeypatch.setattr(Pipeline, "load", hang)
    started = time.monotonic()
    response = reload(client, "b")
    assert response.status_code == 422 and "took over 1 s" in response.text
    assert time.monotonic() - started < 2.5
    assert client.get("/v1/admin/version").json()["active"]["path"] == str(shop["a"])


def test_rollback_reaches_any_of_the_last_n_versions(
    make_client: Client, shop: dict[str, Path]
) -> None:
    client = make_client(pipeline=shop["a"], keep_versions=3)
    c, d = variant(shop["a"], shop["root"] / "c"), variant(shop["b"], shop["root"] / "d")
    ids = {p.name: version_of(p) for p in (shop["a"], shop["b"], c, d)}
    for name in ("b", "c", "d"):
        assert reload(client, name).status_code == 200
    listed = client.get("/v1/admin/version").json()
    assert [v["version"] for v in listed["kept"]] == [ids["c"], ids["b"], ids["a"]]
    assert listed["previous"]["version"] == ids["c"]
    back = client.post("/v1/admin/rollback", json={"version": ids["a"]})  # reloaded from disk
    assert back.status_code == 200 and back.json()["active"]["version"] == ids["a"]
    assert [v["version"] for v in back.json()["kept"]] == [ids["d"], ids["c"], ids["b"]]
    assert recommend(client, "u1")  # serves
    unknown = client.post("/v1/admin/rollback", json={"version": "0123456789ab"})
    assert unknown.status_code == 409 and ids["b"] in unknown.json()["detail"]
    _json(shop["b"] / "manifest.json", lambda m: m.update(created_at="changed"))
    changed = client.post("/v1/admin/rollback", json={"version": ids["b"]})
    assert changed.status_code == 409 and "changed on disk" in changed.json()["detail"]
    plain = client.post("/v1/admin/rollback")  # the most recent, still in memory
    assert plain.json()["active"]["version"] == ids["d"]


# -- 7, 8. secrets off the command line; no key, no exposure ---------------------------------------
@pytest.fixture
def serve_cli(monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[Any, list[Any]]]:
    """Run ``shoprec serve`` with uvicorn replaced; returns the result and uvicorn's calls."""
    import uvicorn
    from click.testing import CliRunner

    from shoprec.cli import main

    for name in ("API_KEY", "READ_KEY", "STORE_URL", "API_KEY_FILE", "STORE_URL_FILE"):
        monkeypatch.delenv(f"SHOPREC_{name}", raising=False)

    def run(*args: str) -> tuple[Any, list[Any]]:
        calls: list[Any] = []
        monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
        return CliRunner().invoke(main, ["serve", *args]), calls

    return run


def test_secrets_come_from_files_or_the_environment_never_argv(
    serve_cli: Callable[..., tuple[Any, list[Any]]],
    artifacts: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key, read, url = tmp_path / "key", tmp_path / "read", tmp_path / "url"
    key.write_text(ADMIN + "\n")
    read.write_text(READ + "\n")
    url.write_text(f"sqlite:///{tmp_path / 'events.db'}\n")
    pipeline = ["--pipeline", str(artifacts["a"])]
    result, calls = serve_cli(
        *pipeline, "--api-key-file", str(key), "--read-key-file", str(read),
        "--store-url-file", str(url), "--host", "0.0.0.0",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    settings = calls[0][0].state.settings
    assert settings.api_key.get_secret_value() == ADMIN
    assert settings.read_key.get_secret_value() == READ
    assert settings.store_url == f"sqlite:///{tmp_path / 'events.db'}"
    assert "warning" not in result.output
    result, _ = serve_cli(*pipeline, "--api-key", ADMIN)
    assert result.exit_code == 2 and "No such option" in result.output  # keys stay off argv
    monkeypatch.setenv("SHOPREC_API_KEY", ADMIN)
    result, calls = serve_cli(*pipeline, "--host", "0.0.0.0")
    assert result.exit_code == 0 and calls[0][0].state.settings.api_key.get_secret_value() == ADMIN
    result, _ = serve_cli(*pipeline, "--api-key-file", str(key))
    assert result.exit_code == 2 and "not both" in result.output
    result, _ = serve_cli(*pipeline, "--store", "postgresql://shop:hunter2@db/shop")
    assert "holds a password" in result.output


def test_no_key_warns_and_a_network_address_needs_a_key_or_insecure(
    serve_cli: Callable[..., tuple[Any, list[Any]]], artifacts: dict[str, Any], tmp_path: Path
) -> None:
    args = ["--pipeline", str(artifacts["a"]), "--store", f"sqlite:///{tmp_path / 'e.db'}"]
    result, calls = serve_cli(*args)
    assert result.exit_code == 0 and len(calls) == 1
    assert "warning: no API key is set" in result.output
    for host in ("0.0.0.0", "10.1.2.3", "::", "shop.example.com"):
        result, calls = serve_cli(*args, "--host", host)
        assert result.exit_code == 2 and not calls, host
        assert "refusing to serve" in result.output
    result, calls = serve_cli(*args, "--host", "0.0.0.0", "--insecure")
    assert result.exit_code == 0 and len(calls) == 1 and "warning" in result.output
    for host in ("localhost", "::1", "127.0.0.2"):
        assert serve_cli(*args, "--host", host)[0].exit_code == 0, host


# -- 9. deletion reaches everything ----------------------------------------------------------------
def test_a_deleted_user_leaves_no_bytes_in_the_sqlite_files_which_are_private(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "state" / "events.db"
    secret = "zq-private-user-4711"
    with SQLiteStore(path) as store:
        store.append([Event("keep-1", "i1", EventType.VIEW, 1)])
        store.append(
            [Event(secret, f"i{n}", EventType.RATING, n, rating=4.0, review=f"{secret} review")
             for n in range(200)],
            client_event_ids=[f"{secret}-{n}" for n in range(200)],
        )  # fmt: skip
        store.save_profiles({secret: json.dumps({"about": secret})})
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        assert any(secret.encode() in f.read_bytes() for f in files if f.exists())
        assert store.delete_user(secret) == 200
        for file in files:
            if file.exists():
                assert secret.encode() not in file.read_bytes(), file.name
                assert stat.S_IMODE(file.stat().st_mode) == 0o600, file.name
        assert user_digest(secret) in store.deleted_users()
        assert [e.user_id for e in store.history("keep-1")] == ["keep-1"]
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    shared = tmp_path / "shared.db"
    shared.touch(mode=0o644)
    with caplog.at_level("WARNING"), SQLiteStore(shared):
        pass
    assert any("readable by other users" in r.getMessage() for r in caplog.records)


def test_deleting_a_user_reaches_the_served_pipelines_and_the_deletion_list(
    make_client: Client, shop: dict[str, Path], store_url: str
) -> None:
    client = make_client(pipeline=shop["a"])
    trained = "u00047"  # in the training data only: no events in the store
    state = client.app.state.serving  # type: ignore[attr-defined]
    assert trained in training_users(state.active.pipeline)
    gone = client.delete(f"/v1/users/{trained}")
    assert gone.status_code == 200
    assert gone.json() == {
        "user_id": trained, "events_deleted": 0, "training_history_removed": True
    }  # fmt: skip
    assert trained not in training_users(state.active.pipeline)
    assert reload(client, "b").status_code == 200  # its files still hold the user: not served
    assert trained not in training_users(state.active.pipeline)
    assert client.delete(f"/v1/users/{trained}").status_code == 404  # nothing knows them now
    assert client.delete("/v1/users/never-seen").status_code == 404
    with open_store(store_url) as store:
        dataset = make_synthetic_shop(n_users=60, n_items=40, random_state=0)
        kept, dropped = drop_deleted_users(dataset, store.deleted_users())
    assert dropped == 1 and trained not in set(kept.interactions.frame["user_id"])
    assert len(kept.interactions) < len(dataset.interactions)


def test_forget_removes_users_from_an_artifact_on_disk(
    shop: dict[str, Path], tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from shoprec.cli import main

    before = version_of(shop["b"])
    url = f"sqlite:///{tmp_path / 'events.db'}"
    with open_store(url) as store:
        store.append([Event("u00047", "p00001", EventType.VIEW, YEAR_2000_MS)])
    result = CliRunner().invoke(
        main, ["forget", "u00047", "u00033", "--pipeline", str(shop["b"]), "--store", url]
    )
    assert result.exit_code == 0, result.output
    assert "2 of 2 users were in its training data" in result.output
    assert "1 events deleted" in result.output
    for file in shop["b"].rglob("*"):
        if file.is_file():
            assert b"u00047" not in file.read_bytes(), file
    pipeline = Pipeline.load(shop["b"])
    assert not {"u00047", "u00033"} & training_users(pipeline)
    assert len(training_users(pipeline)) > 40 and version_of(shop["b"]) != before
    with open_store(url) as store:
        assert store.count_events() == 0 and user_digest("u00033") in store.deleted_users()


# -- 10. bounded queueing --------------------------------------------------------------------------
def test_a_gate_admits_its_limit_queues_briefly_and_refuses_the_rest() -> None:
    async def scenario() -> list[Any]:
        gate = Gate(1, queue=1, max_wait_s=0.2)
        assert await gate.enter()  # the one slot
        started = time.monotonic()
        waiting = asyncio.create_task(gate.enter())  # queues
        await asyncio.sleep(0.01)
        overflow = await gate.enter()  # the queue is full: refused at once
        refused_in = time.monotonic() - started
        timed_out = await waiting  # nobody left: gives up after max_wait_s
        waited = time.monotonic() - started
        handed = asyncio.create_task(gate.enter())
        await asyncio.sleep(0.01)
        gate.leave()  # the slot passes to the waiter
        return [overflow, refused_in, timed_out, waited, await handed, gate.inflight]

    overflow, refused_in, timed_out, waited, handed, inflight = asyncio.run(scenario())
    assert overflow is False and refused_in < 0.15  # before the waiter's 0.2 s ran out
    assert timed_out is False and 0.19 < waited < 2.0
    assert handed is True and inflight == 1


def test_an_overloaded_service_refuses_fast_and_keeps_answering_health(
    make_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(max_inflight_writes=1, max_queue_wait_s=0.1)
    state = client.app.state.serving  # type: ignore[attr-defined]
    ingest = state.ingest

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.6)  # a store that cannot keep up
        return ingest(*args, **kwargs)

    monkeypatch.setattr(state, "ingest", slow)

    def post(n: int) -> tuple[int, float, str | None]:
        started = time.monotonic()
        response = client.post("/v1/events", json=event(f"busy-{n}", "p00001"))
        return response.status_code, time.monotonic() - started, response.headers.get("Retry-After")

    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(post, n) for n in range(6)]
        time.sleep(0.05)
        health = client.get("/v1/health")
        reads = client.post("/v1/recommendations", json={"user_id": "u1"})
        answers = [future.result() for future in futures]
    assert health.status_code == 200 and reads.status_code == 200  # reads have their own slots
    refused = [(s, t, r) for s, t, r in answers if s == 503]
    assert sum(s == 201 for s, _, _ in answers) >= 1 and len(refused) >= 4
    assert all(t < 0.5 and r == "1" for _, t, r in refused)  # fast, with Retry-After
