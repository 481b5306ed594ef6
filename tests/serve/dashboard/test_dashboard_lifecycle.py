"""Experiments and models from the dashboard, without a browser: actions go through the admin
API, need the admin key and the session's form token, and the pages show the outcome."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from serve_support import Client, version_of
from shoprec.online import ModelEntry, champion, register_model, running_experiment
from shoprec.store import open_store

ADMIN, READ = "admin-secret", "read-secret"


def signed_in(make_client: Client, key: str) -> tuple[TestClient, str]:
    client = make_client(api_key=ADMIN, read_key=READ, impression_flush_s=0.02)
    answer = client.post("/dashboard/login", data={"key": key}, follow_redirects=False)
    assert answer.status_code == 303
    page = client.get("/dashboard/experiments").text
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    return client, found.group(1) if found else ""


def test_start_and_stop_an_experiment(
    make_client: Client, store_url: str, artifacts: dict[str, Any]
) -> None:
    client, csrf = signed_in(make_client, ADMIN)
    form = {
        "csrf": csrf,
        "name": "als-16",
        "variant1": "A",
        "pipeline1": str(artifacts["a"]),
        "variant2": "B",
        "pipeline2": str(artifacts["b"]),
        "variant3": "",
    }
    no_token = client.post("/dashboard/experiments/start", data={**form, "csrf": "x"})
    assert no_token.status_code == 403
    started = client.post("/dashboard/experiments/start", data=form)
    assert started.status_code == 200 and "Experiment als-16 started" in started.text
    assert running_experiment(client.app.state.serving.store).name == "als-16"  # type: ignore[attr-defined]
    for user in ("u00001", "u00002", "u00003", "u00004"):
        client.post("/v1/recommendations", json={"user_id": user}, headers={"X-API-Key": ADMIN})
    client.app.state.impressions.flush()  # type: ignore[attr-defined]
    page = client.get("/dashboard/experiments?name=als-16").text
    assert "95% interval" in page and "CTR per minute by variant" in page
    again = client.post("/dashboard/experiments/start", data={**form, "name": "other"})
    assert "Not started" in again.text or "stop it before" in again.text
    stopped = client.post("/dashboard/experiments/als-16/stop", data={"csrf": csrf})
    assert "Experiment als-16 stopped" in stopped.text
    with open_store(store_url) as store:
        assert running_experiment(store) is None


def test_a_read_key_sees_but_cannot_act(make_client: Client, artifacts: dict[str, Any]) -> None:
    client, csrf = signed_in(make_client, READ)
    page = client.get("/dashboard/experiments").text
    assert "needs the admin key" in page and "Start experiment" not in page
    form = {"csrf": csrf, "name": "x", "variant1": "A", "variant2": "B"}
    assert client.post("/dashboard/experiments/start", data=form).status_code == 403
    assert client.post("/dashboard/models/rollback", data={"csrf": csrf}).status_code == 403
    assert "Promote" not in client.get("/dashboard/models").text


def test_promote_a_registered_version_and_roll_back(
    make_client: Client, artifacts: dict[str, Any]
) -> None:
    client, csrf = signed_in(make_client, ADMIN)
    store = client.app.state.serving.store  # type: ignore[attr-defined]
    a, b = version_of(artifacts["a"]), version_of(artifacts["b"])
    for version, path, status in (
        (a, artifacts["a"], "champion"),
        (b, artifacts["b"], "candidate"),
    ):
        register_model(
            store,
            ModelEntry(
                version=version,
                path=str(path),
                model="als",
                status=status,
                created_at=1,
                offline={"ndcg@10": 0.1},
            ),
        )
    page = client.get("/dashboard/models").text
    assert f"Promote {b}" in page and f"Promote {a}" not in page  # a is live
    promoted = client.post("/dashboard/models/promote", data={"csrf": csrf, "version": b})
    assert f"{b} promoted" in promoted.text
    assert client.app.state.serving.active.version == b  # type: ignore[attr-defined]
    assert champion(store).version == b
    back = client.post("/dashboard/models/rollback", data={"csrf": csrf, "version": a})
    assert f"Rolled back: {a} serves" in back.text
    missing = client.post("/dashboard/models/rollback", data={"csrf": csrf, "version": "nope"})
    assert "Not rolled back: 409" in missing.text
