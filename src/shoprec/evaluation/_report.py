"""Reports of evaluation results: an aligned text table, JSON, and a self-contained HTML page.

The HTML report is one file: inline CSS and the plots embedded as base64 PNG data URIs (drawn
with matplotlib's Agg canvas, so no display and no global pyplot state are involved).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shoprec import __version__
from shoprec.evaluation._glossary import metric_meaning, plain_summary, suggestions
from shoprec.evaluation._protocol import HISTORY_BUCKETS, SLICE_K, EvaluationResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["format_table", "write_html_report", "write_json", "write_tradeoff_report"]

# Columns of the default table, in order; those no result has are left out.
_DEFAULT_COLUMNS = (
    *(f"{metric}@{SLICE_K}" for metric in ("ndcg", "hr", "recall", "map")),
    "mrr",
    *(f"{m}@{SLICE_K}" for m in ("coverage", "ild", "ild_emb", "novelty", "popularity_bias")),
    "users",
)
_SLICE_COLUMNS = ("users", f"ndcg@{SLICE_K}", f"hr@{SLICE_K}", f"recall@{SLICE_K}", "mrr")
_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f2f2f2; }
img { max-width: 100%; }
"""


def _format_value(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:d}"
    return f"{value:.4f}"


def _columns(results: Sequence[EvaluationResult], metrics: Sequence[str] | None) -> list[str]:
    if metrics is not None:
        return list(metrics)
    present = {name for result in results for name in result.metrics}
    chosen = [name for name in _DEFAULT_COLUMNS if name in present]
    if not any("@" in name for name in chosen):  # no @10 metrics: show everything measured
        chosen = list(dict.fromkeys(name for result in results for name in result.metrics))
    return chosen


def format_table(results: Sequence[EvaluationResult], metrics: Sequence[str] | None = None) -> str:
    """An aligned text table, one row per model.

    Parameters
    ----------
    results
        Evaluation results, shown in the given order.
    metrics
        Metric names to show as columns; by default the main metrics at ``@10`` that any result
        has. A metric a result lacks shows as ``-``.

    Returns
    -------
    str
        The table, lines joined with newlines (no trailing newline).
    """
    columns = _columns(results, metrics)
    rows = [["model", *columns]]
    rows += [[r.model, *(_format_value(r.metrics.get(c)) for c in columns)] for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for number, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _json_ready(value: Any) -> Any:
    """Replace NaN and infinities (not valid JSON) with null, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(key): _json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(item) for item in value]
    return value


def write_json(
    results: Sequence[EvaluationResult],
    path: str | Path,
    *,
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``{"shoprec_version", "metadata", "results": [result.to_dict(), ...]}`` to ``path``.

    ``NaN`` becomes ``null``; :meth:`EvaluationResult.from_dict` reads the results back.
    Parent directories are created. Returns the path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "shoprec_version": __version__,
        "metadata": dict(metadata or {}),
        "results": [result.to_dict() for result in results],
    }
    text = json.dumps(_json_ready(payload), indent=2, default=str, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")
    return path


# -- HTML --------------------------------------------------------------------------------------
def _html_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(cell))}</th>" for cell in header)
    body = []
    for row in rows:
        cells = [f"<td>{html.escape(str(row[0]))}</td>"]
        cells += [f'<td class="num">{html.escape(_format_value(cell))}</td>' for cell in row[1:]]
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _png_data_uri(
    draw: Callable[[Figure], None],
    *,
    png: str | Path | None = None,
    size: tuple[float, float] = (9, 3.6),
) -> str:
    """Draw on a fresh Agg figure and return it as a ``data:image/png;base64`` URI (also saved
    to ``png`` when given)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    draw(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    if png is not None:
        Path(png).write_bytes(buffer.getvalue())
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _draw_metric_by_k(results: Sequence[EvaluationResult]) -> Callable[[Figure], None]:
    def draw(figure: Figure) -> None:
        axes = figure.subplots(1, 2)
        for ax, metric, label in zip(axes, ("ndcg", "hr"), ("NDCG@k", "HR@k"), strict=True):
            for result in results:
                values = result.by_k.get(metric, {})
                ks = sorted(values)
                ax.plot(ks, [values[k] for k in ks], marker="o", label=result.model)
            ax.set(xlabel="k", ylabel=label, title=f"{label} by k")
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize="small")

    return draw


def _draw_by_history(results: Sequence[EvaluationResult]) -> Callable[[Figure], None]:
    labels = [label for label, _, _ in HISTORY_BUCKETS]
    present = {row["bucket"] for result in results for row in result.by_history_length}
    buckets = [label for label in labels if label in present]
    key = f"ndcg@{SLICE_K}"

    def draw(figure: Figure) -> None:
        ax = figure.subplots()
        width = 0.8 / max(1, len(results))
        for number, result in enumerate(results):
            values = {row["bucket"]: row[key] for row in result.by_history_length}
            x = [i + number * width for i in range(len(buckets))]
            ax.bar(x, [values.get(b, math.nan) for b in buckets], width, label=result.model)
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(buckets))], buckets)
        ax.set(xlabel="events in the user's history", ylabel=f"NDCG@{SLICE_K}")
        ax.set_title(f"NDCG@{SLICE_K} by user-history length")
        ax.legend(fontsize="small")

    return draw


def _plain(results: Sequence[EvaluationResult], columns: Sequence[str]) -> list[str]:
    """The summary, the meaning of each metric shown, and what to try next, in shop terms."""
    meanings = [(c, metric_meaning(c)) for c in columns if metric_meaning(c)]
    items = "".join(f"<li><b>{html.escape(c)}</b>: {html.escape(m)}</li>" for c, m in meanings)
    summary = "".join(f"<p>{html.escape(line)}</p>" for line in plain_summary(results))
    tips = "".join(f"<li>{html.escape(tip)}</li>" for tip in suggestions(results))
    return [
        "<h2>In plain words</h2>",
        summary,
        f"<ul>{items}</ul>",
        "<h2>What to do next</h2>",
        f"<ul>{tips}</ul>",
    ]


def _sections(results: Sequence[EvaluationResult], metadata: Mapping[str, Any]) -> list[str]:
    columns = _columns(results, None)
    metric_rows = [[r.model, *(r.metrics.get(c) for c in columns)] for r in results]
    slice_rows = [
        [f"{r.model}: {name}", *(values.get(c) for c in _SLICE_COLUMNS)]
        for r in results
        for name, values in r.slices.items()
    ]
    skipped = sorted({name for r in results for name in r.skipped})
    skipped_rows = [[r.model, *(r.skipped.get(name) for name in skipped)] for r in results]
    meta_rows = [
        [key, value if isinstance(value, str) else json.dumps(value, default=str)]
        for key, value in metadata.items()
    ]
    metric_by_k = _png_data_uri(_draw_metric_by_k(results))
    by_history = _png_data_uri(_draw_by_history(results))
    return [
        "<h2>Metrics</h2>",
        _html_table(["model", *columns], metric_rows),
        *_plain(results, columns),
        "<h2>Slices</h2>",
        _html_table(["model: slice", *_SLICE_COLUMNS], slice_rows),
        "<h2>Metric by k</h2>",
        f'<img alt="NDCG and HR by k" src="{metric_by_k}">',
        "<h2>By user-history length</h2>",
        f'<img alt="NDCG@{SLICE_K} by user-history length" src="{by_history}">',
        "<h2>Skipped test users and targets</h2>",
        _html_table(["model", *skipped], skipped_rows),
        "<h2>Metadata</h2>",
        "".join(
            f"<p><b>{html.escape(str(key))}</b>: <code>{html.escape(str(text))}</code></p>"
            for key, text in meta_rows
        ),
    ]


def write_html_report(
    results: Sequence[EvaluationResult],
    path: str | Path,
    *,
    title: str,
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Write one self-contained HTML report: metrics and slices tables, plots, metadata.

    Parameters
    ----------
    results
        Evaluation results of the models to compare (one row / line / bar each).
    path
        The ``.html`` file to write; parent directories are created.
    title
        Page title and heading.
    metadata
        Shown as key/value lines (dataset, split, timings ...); non-string values as JSON.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    heading = html.escape(title)
    body = "\n".join(_sections(results, metadata or {}))
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{heading}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{heading}</h1>\n<p>shoprec {html.escape(__version__)}</p>\n{body}\n</body>\n</html>\n"
    )
    path.write_text(page, encoding="utf-8")
    return path


def _draw_tradeoff(rows: Sequence[Mapping[str, Any]], k: int) -> Callable[[Figure], None]:
    def draw(figure: Figure) -> None:
        axes = figure.subplots(1, 3)
        for setting in dict.fromkeys(row["setting"] for row in rows):
            curve = [row for row in rows if row["setting"] == setting]
            weights = [row["diversity"] for row in curve]
            style = {"marker": "o", "label": setting}
            axes[0].plot(weights, [row[f"ndcg@{k}"] for row in curve], **style)
            axes[1].plot([row[f"ild@{k}"] for row in curve], [row[f"ndcg@{k}"] for row in curve],
                         **style)  # fmt: skip
            axes[2].plot([row[f"coverage@{k}"] for row in curve],
                         [row[f"ndcg@{k}"] for row in curve], **style)  # fmt: skip
        labels = (("diversity weight", "NDCG by weight"), (f"intra-list diversity@{k}",
                  "NDCG vs diversity"), (f"catalog coverage@{k}", "NDCG vs coverage"))  # fmt: skip
        for ax, (xlabel, title) in zip(axes, labels, strict=True):
            ax.set(xlabel=xlabel, ylabel=f"NDCG@{k}", title=title)
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize="small")

    return draw


def write_tradeoff_report(
    rows: Sequence[Mapping[str, Any]],
    path: str | Path,
    *,
    title: str,
    k: int = 10,
    metadata: Mapping[str, Any] | None = None,
    png: str | Path | None = None,
) -> Path:
    """Write an HTML page with the accuracy / diversity / coverage trade-off of a sweep.

    Parameters
    ----------
    rows
        Rows of :func:`shoprec.evaluation.diversity_sweep`: ``setting``, ``diversity`` and the
        ``@k`` metrics.
    path
        The ``.html`` file to write.
    title
        Page title and heading.
    k
        The cut-off of the metrics.
    metadata
        Shown as key/value lines.
    png
        Also save the plot as this PNG file (e.g. for a Markdown page).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = ["diversity", f"ndcg@{k}", f"hr@{k}", f"ild@{k}", f"coverage@{k}", f"novelty@{k}"]
    table = _html_table(
        ["setting", *columns], [[row["setting"], *(row.get(c) for c in columns)] for row in rows]
    )
    figure = _png_data_uri(_draw_tradeoff(rows, k), png=png, size=(13, 4))
    meta = "".join(
        f"<p><b>{html.escape(str(key))}</b>: <code>{html.escape(str(value))}</code></p>"
        for key, value in (metadata or {}).items()
    )
    heading = html.escape(title)
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{heading}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<h1>{heading}</h1>\n"
        f'<h2>Trade-off</h2>\n<img alt="NDCG against diversity and coverage" src="{figure}">\n'
        f"<h2>Sweep</h2>\n{table}\n<h2>Metadata</h2>\n{meta}\n</body>\n</html>\n"
    )
    path.write_text(page, encoding="utf-8")
    return path
