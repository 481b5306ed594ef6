"""The online loop over HTTP: online metrics, and experiments started, stopped and read."""

from __future__ import annotations

import math
import threading
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, Query, Request

from shoprec.exceptions import ValidationError
from shoprec.online import (
    AttributionConfig,
    experiment_results,
    get_experiment,
    list_experiments,
    new_experiment,
    online_metrics,
    save_experiment,
    stop_experiment,
)
from shoprec.serve._dependencies import API_PREFIX, StateDep, require_admin, require_read
from shoprec.serve._responses import ErrorResponse
from shoprec.serve.schemas._online import (
    ExperimentIn,
    ExperimentList,
    ExperimentOut,
    ExperimentStatus,
    OnlineMetrics,
    VariantResult,
)

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX, tags=["online"])
_GROUPS = ("version", "experiment", "variant", "day")
_LIFECYCLE = threading.Lock()  # one experiment start or stop at a time


@router.get("/metrics/online", dependencies=[Depends(require_read)])
def metrics_online(
    state: StateDep,
    request: Request,
    since: Annotated[int | None, Query(ge=0, description="ms since the epoch")] = None,
    until: Annotated[int | None, Query(ge=0)] = None,
    by: Annotated[str, Query(description="comma-separated: version, experiment, variant, day")] = (
        "version,variant,day"
    ),
    window_hours: Annotated[float | None, Query(gt=0, le=24 * 90)] = None,
) -> OnlineMetrics:
    """CTR, add-to-cart rate, conversion, revenue per impression and dwell time per group,
    computed from the stored impressions and the events attributed to them."""
    groups = tuple(g.strip() for g in by.split(",") if g.strip())
    if not groups or any(g not in _GROUPS for g in groups):
        raise ValidationError(f"by must name some of {list(_GROUPS)}", field="by")
    hours = window_hours or request.app.state.settings.attribution_window_hours
    config = AttributionConfig(window_ms=int(hours * 3_600_000))
    _store_queued_impressions(request)
    table = online_metrics(
        state.store, since=since, until=until, by=groups, config=config,
        catalog=state.active.pipeline.catalog,
    )  # fmt: skip
    return OnlineMetrics(by=list(groups), window_hours=hours, rows=_records(table))


@router.get("/admin/experiments", dependencies=[Depends(require_admin)])
def experiments(state: StateDep) -> ExperimentList:
    """Every experiment, the running one first."""
    return ExperimentList(experiments=[ExperimentOut.of(e) for e in list_experiments(state.store)])


@router.post(
    "/admin/experiments",
    status_code=201,
    dependencies=[Depends(require_admin)],
    responses={409: {"model": ErrorResponse, "description": "Another experiment is running."}},
)
def start(body: ExperimentIn, state: StateDep) -> ExperimentOut:
    """Start splitting users between the variants (their pipelines are loaded and warmed up
    first; 409 while another experiment runs)."""
    variants = [v.to_variant() for v in body.variants]
    with _LIFECYCLE:  # variants load as reloads do: confined to the artifacts directory
        experiment = new_experiment(
            state.store, body.name, variants, salt=body.salt, description=body.description
        )
        state.run_experiment(experiment)  # loads the variants; a bad artifact stops here
        try:
            save_experiment(state.store, experiment)
        except BaseException:
            state.run_experiment(None)
            raise
    return ExperimentOut.of(experiment)


@router.post("/admin/experiments/{name}/stop", dependencies=[Depends(require_admin)])
def stop(name: str, state: StateDep) -> ExperimentOut:
    """Stop the experiment: every user gets the active pipeline again; results stay."""
    with _LIFECYCLE:
        stopped = stop_experiment(state.store, name)
        state.run_experiment(None)
    return ExperimentOut.of(stopped)


@router.get("/admin/experiments/{name}", dependencies=[Depends(require_admin)])
def status(name: str, state: StateDep, request: Request) -> ExperimentStatus:
    """Per-variant metrics with 95% intervals, lifts and p-values against the control."""
    experiment = get_experiment(state.store, name)
    hours = request.app.state.settings.attribution_window_hours
    _store_queued_impressions(request)
    results, daily = experiment_results(
        state.store, experiment, catalog=state.active.pipeline.catalog,
        config=AttributionConfig(window_ms=int(hours * 3_600_000)),
    )  # fmt: skip
    return ExperimentStatus(
        experiment=ExperimentOut.of(experiment),
        results=[VariantResult.of(r) for r in results],
        daily=_records(daily),
    )


def _store_queued_impressions(request: Request) -> None:
    """Impressions are stored in batches off the request path; metrics read what was served,
    so the queued ones are stored first (read-your-writes for the shop team)."""
    log = request.app.state.impressions
    if log is not None:
        log.flush()


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    rows = table.to_dict(orient="records")
    return [{k: _plain(v) for k, v in row.items()} for row in rows]


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
