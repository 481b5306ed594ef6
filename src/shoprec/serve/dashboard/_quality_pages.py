"""Data quality: what ingestion refused, the accounts and items abuse detection flagged (from
the store's quarantine records), and the data checks of ``shoprec validate`` run on demand."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shoprec.quality import latest_scan, validate_data
from shoprec.serve._dependencies import StateDep
from shoprec.serve._state import ServingState
from shoprec.serve.dashboard._auth import ViewerDep, check_post
from shoprec.serve.dashboard._overview import DRIFT_MEANING
from shoprec.serve.dashboard._service_stats import service_stats
from shoprec.serve.dashboard._svg import bar_chart, meter
from shoprec.serve.dashboard._web import PREFIX, api_error, call_api, form_data, redirect, render
from shoprec.store import import_reports, quarantine_records

__all__ = ["router"]

router = APIRouter(prefix=PREFIX, include_in_schema=False)
_SHOWN_ACCOUNTS = 200


def _checks(state: ServingState) -> dict[str, Any]:
    """The validation report of the store's events (every stored event is read)."""
    start = time.perf_counter()
    interactions = state.store.to_interactions()
    report = validate_data(interactions, state.active.pipeline.catalog, source="the store")
    return {"report": report, "seconds": time.perf_counter() - start}


@router.get("/quality")
def quality(
    request: Request, state: StateDep, viewer: ViewerDep, check: str | None = None
) -> Response:
    """Rejects, flagged accounts and items, anomalies."""
    stats = service_stats(request.app.state.metrics.registry)
    records = quarantine_records(state.store)
    accounts = sorted(
        ({"user_id": user, **record} for user, record in records.items()),
        key=lambda r: (r.get("status") != "flagged", str(r.get("flagged_at")), r["user_id"]),
    )
    scan = latest_scan(state.store)
    imports = import_reports(state.store)
    reasons: dict[str, int] = {}
    for report in imports:
        for read in report.get("reads", []):
            for reason, n in read.get("reasons", {}).items():
                reasons[reason] = reasons.get(reason, 0) + int(n)
    plot = (
        bar_chart(
            sorted(reasons.items(), key=lambda kv: -kv[1])[:12],
            title="Rows rejected at import, by reason",
        )
        if reasons
        else None
    )
    drift = [meter(stats.drift.get(k), label=label) for k, label in DRIFT_MEANING.items()]
    return render(
        request,
        viewer,
        "quality.html",
        active="quality",
        stats=stats,
        imports=imports[:10],
        reasons=reasons,
        plot=plot,
        accounts=accounts[:_SHOWN_ACCOUNTS],
        flagged=sum(1 for a in accounts if a.get("status") == "flagged"),
        released=sum(1 for a in accounts if a.get("status") == "released"),
        scan=scan,
        drift=drift,
        checks=_checks(state) if check else None,
    )


@router.post("/quality/scan")
async def scan(request: Request, viewer: ViewerDep) -> Response:
    """Run abuse detection over the store through ``POST /v1/admin/abuse/scan``."""
    form = await form_data(request)
    check_post(request, viewer, form.get("csrf"), admin=True)
    status, answer = await call_api(request, "POST", "/v1/admin/abuse/scan")
    if status >= 400:
        return redirect("/quality", error="Scan failed: " + api_error(status, answer))
    return redirect(
        "/quality",
        ok=f"Scanned {answer['users']} accounts and {answer['events']} "
        f"events: {answer['flagged']} flagged ({answer['new']} new)",
    )


@router.post("/quality/release")
async def release(request: Request, viewer: ViewerDep) -> Response:
    """Release a flagged account through ``POST /v1/admin/abuse/users/{id}/release``."""
    form = await form_data(request)
    check_post(request, viewer, form.get("csrf"), admin=True)
    user = form.get("user", "")
    path = f"/v1/admin/abuse/users/{quote(user, safe='')}/release"
    status, answer = await call_api(request, "POST", path, {"note": form.get("note", "")})
    if status >= 400:
        return redirect("/quality", error="Not released: " + api_error(status, answer))
    return redirect("/quality", ok=f"Released {user}: their events count at the next training")
