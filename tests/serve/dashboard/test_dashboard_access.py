"""The dashboard without a browser: who may see and do what, and that pages render from a
store without traffic (saying what is missing) and with it."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from serve_support import Client, version_of

ADMIN, READ = "admin-secret", "read-secret"


def keyed(make_client: Client) -> TestClient:
    return make_client(api_key=ADMIN, read_key=READ, impression_flush_s=0.02)


def login(client: TestClient, key: str) -> None:
    answer = client.post(
        "/dashboard/login", data={"key": key, "next": "/dashboard/"}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text


def test_closed_without_a_key_and_the_cookie_holds_no_key(make_client: Client) -> None:
    client = keyed(make_client)
    answer = client.get("/dashboard/?since=1", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dashboard/login?next=%2Fdashboard%2F%3Fsince%3D1"
    assert client.get("/dashboard/", headers={"X-API-Key": "nope"}).status_code == 401
    wrong = client.post("/dashboard/login", data={"key": "nope"}, follow_redirects=False)
    assert wrong.status_code == 401 and "not valid" in wrong.text
    assert "shoprec_dashboard" not in client.cookies
    login(client, READ)
    cookie = client.cookies["shoprec_dashboard"]
    assert READ not in cookie and ADMIN not in cookie
    assert client.get("/dashboard/").status_code == 200
    # a forged level or a signature from another key is refused
    _, expires, nonce, signature = cookie.split(".")
    for forged in (f"2.{expires}.{nonce}.{signature}", f"1.{int(expires) + 9}.{nonce}.{signature}"):
        client.cookies.clear()
        client.cookies.set("shoprec_dashboard", forged)
        assert client.get("/dashboard/", follow_redirects=False).status_code == 303
    client.cookies.clear()
    client.cookies.set("shoprec_dashboard", cookie)
    assert client.get("/dashboard/", follow_redirects=False).status_code == 200


def test_the_session_cookie_is_http_only_and_strict(make_client: Client) -> None:
    client = keyed(make_client)
    answer = client.post("/dashboard/login", data={"key": ADMIN}, follow_redirects=False)
    header = answer.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=strict" in header and "path=/dashboard" in header
    assert answer.headers["location"] == "/dashboard/"
    evil = client.post(
        "/dashboard/login",
        data={"key": ADMIN, "next": "https://evil.example/"},
        follow_redirects=False,
    )
    assert evil.headers["location"] == "/dashboard/"


def test_overview_shows_the_live_version_and_traffic(
    make_client: Client, artifacts: dict[str, Any]
) -> None:
    client = keyed(make_client)
    headers = {"X-API-Key": READ}
    empty = client.get("/dashboard/", headers=headers)
    assert empty.status_code == 200
    assert version_of(artifacts["a"]) in empty.text
    assert "No events are stored yet" in empty.text
    item = artifacts["data"].catalog.item_ids[0]
    admin = {"X-API-Key": ADMIN}
    for user in ("u00001", "u00002", "u00003"):
        assert client.post("/v1/recommendations", json={"user_id": user}, headers=admin).is_success
        click = {"user_id": user, "item_id": item, "event_type": "click"}
        assert client.post("/v1/events", json=click, headers=admin).status_code == 201
    client.app.state.impressions.flush()  # type: ignore[attr-defined]
    page = client.get("/dashboard/", headers=headers).text
    assert "No events are stored yet" not in page
    assert '<dd id="requests">6</dd>' in page  # 3 lists + 3 events; dashboard pages not counted
    assert "Online CTR and conversion" in page and "<svg" in page
    assert "cdn" not in page.lower() and "https://" not in page
