"""Abuse review through the service: scan the store, quarantine, metrics, release (admin key)."""

from __future__ import annotations

from typing import Any

import numpy as np

from serve_support import Client
from shoprec.datasets import make_synthetic_shop
from shoprec.quality import AttackConfig, simulate_attack
from shoprec.store import dataset_from_store, import_events, open_store, quarantined_users

ADMIN, READ = "admin-key-0123456789", "read-key-0123456789"
AS_ADMIN = {"X-API-Key": ADMIN}


def test_scan_quarantines_bots_and_a_reviewer_releases_one(
    make_client: Client, store_url: str, artifacts: dict[str, Any]
) -> None:
    shop = make_synthetic_shop(n_users=300, n_items=40, random_state=5)
    attack = simulate_attack(
        shop.split.train, AttackConfig("click_bot", fraction=0.03), random_state=0
    )
    with open_store(store_url) as store:
        import_events(store, attack.interactions, shop.catalog)
    client = make_client(api_key=ADMIN, read_key=READ)
    assert client.post("/v1/admin/abuse/scan", headers={"X-API-Key": READ}).status_code == 403
    assert client.get("/v1/admin/abuse", headers=AS_ADMIN).json()["flagged"] == 0

    scan = client.post("/v1/admin/abuse/scan", headers=AS_ADMIN)
    assert scan.status_code == 200, scan.text
    assert scan.json()["flagged"] >= len(attack.fake_users)
    review = client.get("/v1/admin/abuse", headers=AS_ADMIN).json()
    flagged = {a["user_id"]: a for a in review["accounts"]}
    assert set(attack.fake_users) <= set(flagged)
    assert review["last_scan"]["events"] == len(attack.interactions)
    bot = str(attack.fake_users[0])
    assert flagged[bot]["kind"] == "extreme" and flagged[bot]["reason"].startswith("extreme")

    metrics = client.get("/v1/metrics", headers={"X-API-Key": READ}).text
    assert f'shoprec_abuse_accounts{{kind="extreme",status="flagged"}} {flagged_count(review)}' in (
        metrics
    )
    assert "shoprec_abuse_scans_total 1.0" in metrics

    with open_store(store_url) as store:  # training from the store leaves them out
        train = dataset_from_store(store).interactions
        assert not np.isin(attack.fake_users, train.user_ids).any()

    released = client.post(
        f"/v1/admin/abuse/users/{bot}/release", json={"note": "a test bot"}, headers=AS_ADMIN
    )
    assert released.status_code == 200 and released.json()["status"] == "released"
    client.post("/v1/admin/abuse/scan", headers=AS_ADMIN)  # a later scan leaves it alone
    with open_store(store_url) as store:
        assert bot not in quarantined_users(store)
        assert bot in dataset_from_store(store).interactions.user_ids
    missing = client.post("/v1/admin/abuse/users/nobody/release", headers=AS_ADMIN)
    assert missing.status_code == 404

    assert client.delete(f"/v1/users/{bot}", headers=AS_ADMIN).status_code in (200, 204)
    accounts = client.get("/v1/admin/abuse", headers=AS_ADMIN).json()["accounts"]
    assert bot not in {a["user_id"] for a in accounts}  # deleting a user deletes the record


def flagged_count(review: dict[str, Any]) -> int:
    return sum(a["kind"] == "extreme" for a in review["accounts"] if a["status"] == "flagged")


def test_scan_of_an_empty_or_tiny_store_flags_nobody(make_client: Client) -> None:
    client = make_client(api_key=ADMIN)
    assert client.post("/v1/admin/abuse/scan", headers=AS_ADMIN).json()["flagged"] == 0
    body = {"user_id": "u1", "item_id": "p00001", "event_type": "view"}
    assert client.post("/v1/events", json=body, headers=AS_ADMIN).status_code == 201
    scan = client.post("/v1/admin/abuse/scan", headers=AS_ADMIN)
    assert scan.status_code == 200 and scan.json()["flagged"] == 0
