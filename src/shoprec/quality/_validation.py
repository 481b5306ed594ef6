"""The data-quality report of ``shoprec validate``: rows, fixes, findings, statistics, abuse.

:func:`validate_data` gathers everything about a shop's events (read from files with their
mapping, from a dataset or from a store): rows read and rejected by reason, what clean ingestion
fixed (duplicates, cancellations and returns), findings that name the mapping or flag fixing
them (non-product items, id variants, odd timestamps), the event-type mix, sparsity, one-event
users and items, and the accounts and items abuse detection flags. The report prints as text
(:meth:`ValidationReport.text`) and writes as a self-contained HTML page with plots.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shoprec.data import (
    Catalog,
    CleaningReport,
    Finding,
    IngestReport,
    Interactions,
    inspect_events,
)
from shoprec.quality._detector import AbuseDetector, DetectorConfig

__all__ = ["ValidationReport", "validate_data"]

_EXAMPLES = 10


@dataclass
class ValidationReport:
    """Everything ``shoprec validate`` found; see :func:`validate_data`.

    Attributes
    ----------
    source
        What was validated.
    reads
        Per file read: rows read, loaded, rejected and the rejection reasons.
    fixes
        What clean ingestion fixed, description -> rows.
    findings
        Warnings and notes, each naming its fix.
    stats
        Counts: events, users, items, catalog items, density, one-event users and items, time
        range, event types.
    abuse
        Flagged accounts by kind, examples with reasons, suspicious items.
    """

    source: str
    reads: list[dict[str, Any]] = field(default_factory=list)
    fixes: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    abuse: dict[str, Any] = field(default_factory=dict)

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def to_dict(self) -> dict[str, Any]:
        findings = [{**f.__dict__, "examples": list(f.examples)} for f in self.findings]
        return {**self.__dict__, "findings": findings}

    def text(self) -> str:
        """The report for a terminal."""
        s = self.stats
        lines = [f"validation of {self.source}", ""]
        for read in self.reads:
            lines.append(
                f"{read['source']}: {read['rows_read']:,} rows read, {read['rows_loaded']:,} "
                f"loaded, {read['rows_rejected']:,} rejected"
            )
            lines += [f"  rejected: {reason} x{n:,}" for reason, n in read["reasons"].items()]
        lines += [f"fixed: {what}: {n:,}" for what, n in self.fixes.items() if n]
        lines += [
            "",
            f"{s['events']:,} events, {s['users']:,} users, {s['items']:,} items "
            f"({s['catalog_items']:,} in the catalog); density {s['density']:.2e}",
            f"one-event users {s['one_event_users']:,} ({s['one_event_user_share']:.0%}), "
            f"one-event items {s['one_event_items']:,} ({s['one_event_item_share']:.0%})",
            "event types: " + ", ".join(f"{k} {v:.1%}" for k, v in s["event_types"].items()),
            f"time: {s['first']} .. {s['last']}",
        ]
        a = self.abuse
        lines += [
            "",
            f"abuse: {a['flagged']:,} of {a['users']:,} accounts flagged "
            + "("
            + ", ".join(f"{k} {v}" for k, v in a["by_kind"].items())
            + ")"
            if a["by_kind"]
            else f"abuse: no account flagged among {a['users']:,}",
        ]
        lines += [f"  {u['user_id']}: {u['reason']}" for u in a["examples"]]
        lines += [
            f"  suspicious item {i['item_id']} ({i['feature']}, cohort {i['cohort']})"
            for i in a["items"]
        ]
        if a["flagged"]:
            lines.append(f"  fix: {a['fix']}")
        lines.append("")
        for finding in self.findings:
            lines.append(f"{finding.severity}: {finding.line()}")
        if not self.findings:
            lines.append("no warnings")
        return "\n".join(lines)

    def write_html(self, path: str | Path) -> Path:
        """Write the report as one HTML page (tables and plots inline) to ``path``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_html(self), encoding="utf-8")
        return path


def validate_data(
    interactions: Interactions,
    catalog: Catalog | None = None,
    *,
    source: str,
    reads: Sequence[IngestReport] = (),
    detector: DetectorConfig | None = None,
    random_state: int = 0,
) -> ValidationReport:
    """Build the report for events already read (and cleaned, when read from files).

    Parameters
    ----------
    interactions
        The events.
    catalog
        Their catalog (for abuse features and the catalog size).
    source
        What is validated, for the report's title.
    reads
        The reports of the files read (with their cleaning), if read from files.
    detector
        Abuse detection thresholds.
    random_state
        Seed of the detector.

    Returns
    -------
    ValidationReport
    """
    report = ValidationReport(source=source)
    for read in reads:
        report.reads.append({**read.to_dict(), "reasons": dict(read.reasons)})
        cleaning = CleaningReport.from_dict(read.cleaning or {})
        for what, n in cleaning.fixes.items():
            report.fixes[what] = report.fixes.get(what, 0) + int(n)
        report.findings.extend(cleaning.findings)
    if not reads:
        report.findings.extend(inspect_events(interactions))
    report.stats = _stats(interactions, catalog)
    report.abuse = _abuse(interactions, catalog, detector, random_state)
    return report


def _stats(interactions: Interactions, catalog: Catalog | None) -> dict[str, Any]:
    frame = interactions.frame
    items = frame.loc[frame["item_id"] != "", "item_id"]
    per_user = frame.groupby("user_id").size()
    per_item = items.value_counts()
    n_users, n_items = len(per_user), len(per_item)
    stamps = frame["timestamp"]
    when = (
        (lambda ms: dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="seconds"))
        if interactions.has_timestamps
        else (lambda position: f"position {position}")
    )
    return {
        "events": len(frame),
        "users": n_users,
        "items": n_items,
        "catalog_items": len(catalog) if catalog is not None else n_items,
        "density": len(items) / max(n_users * n_items, 1),
        "one_event_users": int((per_user == 1).sum()),
        "one_event_user_share": float((per_user == 1).mean()) if n_users else 0.0,
        "one_event_items": int((per_item == 1).sum()),
        "one_event_item_share": float((per_item == 1).mean()) if n_items else 0.0,
        "event_types": {k: float(v) for k, v in frame["event_type"].value_counts(True).items()},
        "events_per_user": per_user.to_numpy().tolist() if n_users <= 200_000 else [],
        "first": when(int(stamps.min())) if len(frame) else "",
        "last": when(int(stamps.max())) if len(frame) else "",
        "has_timestamps": interactions.has_timestamps,
    }


def _abuse(
    interactions: Interactions,
    catalog: Catalog | None,
    config: DetectorConfig | None,
    random_state: int,
) -> dict[str, Any]:
    detector = AbuseDetector(config=config, random_state=random_state)
    detector.fit(interactions, catalog)
    flags = detector.flags()
    counts = interactions.frame.groupby("user_id").size()
    items = detector.suspicious_items_.sort_values("z", ascending=False).head(_EXAMPLES)
    return {
        "users": len(detector.user_scores_),
        "flagged": len(flags),
        "flagged_events": int(counts.reindex(flags.index).sum()),
        "by_kind": {str(k): int(v) for k, v in flags["kind"].value_counts().items()},
        "examples": [
            {"user_id": str(user), "reason": str(row["reason"]), "kind": str(row["kind"])}
            for user, row in flags.head(_EXAMPLES).iterrows()
        ],
        "items": [
            {"item_id": str(i), "feature": str(r["feature"]), "cohort": int(r["cohort"])}
            for i, r in items.iterrows()
        ],
        "fix": "import into the store (`shoprec store import`) and scan it "
        "(POST /v1/admin/abuse/scan): flagged accounts' events are quarantined out of "
        "training, popularity, trending and co-visitation; review and release them at "
        "GET /v1/admin/abuse",
    }


# -- HTML ------------------------------------------------------------------------------------------
def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _plots(report: ValidationReport) -> str:
    """Events per user (log-log histogram) and the event-type mix, as one inline PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = np.asarray(report.stats.get("events_per_user") or [1])
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.2))
    bins = np.unique(np.logspace(0, np.log10(max(counts.max(), 2)), 30).astype(int))
    left.hist(counts, bins=bins)
    left.set(xscale="log", yscale="log", xlabel="events per user", ylabel="users")
    types = report.stats["event_types"]
    right.barh(list(types), list(types.values()))
    right.set(xlabel="share of events", title="event types")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    data = base64.b64encode(buffer.getvalue()).decode()
    return f'<img alt="events per user and event types" src="data:image/png;base64,{data}">'


def _html(report: ValidationReport) -> str:
    s, a = report.stats, report.abuse
    reads = [
        (r["source"], r["rows_read"], r["rows_loaded"], r["rows_rejected"],
         "; ".join(f"{k} x{v:,}" for k, v in r["reasons"].items()))
        for r in report.reads
    ]  # fmt: skip
    findings = [(f.severity, f.message, ", ".join(f.examples[:5]), f.fix) for f in report.findings]
    stats = [(k, v) for k, v in s.items() if k not in ("events_per_user", "event_types")]
    sections = [
        f"<h1>Data validation: {html.escape(report.source)}</h1>",
        "<h2>Findings</h2>",
        _table(["severity", "what", "examples", "fix"], findings) if findings else "<p>None.</p>",
        "<h2>Rows</h2>",
        _table(["file", "read", "loaded", "rejected", "reasons"], reads) if reads else "",
        _table(["fixed", "rows"], list(report.fixes.items())) if report.fixes else "",
        "<h2>Events</h2>",
        _table(["statistic", "value"], stats),
        _plots(report),
        "<h2>Abuse</h2>",
        f"<p>{a['flagged']:,} of {a['users']:,} accounts flagged ({a['flagged_events']:,} "
        f"events). Fix: {html.escape(a['fix'])}</p>",
        _table(["flag", "accounts"], list(a["by_kind"].items())) if a["by_kind"] else "",
        _table(["user", "kind", "reason"], [(u["user_id"], u["kind"], u["reason"])
                                            for u in a["examples"]]) if a["examples"] else "",
        _table(["suspicious item", "feature", "cohort"], [(i["item_id"], i["feature"],
                                                          i["cohort"]) for i in a["items"]])
        if a["items"] else "",
    ]  # fmt: skip
    style = (
        "body{font-family:sans-serif;max-width:70em;margin:2em auto}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>shoprec validate</title>"
        f"<style>{style}</style></head><body>{''.join(sections)}</body></html>\n"
    )
