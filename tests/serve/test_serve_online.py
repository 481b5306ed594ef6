"""The online loop in the service: request ids, impressions, attribution, online metrics and
experiments through the HTTP API, and impressions that survive a killed writer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from serve_support import Client, version_of
from shoprec.online import attributed_impressions, running_experiment
from shoprec.serve import ImpressionLog
from shoprec.store import EventContext, Impression, SQLiteStore, open_store


def served(client: TestClient, user: str, k: int = 5) -> dict[str, Any]:
    response = client.post("/v1/recommendations", json={"user_id": user, "k": k})
    assert response.status_code == 200, response.text
    return response.json()


def test_served_lists_are_stored_and_events_attributed_to_them(
    make_client: Client, store_url: str, artifacts: dict[str, Any]
) -> None:
    client = make_client(impression_flush_s=0.05)
    first = served(client, "u00001")
    second = served(client, "u00002")
    assert first["request_id"] != second["request_id"] and len(first["request_id"]) == 32
    clicked = first["items"][2]["item_id"]
    answer = {"user_id": "u00001", "item_id": clicked, "event_type": "click",
              "request_id": first["request_id"], "position": 2, "dwell_ms": 4000}  # fmt: skip
    assert client.post("/v1/events", json=answer).status_code == 201
    other = {"user_id": "u00002", "item_id": second["items"][0]["item_id"], "event_type": "click"}
    assert client.post("/v1/events/batch", json={"events": [other]}).status_code == 200
    client.__exit__(None, None, None)  # shutdown stores what is queued
    with open_store(store_url) as store:
        frame = attributed_impressions(store).set_index(["request_id", "position"])
    assert len(frame) == len(first["items"]) + len(second["items"])
    assert set(frame["version"]) == {version_of(artifacts["a"])}
    assert frame.loc[(first["request_id"], 2), "clicked"]
    assert frame.loc[(first["request_id"], 2), "dwell_ms"] == 4000
    assert frame.loc[(second["request_id"], 0), "clicked"]  # by the window
    assert int(frame["clicked"].sum()) == 2


def test_online_metrics_endpoint(make_client: Client) -> None:
    client = make_client(impression_flush_s=0.02)
    lists = [served(client, f"u{u:05d}", k=4) for u in range(3)]
    item = lists[0]["items"][0]["item_id"]
    click = {"user_id": "u00000", "item_id": item, "event_type": "click"}
    assert client.post("/v1/events", json=click).status_code == 201
    client.app.state.impressions.flush()  # type: ignore[attr-defined]
    body = client.get("/v1/metrics/online", params={"by": "version"}).json()
    (row,) = body["rows"]
    assert (row["impressions"], row["lists"], row["clicks"]) == (12, 3, 1)
    assert row["ctr"] == 1 / 12 and body["window_hours"] == 24
    assert client.get("/v1/metrics/online", params={"by": "color"}).status_code == 422


def test_an_experiment_splits_users_survives_a_restart_and_stops(
    make_client: Client, artifacts: dict[str, Any]
) -> None:
    client = make_client()
    body = {"name": "als-16", "salt": "s1", "variants": [
        {"name": "A", "pipeline": str(artifacts["a"])},
        {"name": "B", "pipeline": str(artifacts["b"])}]}  # fmt: skip
    started = client.post("/v1/admin/experiments", json=body)
    assert started.status_code == 201, started.text
    assert started.json()["status"] == "running" and not started.json()["aa"]
    assert client.post("/v1/admin/experiments", json={**body, "name": "x"}).status_code == 409
    versions = {"A": version_of(artifacts["a"]), "B": version_of(artifacts["b"])}
    users = [f"u{u:05d}" for u in range(30)]
    seen = {u: served(client, u) for u in users}
    assert {r["variant"] for r in seen.values()} == {"A", "B"}
    assert all(r["version"] == versions[r["variant"]] for r in seen.values())
    anonymous = client.post("/v1/recommendations", json={"user_id": None}).json()
    assert anonymous["variant"] == ""
    client.__exit__(None, None, None)

    again = make_client()  # a restart on the same store resumes the split
    assert all(served(again, u)["variant"] == seen[u]["variant"] for u in users)
    again.app.state.impressions.flush()  # type: ignore[attr-defined]
    status = again.get("/v1/admin/experiments/als-16").json()
    ctr = [r for r in status["results"] if r["metric"] == "ctr"]
    assert [r["variant"] for r in ctr] == ["A", "B"]
    assert sum(r["impressions"] for r in ctr) == 60 * 5  # two sessions of 30 lists of 5
    assert again.get("/v1/admin/experiments/none").status_code == 404
    stopped = again.post("/v1/admin/experiments/als-16/stop")
    assert stopped.json()["status"] == "stopped"
    assert {served(again, u)["variant"] for u in users} == {""}
    assert again.post("/v1/admin/experiments/als-16/stop").status_code == 409
    listed = again.get("/v1/admin/experiments").json()["experiments"]
    assert [e["name"] for e in listed] == ["als-16"]


def test_a_variant_that_cannot_load_starts_nothing(
    make_client: Client, store_url: str, artifacts: dict[str, Any]
) -> None:
    client = make_client()
    missing = str(Path(artifacts["a"]).parent / "missing")
    bad = {"name": "bad", "variants": [{"name": "A"}, {"name": "B", "pipeline": missing}]}
    response = client.post("/v1/admin/experiments", json=bad)
    assert response.status_code == 422, response.text
    outside = {"name": "bad", "variants": [{"name": "A"}, {"name": "B", "pipeline": "/etc"}]}
    assert client.post("/v1/admin/experiments", json=outside).status_code == 403
    with open_store(store_url) as store:
        assert running_experiment(store) is None


def test_journaled_impressions_survive_a_writer_that_never_flushed(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    dead = ImpressionLog(store, journal_dir=tmp_path / "j", flush_interval=3600, max_batch=10**6)
    for i in range(50):
        dead.record(Impression(f"r{i}", "u", ("a", "b"), 1000 + i, "v1"))
    dead.record_contexts([EventContext(7, "r3", 1)])
    assert store.impression_frame().empty  # nothing stored yet: as if killed now
    revived = ImpressionLog(store, journal_dir=tmp_path / "j")  # replays at start
    assert len(store.impression_frame()) == 100
    assert store.context_frame()["request_id"].tolist() == ["r3"]
    revived.record(Impression("r-new", "u", ("c",), 5000, "v1"))
    revived.close()
    assert len(store.impression_frame()) == 101
    assert not list((tmp_path / "j").glob("*.journal.*"))  # rotated files removed once stored
    dead.close()  # its late flush stores the same records again: nothing doubles
    assert len(store.impression_frame()) == 101
    store.close()
