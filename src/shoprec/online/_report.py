"""The online report: one self-contained HTML page (plots as inline PNGs) and its JSON.

It shows the online metrics per version and variant over the days, each experiment's variants
with 95% intervals and p-values, and the drift of recent events from the training data.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from shoprec.data import Catalog
from shoprec.online._attribution import AttributionConfig
from shoprec.online._drift import DataProfile, store_drift
from shoprec.online._experiments import list_experiments
from shoprec.online._measurement import METRICS, experiment_results, online_metrics
from shoprec.store import EventStore

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["online_report", "write_online_report"]

_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:72em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.3em .6em}"
    "td{text-align:right;font-variant-numeric:tabular-nums}th{background:#f2f2f2}"
    "img{max-width:100%}"
)

_RESULT_COLUMNS = ("variant", "metric", "users", "impressions", "value", "ci_low", "ci_high",
                   "lift", "p_value")  # fmt: skip


def online_report(
    store: EventStore,
    *,
    since: int | None = None,
    until: int | None = None,
    catalog: Catalog | None = None,
    config: AttributionConfig | None = None,
    reference: DataProfile | None = None,
    drift_window_ms: int = 86_400_000,
) -> dict[str, Any]:
    """Everything the report shows, as JSON-ready data: ``daily`` (per version, variant and
    day), ``versions``, ``experiments`` (with per-variant results) and ``drift``."""
    catalog = catalog if catalog is not None else store.catalog()
    daily = online_metrics(
        store, since=since, until=until, by=("version", "variant", "day"), catalog=catalog,
        config=config,
    )  # fmt: skip
    versions = online_metrics(store, since=since, until=until, by=("version",), catalog=catalog,
                              config=config)  # fmt: skip
    experiments = []
    for experiment in list_experiments(store):
        results, _ = experiment_results(store, experiment, catalog=catalog, config=config)
        experiments.append(
            {"experiment": experiment.to_dict(), "results": [_result(r) for r in results]}
        )
    drift, recent = store_drift(
        store, reference=reference, window_ms=drift_window_ms, catalog=catalog
    )
    return {
        "daily": _records(daily),
        "versions": _records(versions),
        "experiments": experiments,
        "drift": {"values": drift, "recent_events": recent.events},
    }


def _result(result: Any) -> dict[str, Any]:
    e = result.estimate
    return {
        "variant": result.variant, "metric": result.metric, "users": result.users,
        "impressions": result.impressions, "value": e.value, "ci_low": e.low,
        "ci_high": e.high, "lift": result.lift, "p_value": result.p_value,
    }  # fmt: skip


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in row.items()} for row in table.to_dict(orient="records")]


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _png(draw: Callable[[Figure], None], size: tuple[float, float] = (10, 3.2)) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(figure)
    draw(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _draw_daily(daily: Sequence[dict[str, Any]]) -> Callable[[Figure], None]:
    def draw(figure: Figure) -> None:
        frame = pd.DataFrame(daily)
        axes = figure.subplots(1, len(METRICS))
        for ax, metric in zip(axes, METRICS, strict=True):
            for (version, variant), rows in frame.groupby(["version", "variant"]):
                label = f"{version} {variant}".strip()
                ax.plot(pd.to_datetime(rows["day"]), rows[metric], marker="o", label=label)
            ax.set_title(metric)
            ax.tick_params(axis="x", labelrotation=45, labelsize=7)
        axes[0].legend(fontsize=7)

    return draw


def _draw_experiment(results: Sequence[dict[str, Any]]) -> Callable[[Figure], None]:
    def draw(figure: Figure) -> None:
        axes = figure.subplots(1, len(METRICS))
        for ax, metric in zip(axes, METRICS, strict=True):
            rows = [r for r in results if r["metric"] == metric and r["value"] is not None]
            for i, r in enumerate(rows):
                low, high = r["ci_low"] or r["value"], r["ci_high"] or r["value"]
                ax.errorbar([i], [r["value"]], yerr=[[r["value"] - low], [high - r["value"]]],
                            fmt="o", capsize=4)  # fmt: skip
            ax.set_xticks(range(len(rows)), [r["variant"] for r in rows])
            ax.set_title(metric)

    return draw


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.4g}"
        return html.escape("-" if value is None else str(value))

    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{cell(row.get(c))}</td>" for c in columns) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def write_online_report(report: dict[str, Any], out: str | Path) -> Path:
    """Write ``report`` (from :func:`online_report`) as ``online.json`` and ``online.html`` in
    directory ``out``; returns the HTML file."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "online.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    columns = ["impressions", "lists", "users", "clicks", *METRICS, "dwell_ms"]
    parts = [f"<html><head><meta charset='utf-8'><title>shoprec online</title><style>{_CSS}"
             "</style></head><body><h1>Online metrics</h1>",
             _table(report["versions"], ["version", *columns])]  # fmt: skip
    if report["daily"]:
        parts.append(f"<h2>By day</h2><img src='{_png(_draw_daily(report['daily']))}'>")
        parts.append(_table(report["daily"], ["day", "version", "variant", *columns]))
    for entry in report["experiments"]:
        exp = entry["experiment"]
        state = "running" if exp["stopped_at"] is None else "stopped"
        parts.append(f"<h2>Experiment {html.escape(exp['name'])} ({state})</h2>")
        if entry["results"]:
            parts.append(f"<img src='{_png(_draw_experiment(entry['results']))}'>")
        parts.append(_table(entry["results"], _RESULT_COLUMNS))
    drift = report["drift"]
    parts.append(f"<h2>Drift (last window: {drift['recent_events']} events)</h2>")
    parts.append(_table([drift["values"]], list(drift["values"])))
    parts.append("</body></html>")
    page = out / "online.html"
    page.write_text("\n".join(parts))
    return page
