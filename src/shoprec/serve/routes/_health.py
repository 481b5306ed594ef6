"""Liveness, readiness (pipeline loaded and store answering) and Prometheus metrics."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shoprec.serve._dependencies import API_PREFIX, require_read
from shoprec.serve.schemas._core import HealthResponse, ReadyResponse

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix=API_PREFIX, tags=["health"])


@router.get("/health")
def health() -> HealthResponse:
    """Whether the process answers."""
    return HealthResponse(status="ok")


@router.get(
    "/health/ready",
    response_model=ReadyResponse,
    responses={503: {"model": ReadyResponse, "description": "Not ready"}},
)
def ready(request: Request) -> ReadyResponse | JSONResponse:
    """Whether the service can answer requests: a pipeline is loaded and the store answers."""
    state = getattr(request.app.state, "serving", None)
    if state is None:
        return _unavailable("loading")
    try:
        state.check_store()
    except Exception as error:  # any store failure means not ready, whatever its type
        logger.warning("store check failed: %s", type(error).__name__)
        return _unavailable("store unavailable")
    return ReadyResponse(status="ready", version=state.active.version)


@router.get(
    "/metrics",
    dependencies=[Depends(require_read)],
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
)
def metrics(request: Request) -> Response:
    """Prometheus metrics: requests and latency per route, events ingested, recommendation
    batch sizes, swaps, version."""
    body = generate_latest(request.app.state.metrics.registry)
    return Response(content=body, media_type=CONTENT_TYPE_LATEST)


def _unavailable(reason: str) -> JSONResponse:
    return JSONResponse(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        content=ReadyResponse(status=reason).model_dump(),
    )
