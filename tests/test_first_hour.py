"""The first hour of a new user: docs/getting-started.md's commands, run as the page gives them,
from an empty directory (the service on a free port instead of 8000)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SHARED_DATA, requires_shared_data

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "getting-started.md"
_BLOCK = re.compile(r"^```(sh|python)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def tutorial_script(text: str, port: int) -> str:
    """The page's ``sh`` blocks in order, ``python`` blocks as heredocs, one bash script."""
    parts = ["set -euo pipefail"]
    for language, body in _BLOCK.findall(text):
        if language == "sh":
            parts.append(body)
        else:
            parts.append(f"python - <<'PYTHON'\n{body}PYTHON\n")
    return "\n".join(parts).replace("localhost:8000", f"localhost:{port}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_script_covers_every_step() -> None:
    script = tutorial_script(TUTORIAL.read_text(), 8123)
    for command in ("shoprec init", "shoprec validate", "shoprec ingest", "shoprec demo",
                    "shoprec build", "shoprec explain", "shoprec similar", "shoprec store import",
                    "shoprec serve", "ShoprecClient"):  # fmt: skip
        assert command in script, command
    assert "localhost:8000" not in script and "localhost:8123" in script


@pytest.mark.slow
@requires_shared_data("uci_online_retail")
def test_tutorial_runs_from_an_empty_directory(tmp_path: Path) -> None:
    port = free_port()
    script = tutorial_script(TUTORIAL.read_text(), port)
    env = {
        **os.environ,
        "SHOPREC_DATA_DIR": str(SHARED_DATA),
        "SHOPREC_PORT": str(port),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HF_HUB_OFFLINE": "1",
    }
    env.pop("SHOPREC_CONFIG", None)
    done = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=1800,
    )  # fmt: skip
    out = done.stdout
    assert done.returncode == 0, f"{out[-3000:]}\n{done.stderr[-3000:]}"
    shop = tmp_path / "my-shop"
    assert (shop / "shoprec.toml").is_file() and (shop / "validate-report.html").is_file()
    assert "split: temporal" in out and "dataset written to" in out
    assert "With als, for" in out  # the comparison, in plain words
    assert (shop / "report" / "report.html").is_file()
    assert (shop / "pipelines" / "my-shop" / "manifest.json").is_file()
    assert "12391 (" in out and "Because you bought" in out
    assert "WHITE HANGING HEART T-LIGHT HOLDER" in out  # similar items
    assert '"status":"ready"' in out and '"duplicate":false' in out
    listed = [line for line in out.splitlines() if " - Because you" in line]
    assert len(listed) == 3  # the Python client's three explained items
