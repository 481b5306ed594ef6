"""The FastAPI application: :func:`create_app` wires settings, state, routers and error handling.

The app is a thin edge: the lifespan loads the pipeline and opens the store, routers validate
requests and call :class:`~shoprec.serve._state.ServingState` (recommendations through a
:class:`~shoprec.serve._batching.MicroBatcher`, which computes concurrent ones together), and
library errors map to HTTP answers (``ValidationError`` 422 with the row and field,
``NotFoundError`` 404, a bad artifact 422, a missing previous version 409, more waiting
recommendation requests than the service admits 503, the store unavailable 503 with
``Retry-After``). Request bodies above ``max_body_bytes``
get 413 before they are parsed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from shoprec.exceptions import (
    ArtifactError,
    IdempotencyConflictError,
    NotFittedError,
    NotFoundError,
    OutsideArtifactsError,
    OverloadedError,
    StateConflictError,
    StoreUnavailableError,
    ValidationError,
)
from shoprec.online import (
    ExperimentConflictError,
    ExperimentNotFoundError,
    running_experiment,
)
from shoprec.pipeline import Pipeline
from shoprec.serve._abuse_gauges import AbuseCollector
from shoprec.serve._access import require_read
from shoprec.serve._admission import Admission
from shoprec.serve._artifacts_dir import ArtifactsDir
from shoprec.serve._batching import MicroBatcher
from shoprec.serve._dependencies import API_PREFIX, single_valued_query
from shoprec.serve._deployment import freeze_heap
from shoprec.serve._docs import add_offline_docs
from shoprec.serve._drift_gauges import DriftCollector
from shoprec.serve._impressions import ImpressionLog
from shoprec.serve._responses import answer_405_with_every_method, document_responses
from shoprec.serve._settings import ServiceSettings
from shoprec.serve._state import ServingState
from shoprec.serve._telemetry import RequestMetrics, ServiceMetrics, install_redaction
from shoprec.serve._workers import claim_journal
from shoprec.store import EventStore, open_store

__all__ = ["API_PREFIX", "create_app"]

logger = logging.getLogger(__name__)

_DESCRIPTION = """Real-time recommendations for an online shop.

Ingest events as they happen; the next recommendation, search or portrait reflects them.
When the service runs with keys, every route but the health checks needs one in the
`X-API-Key` header (or `Authorization: Bearer`): the read key opens recommendations, search,
items, portraits and metrics, the admin key everything.
Errors: 401 missing or wrong key, 403 read key on an admin route, 404 unknown user or item,
409 no version to roll back to, or a user's `client_event_id` reused for another event,
413 body too large, 422 invalid input (`detail` names the field, and the row of a batch),
503 overloaded or store unavailable (retry after the `Retry-After` seconds).
"""

_OPEN_WARNING = (
    "no API key is set: every route, writes and admin included, is open to anyone who can "
    "reach the service; set SHOPREC_API_KEY or SHOPREC_API_KEY_FILE"
)


def create_app(
    settings: ServiceSettings | None = None,
    *,
    pipeline: Pipeline | None = None,
    store: EventStore | None = None,
) -> FastAPI:
    """The recommendation service.

    Parameters
    ----------
    settings
        Service settings (default: read from ``SHOPREC_*`` environment variables).
    pipeline
        A fitted pipeline to serve instead of loading ``settings.pipeline``.
    store
        An open event store to use instead of opening ``settings.store_url``; the app does
        not close a store it was given.

    Returns
    -------
    FastAPI
        The app; its lifespan (e.g. ``with TestClient(app)``, or uvicorn) loads and closes.
    """
    from shoprec.serve.dashboard import mount_dashboard
    from shoprec.serve.routes import ROUTERS

    settings = settings or ServiceSettings()
    metrics = ServiceMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        uninstall = install_redaction()
        if settings.api_key is None:
            logger.warning(_OPEN_WARNING)
        owned = store is None
        events = store if store is not None else open_store(settings.resolved_store_url())
        try:
            served, path = pipeline, None
            if served is None:
                if settings.pipeline is None:
                    raise ArtifactError("no pipeline: set SHOPREC_PIPELINE or pass --pipeline")
                served, path = Pipeline.load(settings.pipeline), settings.pipeline
            app.state.serving = ServingState(
                served,
                events,
                path=path,
                history_limit=settings.history_limit,
                cache_users=settings.cache_users,
                max_future_skew_ms=int(settings.max_future_skew_s * 1000),
                artifacts=_artifacts_dir(settings),
                keep_versions=settings.keep_versions,
                shared=settings.workers > 1,
            )
            app.state.impressions = _impression_log(settings, events, owned=owned)
            drift = DriftCollector(
                lambda: app.state.serving, window_hours=settings.attribution_window_hours
            )
            metrics.registry.register(drift)
            abuse = AbuseCollector(lambda: app.state.serving.store)
            metrics.registry.register(abuse)
            _resume_experiment(app.state.serving)
            app.state.recommender = MicroBatcher(
                app.state.serving.recommend_batch,
                max_batch=settings.max_batch_requests,
                max_waiting=settings.max_waiting_requests,
                name="recommend",
                on_batch=metrics.batch_size.observe,
            )
            freeze_heap()
            metrics.set_version(app.state.serving.active.version)
            logger.info("serving pipeline version %s", app.state.serving.active.version)
            yield
            app.state.recommender.close()
            metrics.registry.unregister(drift)
            metrics.registry.unregister(abuse)
            if app.state.impressions is not None:
                app.state.impressions.close()
            app.state.serving.close()
        finally:
            if owned:
                events.close()
            uninstall()

    docs = settings.public_docs
    app = FastAPI(
        title="shoprec",
        version="1",
        description=_DESCRIPTION,
        lifespan=lifespan,
        max_body_size=settings.max_body_bytes,
        dependencies=[Depends(single_valued_query)],
        openapi_url="/openapi.json" if docs else None,
        docs_url=None,  # FastAPI's pages load their scripts from a CDN: see _docs
        redoc_url=None,
    )
    if docs:
        add_offline_docs(app)
    else:
        _add_private_openapi(app)
    app.state.settings = settings
    app.state.metrics = metrics
    for router in ROUTERS:
        document_responses(router.routes)
        app.include_router(router)
    mount_dashboard(app)
    _add_error_handlers(app)
    answer_405_with_every_method(app)
    app.add_middleware(
        Admission,
        reads=settings.max_inflight_reads,
        writes=settings.max_inflight_writes,
        max_wait_s=settings.max_queue_wait_s,
    )
    app.add_middleware(RequestMetrics, metrics=metrics, access_log=settings.access_log)
    return app


def _add_private_openapi(app: FastAPI) -> None:
    @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(require_read)])
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())


def _impression_log(
    settings: ServiceSettings, store: EventStore, *, owned: bool
) -> ImpressionLog | None:
    if not settings.log_impressions:
        return None
    journal = settings.resolved_journal(owned_store=owned)
    if journal is not None and settings.workers > 1:  # one journal per process
        journal = claim_journal(journal, settings.workers)
    return ImpressionLog(
        store,
        journal_dir=journal,
        flush_interval=settings.impression_flush_s,
    )


def _artifacts_dir(settings: ServiceSettings) -> ArtifactsDir:
    """The artifacts directory: configured, else the parent of the configured pipeline; none
    (every reload refused) for an app given only a pipeline object."""
    root = settings.artifacts_dir
    if root is None and settings.pipeline is not None:
        root = Path(settings.pipeline).expanduser().resolve().parent
    return ArtifactsDir(root, timeout_s=settings.reload_timeout_s)


def _resume_experiment(state: ServingState) -> None:
    """Split traffic again for the experiment that was running when the service stopped."""
    experiment = running_experiment(state.store)
    if experiment is None:
        return
    try:
        state.run_experiment(experiment)
    except (ArtifactError, OSError) as error:
        logger.error(
            "experiment %s not resumed, a variant failed to load: %s", experiment.name, error
        )
    else:
        logger.info("resumed experiment %s", experiment.name)


def _errors(
    message: str, *, field: str | None = None, row: int | None = None, kind: str = "value_error"
) -> dict[str, Any]:
    loc: list[Any] = ["body"] if field is None else ["body", field]
    entry: dict[str, Any] = {"loc": loc, "msg": message, "type": kind}
    if row is not None:
        entry["row"] = row
    if field is not None:
        entry["field"] = field
    return {"detail": [entry]}


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler echoes the input, which may hold NaN (unencodable) or payloads.
        detail = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
            for e in _as_list(error.errors())
        ]
        return JSONResponse(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            content=jsonable_encoder({"detail": detail}),
        )

    @app.exception_handler(ValidationError)
    async def invalid_data(request: Request, error: ValidationError) -> JSONResponse:
        return JSONResponse(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            content=_errors(error.reason, field=error.field, row=error.row),
        )

    @app.exception_handler(IdempotencyConflictError)
    async def reused_key(request: Request, error: IdempotencyConflictError) -> JSONResponse:
        return JSONResponse(
            status_code=status.HTTP_409_CONFLICT,
            content=_errors(error.reason, field=error.field, row=error.row, kind="conflict"),
        )

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, error: NotFoundError) -> JSONResponse:
        return JSONResponse(status_code=status.HTTP_404_NOT_FOUND, content={"detail": str(error)})

    @app.exception_handler(ExperimentNotFoundError)
    async def no_experiment(request: Request, error: ExperimentNotFoundError) -> JSONResponse:
        return JSONResponse(status_code=status.HTTP_404_NOT_FOUND, content={"detail": str(error)})

    @app.exception_handler(ExperimentConflictError)
    async def experiment_conflict(request: Request, error: ExperimentConflictError) -> JSONResponse:
        return JSONResponse(status_code=status.HTTP_409_CONFLICT, content={"detail": str(error)})

    @app.exception_handler(StateConflictError)
    async def conflict(request: Request, error: StateConflictError) -> JSONResponse:
        return JSONResponse(status_code=status.HTTP_409_CONFLICT, content={"detail": str(error)})

    @app.exception_handler(ArtifactError)
    async def bad_artifact(request: Request, error: ArtifactError) -> JSONResponse:
        return JSONResponse(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            content=_errors(str(error), field="path", kind="artifact_error"),
        )

    @app.exception_handler(OverloadedError)
    async def overloaded(request: Request, error: OverloadedError) -> JSONResponse:
        return JSONResponse(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            content={"detail": str(error)},
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(OutsideArtifactsError)
    async def outside(request: Request, error: OutsideArtifactsError) -> JSONResponse:
        return JSONResponse(
            status_code=status.HTTP_403_FORBIDDEN,
            content=_errors(str(error), field="path", kind="forbidden"),
        )

    @app.exception_handler(StoreUnavailableError)
    async def store_down(request: Request, error: StoreUnavailableError) -> JSONResponse:
        retry = request.app.state.settings.store_retry_after_s
        return JSONResponse(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            content={"detail": "the event store is unavailable; retry later"},
            headers={"Retry-After": str(retry)},
        )

    @app.exception_handler(NotFittedError)
    async def not_ready(request: Request, error: NotFittedError) -> JSONResponse:
        return JSONResponse(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE, content={"detail": str(error)}
        )


def _as_list(errors: Sequence[Any]) -> list[dict[str, Any]]:
    return [e for e in errors if isinstance(e, dict)]
