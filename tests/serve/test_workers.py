"""Several service workers on one PostgreSQL store: read-your-writes on whichever worker serves
the next request."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from postgres_support import PostgresServer, skip_reason
from serve_support import event, recommend
from shoprec.serve import ServiceSettings, create_app
from shoprec.store import open_store


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    server = PostgresServer()
    try:
        server.start()
        yield server.url
    finally:
        server.remove()


def two_workers(
    artifacts: dict[str, Any], url: str, tmp_path: Path, workers: int
) -> tuple[TestClient, TestClient]:
    settings = ServiceSettings(
        pipeline=artifacts["a"], store_url=url, workers=workers, impression_journal=tmp_path
    )
    return TestClient(create_app(settings)), TestClient(create_app(settings))


def wipe(url: str, user: str) -> None:
    with open_store(url) as store:
        store.delete_user(user)


@pytest.mark.parametrize("workers", [2, 1])
def test_read_your_writes_across_workers(
    artifacts: dict[str, Any], postgres: str, tmp_path: Path, workers: int
) -> None:
    """Worker b has the user cached when worker a stores their next event; b's next answer
    reflects it. With ``workers=1`` (no tail) b serves the stale cache: the control."""
    user = f"ryw-{workers}"
    wipe(postgres, user)
    a, b = two_workers(artifacts, postgres, tmp_path, workers)
    with a, b:
        assert b.post("/v1/events", json=event(user, "p00001")).status_code == 201
        before = recommend(b, user, k=20)  # b caches the history and the portrait
        assert b.get(f"/v1/users/{user}/portrait").json()["event_counts"] == {"view": 1}
        seen = before[0]
        assert a.post("/v1/events", json=event(user, seen, "purchase")).status_code == 201
        portrait = b.get(f"/v1/users/{user}/portrait").json()
        after = recommend(b, user, k=20)
        if workers == 2:
            assert portrait["event_counts"] == {"view": 1, "purchase": 1}
            assert seen not in after, "an item the user just bought is not recommended"
        else:
            assert portrait["event_counts"] == {"view": 1}  # stale: why the tail exists
            assert after == before
        # events b wrote itself are not folded twice
        assert b.post("/v1/events", json=event(user, "p00002")).status_code == 201
        counts = a.get(f"/v1/users/{user}/portrait").json()["event_counts"]
        assert counts == {"view": 2, "purchase": 1} or workers == 1


def test_more_workers_need_a_shared_store(artifacts: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="shared store"):
        ServiceSettings(pipeline=artifacts["a"], store_url="memory://", workers=2)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow  # two worker processes start (torch imports): ~50 s on a busy machine
def test_serve_workers_command(artifacts: dict[str, Any], postgres: str, tmp_path: Path) -> None:
    """``shoprec serve --workers 2``: two processes, and every event a client was acknowledged
    shows in its next read, over fresh connections (which the kernel spreads over workers)."""
    port = _free_port()
    env = {**os.environ, "SHOPREC_STORE_URL": postgres, "SHOPREC_IMPRESSION_JOURNAL": str(tmp_path)}
    command = [sys.executable, "-c", "from shoprec.cli import main; main()", "serve"]
    command += ["--pipeline", str(artifacts["a"])]
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [*command, "--port", str(port), "--workers", "2"], env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{base}/v1/health/ready").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        else:
            pytest.fail((tmp_path / "serve.log").read_text())
        assert len(_children(process.pid)) >= 2, "two worker processes"
        user = "ryw-cli"
        wipe(postgres, user)
        for i in range(12):
            with httpx.Client(base_url=base) as fresh:  # a new connection each time
                body = event(user, f"p{i + 1:05d}")
                assert fresh.post("/v1/events", json=body).status_code == 201
            with httpx.Client(base_url=base) as fresh:
                counts = fresh.get(f"/v1/users/{user}/portrait").json()["event_counts"]
            assert counts == {"view": i + 1}
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
