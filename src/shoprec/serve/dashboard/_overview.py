"""Signing in and out, and the overview page: the live version, traffic, latency, errors, load
shedding, ingestion, online CTR and conversion per day, drift."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shoprec.online import DRIFT_KINDS
from shoprec.serve._dependencies import StateDep
from shoprec.serve.dashboard._auth import (
    COOKIE,
    SESSION_HOURS,
    ViewerDep,
    check_post,
    login_cookie,
    safe_next,
)
from shoprec.serve.dashboard._service_stats import service_stats
from shoprec.serve.dashboard._store_stats import WINDOW_DAYS, StoreStats, StoreStatsCache
from shoprec.serve.dashboard._svg import line_chart, meter
from shoprec.serve.dashboard._web import PREFIX, form_data, render

__all__ = ["router", "store_stats"]

router = APIRouter(prefix=PREFIX, include_in_schema=False)
DRIFT_MEANING = {
    "event_type": "event-type mix",
    "category": "category mix",
    "item": "item mix",
    "new_item_share": "events on items the model never saw",
}


def store_stats(request: Request) -> StoreStats:
    """The shared, cached store statistics of this app."""
    app_state = request.app.state
    cache = getattr(app_state, "dashboard_store_stats", None)
    if cache is None:
        cache = app_state.dashboard_store_stats = StoreStatsCache()
    serving = app_state.serving
    return cache.get(serving.store, serving.active.pipeline.catalog)  # type: ignore[no-any-return]


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    """The sign-in form."""
    return render(request, None, "login.html", next=safe_next(next), hours=SESSION_HOURS)


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the key; on success set the session cookie and go where the viewer was going."""
    form = await form_data(request)
    target = safe_next(form.get("next"))
    cookie = login_cookie(request, form.get("key", ""))
    if cookie is None:
        return render(
            request, None, "login.html", status=401, next=target, hours=SESSION_HOURS, failed=True
        )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=SESSION_HOURS * 3600,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
async def logout(request: Request, viewer: ViewerDep) -> Response:
    """Forget the session cookie."""
    form = await form_data(request)
    check_post(request, viewer, form.get("csrf"), admin=False)
    response = RedirectResponse(PREFIX + "/login", status_code=303)
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


@router.get("")
def root() -> RedirectResponse:
    return RedirectResponse(PREFIX + "/", status_code=307)


@router.get("/")
def overview(request: Request, state: StateDep, viewer: ViewerDep) -> Response:
    """The overview page."""
    deployment = state.active
    stats = service_stats(request.app.state.metrics.registry)
    store = store_stats(request)
    routing = state.routing
    offline = _scalars(deployment.pipeline.metrics_)
    missing = _missing(offline, store, stats.drift)
    drift = [
        meter(stats.drift.get(kind), label=DRIFT_MEANING.get(kind, kind)) for kind in DRIFT_KINDS
    ]
    return render(
        request,
        viewer,
        "overview.html",
        active="overview",
        deployment=deployment.info(),
        offline=offline,
        source=deployment.pipeline.metrics_.get("source"),
        experiment=None if routing is None else routing.experiment,
        stats=stats,
        store=store,
        drift=drift,
        drift_known=bool(stats.drift),
        missing=missing,
        window_days=WINDOW_DAYS,
        plots=_plots(store),
    )


def _scalars(metrics: dict[str, Any]) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in metrics.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    }


def _plots(store: StoreStats) -> list[Any]:
    per = store.per
    buckets = store.events_per_bucket.items()
    events = {
        "all events": [(b, float(sum(c.values()))) for b, c in buckets],
        "purchases": [(b, float(c.get("purchase", 0))) for b, c in buckets],
    }
    lists = {"lists served": [(b, float(n)) for b, n in store.lists_per_bucket.items()]}
    online = {
        name: [(str(r["bucket"]), _float(r.get(metric))) for r in store.online_series]
        for name, metric in (("CTR", "ctr"), ("conversion", "conversion"))
    }
    return [
        line_chart(events, title=f"Events stored per {per}"),
        line_chart(lists, title=f"Recommendation lists served per {per}"),
        line_chart(online, title=f"Online CTR and conversion per {per}", fmt=_percent),
    ]


def _percent(value: float) -> str:
    return f"{value:.1%}"


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _missing(offline: dict[str, float], store: StoreStats, drift: dict[str, float]) -> list[str]:
    out = []
    if not offline:
        out.append(
            "The live pipeline recorded no offline metrics (build it with `shoprec "
            "build`, or `shoprec retrain`, which evaluate before saving)."
        )
    if not store.total_events:
        out.append(
            "No events are stored yet: traffic, ingestion and drift need events sent "
            "to POST /v1/events or imported with `shoprec store import`."
        )
    if not store.impressions:
        out.append(
            "No served lists are stored in the window: online CTR and conversion need "
            "impression logging (SHOPREC_LOG_IMPRESSIONS, on by default) and traffic."
        )
    if store.total_events and not drift:
        out.append("Drift could not be computed yet (too few recent events).")
    return out + store.problems
