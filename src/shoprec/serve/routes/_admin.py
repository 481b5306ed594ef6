"""Model lifecycle: load a new artifact without downtime, roll back, show the versions."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from shoprec.exceptions import ValidationError
from shoprec.serve._dependencies import API_PREFIX, StateDep, require_admin
from shoprec.serve._deployment import Deployment, freeze_heap
from shoprec.serve._responses import ErrorResponse
from shoprec.serve._state import ServingState
from shoprec.serve._versions import KeptVersion
from shoprec.serve.schemas._core import (
    ReloadRequest,
    RollbackRequest,
    VersionInfo,
    VersionResponse,
)

__all__ = ["router"]

router = APIRouter(
    prefix=API_PREFIX + "/admin", tags=["admin"], dependencies=[Depends(require_admin)]
)


@router.post(
    "/reload",
    responses={
        403: {
            "model": ErrorResponse,
            "description": "The path leads outside the artifacts directory.",
        },
        422: {
            "model": ErrorResponse,
            "description": "Not a pipeline directory, or a corrupt artifact (names the file).",
        },
    },
)
def reload(state: StateDep, request: Request, body: ReloadRequest | None = None) -> VersionResponse:
    """Load a pipeline directory from the artifacts directory (default: the active version's)
    while the current version keeps serving, check it whole, then swap it in atomically; the
    replaced version is kept for rollback."""
    path = body.path if body is not None and body.path is not None else None
    path = path or state.active.path or _configured(request)
    if path is None:
        raise ValidationError("no pipeline path given or configured", field="path")
    state.load(path)
    freeze_heap()
    _swapped(request, state)
    return _versions(state)


@router.post(
    "/rollback",
    responses={
        409: {
            "model": ErrorResponse,
            "description": "No such kept version, or its files changed since.",
        }
    },
)
def rollback(
    state: StateDep, request: Request, body: RollbackRequest | None = None
) -> VersionResponse:
    """Swap a kept version back in: the given ``version``, or the one replaced last."""
    state.rollback(None if body is None else body.version)
    freeze_heap()
    _swapped(request, state)
    return _versions(state)


@router.get("/version")
def version(state: StateDep) -> VersionResponse:
    """The active version and the one a rollback returns to."""
    return _versions(state)


def _configured(request: Request) -> str | None:
    configured = request.app.state.settings.pipeline
    return None if configured is None else str(configured)


def _swapped(request: Request, state: ServingState) -> None:
    metrics = request.app.state.metrics
    metrics.swaps.inc()
    metrics.set_version(state.active.version)


def _info(deployment: Deployment | KeptVersion | None) -> VersionInfo | None:
    return None if deployment is None else VersionInfo(**deployment.info())


def _versions(state: ServingState) -> VersionResponse:
    return VersionResponse(
        active=VersionInfo(**state.active.info()),
        previous=_info(state.previous),
        kept=[VersionInfo(**kept.info()) for kept in state.kept],
    )
