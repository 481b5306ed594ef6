"""Fixtures and helpers of the service tests (a pytest plugin, see ``conftest.py``): two tiny
saved pipelines, apps started on them over a SQLite store, and request helpers."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shoprec.datasets import make_synthetic_shop
from shoprec.pipeline import Pipeline, PipelineConfig
from shoprec.serve import ServiceSettings, create_app
from shoprec.store import open_store

Client = Callable[..., TestClient]


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two saved pipelines on one tiny shop (ALS + hashing encoder: fitted in about a second)."""
    data = make_synthetic_shop(n_users=60, n_items=40, random_state=0)
    root = tmp_path_factory.mktemp("pipelines")
    paths = {}
    for name, factors in (("a", 8), ("b", 16)):
        config = PipelineConfig(model="als", encoder="hashing", model_params={"factors": factors})
        pipeline = Pipeline(config).fit(data.split.train, data.catalog)
        paths[name] = pipeline.save(root / name)
    return {"data": data, **paths}


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'events.db'}"


@pytest.fixture
def make_client(artifacts: dict[str, Any], store_url: str) -> Iterator[Client]:
    """Start apps on pipeline "a" and a SQLite store in tmp_path; all are closed at the end."""
    clients: list[TestClient] = []

    def start(**settings: Any) -> TestClient:
        settings = {"pipeline": artifacts["a"], "store_url": store_url, **settings}
        client = TestClient(create_app(ServiceSettings(**settings)))
        client.__enter__()
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Client) -> TestClient:
    return make_client()


def version_of(path: Path) -> str:
    return hashlib.sha256((path / "manifest.json").read_bytes()).hexdigest()[:12]


def event(user: str, item: str, kind: str = "view", **extra: Any) -> dict[str, Any]:
    return {"user_id": user, "item_id": item, "event_type": kind, **extra}


def recommend(client: TestClient, user: str | None = None, **body: Any) -> list[str]:
    response = client.post("/v1/recommendations", json={"user_id": user, **body})
    assert response.status_code == 200, response.text
    return [item["item_id"] for item in response.json()["items"]]


def count_events(store_url: str) -> int:
    with open_store(store_url) as store:
        return store.count_events()


NEW_ITEM = {
    "item_id": "new-1",
    "title": "Zorblax Quantum Widget",
    "brand": "Zorblax",
    "category": ["Gadgets", "Widgets"],
    "price": 12.5,
}
