"""The customer explorer, the catalog and data quality, without a browser: what the pages show
for a store with events, and that a "what if" stores nothing unless asked."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from serve_support import Client
from shoprec.store import import_events, open_store, record_import


@pytest.fixture
def filled(make_client: Client, store_url: str, artifacts: dict[str, Any]) -> TestClient:
    data = artifacts["data"]
    with open_store(store_url) as store:
        record_import(
            store, import_events(store, data.interactions, data.catalog), source="synthetic shop"
        )
    return make_client(impression_flush_s=0.02)  # no keys: open, admin


def csrf_free(client: TestClient, page: str) -> str:
    answer = client.get(page)
    assert answer.status_code == 200, answer.text
    return answer.text


def test_customer_portrait_timeline_and_what_if(
    filled: TestClient, artifacts: dict[str, Any]
) -> None:
    data = artifacts["data"]
    user = str(data.interactions.frame["user_id"].iloc[0])
    store = filled.app.state.serving.store  # type: ignore[attr-defined]
    before = store.count_events()
    page = csrf_free(filled, f"/dashboard/customers?user={user}")
    assert f"Portrait of {user}" in page and 'id="timeline"' in page
    history = store.history(user)
    assert page.count("<tr><td>20") == min(len(history), 40)  # one row per recent event
    listed = re.findall(r'<ol class="recs">(.*?)</ol>', page, re.S)[0]
    assert listed.count("<li") == 10 and "score" in listed
    # an item the user never touched, bought: the list changes and nothing is stored
    item = next(i for i in data.catalog.item_ids if i not in {e.item_id for e in history})
    what_if = csrf_free(
        filled, f"/dashboard/customers?user={user}&what_type=purchase&what_item={item}"
    )
    assert "After a purchase of" in what_if
    assert store.count_events() == before
    assert "Store this event for real" in what_if
    stored = filled.post(
        "/dashboard/customers/events",
        data={"user": user, "event_type": "purchase", "item_id": item},
    )
    assert "Stored: purchase of" in stored.text and store.count_events() == before + 1
    unknown = filled.get("/dashboard/customers?user=u0000")
    assert unknown.status_code == 404 and "No events are stored for customer u0000" in unknown.text
    assert "?user=u00001" in unknown.text  # ids containing it are offered
    bad = csrf_free(filled, f"/dashboard/customers?user={user}&what_type=purchase&what_item=nope")
    assert "No item &#39;nope&#39; in the live catalog" in bad


def test_catalog_search_item_page_new_and_removed_items(
    filled: TestClient, artifacts: dict[str, Any]
) -> None:
    new = {"title": "Zorblax Quantum Widget", "brand": "Zorblax", "category": ["Gadgets"]}
    assert filled.put("/v1/items/new-1", json=new).is_success
    gone = artifacts["data"].catalog.item_ids[-1]
    assert filled.delete(f"/v1/items/{gone}").is_success
    page = csrf_free(filled, "/dashboard/catalog?q=Zorblax+quantum+widget")
    results = re.findall(r'id="search-results".*?<tbody>(.*?)</table>', page, re.S)[0]
    assert results.index("new-1") < results.index("</tr>")  # the first hit
    assert "new-1" in re.findall(r'id="new-items"(.*?)</table>', page, re.S)[0]
    assert gone in re.findall(r'id="removed-items"(.*?)</ul>', page, re.S)[0]
    item = artifacts["data"].catalog.item_ids[0]
    shown = csrf_free(filled, f"/dashboard/catalog/items/{item}")
    assert 'id="similar-items"' in shown and "Purchases" in shown
    removed = filled.get(f"/dashboard/catalog/items/{gone}")
    assert removed.status_code == 404 and "was removed" in removed.text


def test_quality_shows_imports_scans_and_releases(filled: TestClient) -> None:
    page = csrf_free(filled, "/dashboard/quality")
    assert "synthetic shop" in page and "No abuse scan has run" in page
    scanned = filled.post("/dashboard/quality/scan", data={})
    assert "Scanned 60 accounts" in scanned.text and "Last scan" in scanned.text
    checks = csrf_free(filled, "/dashboard/quality?check=1")
    assert 'id="findings"' in checks and "customers" in checks
    missing = filled.post("/dashboard/quality/release", data={"user": "nobody"})
    assert "Not released: 404" in missing.text


def test_another_site_cannot_post_a_form(filled: TestClient) -> None:
    answer = filled.post("/dashboard/quality/scan", headers={"Origin": "https://evil.example"})
    assert answer.status_code == 403
