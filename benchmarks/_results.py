"""Writing benchmark results: benchmarks/results/NAME.json and NAME's table in RESULTS.md."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
RESULTS_MD = HERE / "RESULTS.md"
# Named datasets: $SHOPREC_DATA_DIR, else the team's shared folder beside the checkout.
DATA_DIR = Path(os.environ.get("SHOPREC_DATA_DIR") or HERE.parents[1] / "shared" / "data")
_HEADER = "# Benchmark results\n\nEach section is rewritten by the benchmark script it names.\n"


def machine() -> str:
    """A short description of this machine: CPU model, cores, memory."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {mem_kb / 2**20:.0f} GiB"
    except OSError:
        memory = ""
    return f"{cpu}, {os.cpu_count()} cores{memory}, Python {platform.python_version()}"


def write_results(
    name: str,
    rows: Sequence[Mapping[str, Any]],
    *,
    notes: str = "",
    command: str | None = None,
    group_by: str | None = None,
) -> Path:
    """Write ``results/NAME.json`` and replace NAME's section of RESULTS.md (one table, or one
    per value of the ``group_by`` key when rows of different kinds have different columns)."""
    RESULTS_DIR.mkdir(exist_ok=True)
    record = {
        "benchmark": name,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "command": command
        or "python " + " ".join([f"benchmarks/{Path(sys.argv[0]).name}", *sys.argv[1:]]),
        "rows": [dict(row) for row in rows],
    }
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    _update_markdown(name, record, notes, group_by)
    return path


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def _table(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    return [
        "| " + " | ".join(columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
        *("| " + " | ".join(_format(row.get(c, "")) for c in columns) + " |" for row in rows),
    ]


def _update_markdown(
    name: str, record: Mapping[str, Any], notes: str, group_by: str | None = None
) -> None:
    rows = record["rows"]
    lines = [
        f"<!-- {name}:start -->",
        f"## {name}",
        "",
        f"- date: {record['date']}",
        f"- machine: {record['machine']}",
        f"- command: `{record['command']}`",
        "",
    ]
    if group_by is None:
        lines += _table(rows)
    else:
        for value in dict.fromkeys(row.get(group_by) for row in rows):
            lines += [*_table([r for r in rows if r.get(group_by) == value]), ""]
        lines.pop()
    if notes:
        lines += ["", notes.strip()]
    lines.append(f"<!-- {name}:end -->")
    section = "\n".join(lines)
    text = RESULTS_MD.read_text() if RESULTS_MD.exists() else _HEADER
    pattern = re.compile(
        rf"<!-- {re.escape(name)}:start -->.*?<!-- {re.escape(name)}:end -->", re.S
    )
    text = (
        pattern.sub(lambda _: section, text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + section + "\n"
    )
    RESULTS_MD.write_text(text)
