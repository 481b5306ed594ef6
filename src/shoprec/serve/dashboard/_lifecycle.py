"""Experiments and models: A/B tests with their intervals and plots, started and stopped; the
model registry, promotion and rollback. Every action calls the service's admin API."""

from __future__ import annotations

import math
import time
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shoprec.online import (
    AttributionConfig,
    Experiment,
    VariantComparison,
    attributed_impressions,
    compare_variants,
    list_experiments,
    list_models,
    promote,
    summarise,
)
from shoprec.serve._dependencies import StateDep
from shoprec.serve._state import ServingState
from shoprec.serve.dashboard._auth import Viewer, ViewerDep, check_post
from shoprec.serve.dashboard._store_stats import bucket_for, time_buckets
from shoprec.serve.dashboard._svg import interval_chart, line_chart
from shoprec.serve.dashboard._web import PREFIX, api_error, call_api, form_data, redirect, render

__all__ = ["router"]

router = APIRouter(prefix=PREFIX, include_in_schema=False)
_SHOWN = ("ctr", "conversion")
_NAMES = {"ctr": "CTR", "conversion": "Conversion"}


def _known_pipelines(state: ServingState) -> list[str]:
    """Artifact paths worth offering in a form: the live one, kept ones, registered ones."""
    paths = [state.active.path, *(k.info().get("path") for k in state.kept)]
    paths += [e.path for e in list_models(state.store, with_online=False)]
    return list(dict.fromkeys(p for p in paths if p))


@router.get("/experiments")
def experiments(
    request: Request, state: StateDep, viewer: ViewerDep, name: str | None = None
) -> Response:
    """Running and past experiments; the chosen one's per-variant results."""
    listed = list_experiments(state.store)
    chosen = next((e for e in listed if e.name == name), listed[0] if listed else None)
    context: dict[str, Any] = {"results": [], "plots": []}
    if chosen is not None:
        hours = request.app.state.settings.attribution_window_hours
        config = AttributionConfig(window_ms=int(hours * 3_600_000))
        context = _results(state, chosen, config)
    return render(
        request,
        viewer,
        "experiments.html",
        active="experiments",
        experiments=listed,
        chosen=chosen,
        running=next((e for e in listed if e.running), None),
        pipelines=_known_pipelines(state),
        **context,
    )


def _results(
    state: ServingState, experiment: Experiment, config: AttributionConfig
) -> dict[str, Any]:
    """What :func:`~shoprec.online.experiment_results` gives, with the series per minute, hour
    or day by the experiment's length, from one read of its impressions."""
    attributed = attributed_impressions(
        state.store,
        since=experiment.started_at,
        until=experiment.stopped_at,
        catalog=state.active.pipeline.catalog,
        config=config,
    )
    attributed = attributed[attributed["experiment"] == experiment.name]
    results = compare_variants(attributed, tuple(v.name for v in experiment.variants))
    end = experiment.stopped_at or int(time.time() * 1000)
    per = bucket_for(experiment.started_at, end)
    bucket = time_buckets(attributed["timestamp"], per=per)
    series = summarise(attributed.assign(bucket=bucket), ("variant", "bucket"))
    return {"results": results, "plots": _experiment_plots(experiment, results, series, per)}


def _experiment_plots(
    experiment: Experiment, results: list[VariantComparison], series: Any, per: str
) -> list[Any]:
    plots = []
    for metric in _SHOWN:
        rows = [
            (r.variant, r.estimate.value, r.estimate.low, r.estimate.high)
            for r in results
            if r.metric == metric
        ]
        title = f"{_NAMES[metric]} by variant, 95% intervals"
        plots.append(interval_chart(rows, title=title, fmt=_percent))
    lines: dict[str, list[tuple[str, float]]] = {v.name: [] for v in experiment.variants}
    for row in series.to_dict(orient="records"):
        value = float(row["ctr"]) if row["ctr"] is not None else math.nan
        lines.setdefault(str(row["variant"]), []).append((str(row["bucket"]), value))
    plots.append(line_chart(lines, title=f"CTR per {per} by variant", fmt=_percent))
    return plots


def _percent(value: float) -> str:
    return f"{value:.2%}"


@router.post("/experiments/start")
async def start_experiment(request: Request, viewer: ViewerDep) -> Response:
    """Start an experiment through ``POST /v1/admin/experiments``."""
    form = await form_data(request)
    check_post(request, viewer, form.get("csrf"), admin=True)
    variants = []
    for n in (1, 2, 3):
        label = form.get(f"variant{n}", "")
        if label:
            pipeline = form.get(f"pipeline{n}", "")
            variants.append({"name": label, **({"pipeline": pipeline} if pipeline else {})})
    body: dict[str, Any] = {"name": form.get("name", ""), "variants": variants}
    for field in ("salt", "description"):
        if form.get(field):
            body[field] = form[field]
    status, answer = await call_api(request, "POST", "/v1/admin/experiments", body)
    if status >= 400:
        return redirect("/experiments", error="Not started: " + api_error(status, answer))
    name = answer["name"]
    return redirect(f"/experiments?name={quote(name)}", ok=f"Experiment {name} started")


@router.post("/experiments/{name}/stop")
async def stop_experiment(name: str, request: Request, viewer: ViewerDep) -> Response:
    """Stop an experiment through ``POST /v1/admin/experiments/{name}/stop``."""
    form = await form_data(request)
    check_post(request, viewer, form.get("csrf"), admin=True)
    path = f"/v1/admin/experiments/{quote(name, safe='')}/stop"
    status, answer = await call_api(request, "POST", path)
    target = f"/experiments?name={quote(name)}"
    if status >= 400:
        return redirect(target, error="Not stopped: " + api_error(status, answer))
    return redirect(target, ok=f"Experiment {name} stopped")


@router.get("/models")
def models(request: Request, state: StateDep, viewer: ViewerDep) -> Response:
    """The live and kept versions, and the registry."""
    registry = list_models(state.store)
    kept = [k.info() for k in state.kept]
    return render(
        request,
        viewer,
        "models.html",
        active="models",
        live=state.active.info(),
        kept=kept,
        registry=registry,
        pipelines=_known_pipelines(state),
    )


@router.post("/models/rollback")
async def rollback(request: Request, viewer: ViewerDep) -> Response:
    """Swap a kept version back in through ``POST /v1/admin/rollback``."""
    return await _swap(request, viewer, "/v1/admin/rollback", "version", "rolled back")


@router.post("/models/reload")
async def reload(request: Request, viewer: ViewerDep) -> Response:
    """Load an artifact through ``POST /v1/admin/reload``."""
    return await _swap(request, viewer, "/v1/admin/reload", "path", "loaded")


async def _swap(request: Request, viewer: Viewer, route: str, field: str, done: str) -> Response:
    """Post the form's ``field`` (if given) to the admin ``route``; say what serves now."""
    form = await form_data(request)
    check_post(request, viewer, form.get("csrf"), admin=True)
    body = {field: form[field]} if form.get(field) else None
    status, answer = await call_api(request, "POST", route, body)
    if status >= 400:
        return redirect("/models", error=f"Not {done}: " + api_error(status, answer))
    return redirect("/models", ok=f"{done.capitalize()}: {answer['active']['version']} serves")


@router.post("/models/promote")
async def promote_version(request: Request, state: StateDep, viewer: ViewerDep) -> Response:
    """Serve a registered version (``POST /v1/admin/reload`` with its artifact), then make it
    the registry's champion; the registry is changed only once the service serves it."""
    form = await form_data(request)
    check_post(request, viewer, form.get("csrf"), admin=True)
    version = form.get("version", "")
    entry = next(
        (e for e in list_models(state.store, with_online=False) if e.version == version), None
    )
    if entry is None:
        return redirect("/models", error=f"No registered version {version!r}")
    status, answer = await call_api(request, "POST", "/v1/admin/reload", {"path": entry.path})
    if status >= 400:
        return redirect("/models", error="Not promoted: " + api_error(status, answer))
    serving = answer["active"]["version"]
    if serving != version:
        return redirect(
            "/models",
            error=f"The artifact at {entry.path} is version {serving}, "
            f"not {version}; it serves now but the registry was left unchanged",
        )
    promote(state.store, version, reason="promoted from the dashboard")
    return redirect("/models", ok=f"{version} promoted: it is the champion and serves")
