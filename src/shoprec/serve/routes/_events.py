"""Event ingestion: one event or an all-or-nothing batch, idempotent by client event id."""

from __future__ import annotations

import time
from collections.abc import Sequence

from fastapi import APIRouter, Depends, Request, Response, status

from shoprec.exceptions import ValidationError
from shoprec.serve._dependencies import API_PREFIX, StateDep, require_admin
from shoprec.serve._responses import ErrorResponse
from shoprec.serve._telemetry import mark_personal
from shoprec.serve.schemas._core import BatchIngestResult, EventBatch, EventIn, IngestResult
from shoprec.store import AppendResult, EventContext

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX, tags=["events"], dependencies=[Depends(require_admin)])


@router.post(
    "/events",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": IngestResult, "description": "A duplicate: stored before."},
        409: {
            "model": ErrorResponse,
            "description": "The user's client_event_id was used for another event.",
        },
    },
)
def ingest_event(
    body: EventIn, state: StateDep, request: Request, response: Response
) -> IngestResult:
    """Store one event; the user's next request reflects it. 201 when stored, 200 for a
    duplicate (the user's ``client_event_id`` again with the same fields; the original's
    sequence is returned), 409 when the user's id was used for an event with other fields."""
    mark_personal(body.user_id)
    result = state.ingest([body.to_event()], [body.client_event_id], [body.timestamp is None])
    _count(request, result)
    _contexts(request, [body], result)
    if result.duplicate[0]:
        response.status_code = status.HTTP_200_OK
    return IngestResult(sequence=result.sequences[0], duplicate=result.duplicate[0])


@router.post(
    "/events/batch",
    responses={
        409: {
            "model": ErrorResponse,
            "description": "A row reuses its user's client_event_id for another event.",
        }
    },
)
def ingest_events(body: EventBatch, state: StateDep, request: Request) -> BatchIngestResult:
    """Store a batch in one transaction: all events or, if any is invalid, none (the 422
    names the 1-based row and the field)."""
    limit = request.app.state.settings.max_batch_events
    if len(body.events) > limit:
        raise ValidationError(f"at most {limit} events per batch", field="events")
    mark_personal(*{e.user_id for e in body.events})
    now = time.time_ns() // 1_000_000
    result = state.ingest(
        [e.to_event(now) for e in body.events],
        [e.client_event_id for e in body.events],
        [e.timestamp is None for e in body.events],
    )
    _count(request, result)
    _contexts(request, body.events, result)
    return BatchIngestResult(
        stored=result.stored,
        duplicates=result.duplicates,
        sequences=list(result.sequences),
        duplicate=list(result.duplicate),
    )


def _count(request: Request, result: AppendResult) -> None:
    metrics = request.app.state.metrics
    metrics.events.labels("stored").inc(result.stored)
    metrics.events.labels("duplicate").inc(result.duplicates)


def _contexts(request: Request, events: Sequence[EventIn], result: AppendResult) -> None:
    """Record which list each newly stored event answers, and its dwell time."""
    contexts = [
        EventContext(
            sequence=seq,
            request_id=event.request_id or "",
            position=-1 if event.position is None else event.position,
            dwell_ms=-1 if event.dwell_ms is None else event.dwell_ms,
        )
        for event, seq, duplicate in zip(events, result.sequences, result.duplicate, strict=True)
        if event.has_context and not duplicate
    ]
    if not contexts:
        return
    log = request.app.state.impressions
    if log is not None:
        log.record_contexts(contexts)
    else:
        request.app.state.serving.store.append_contexts(contexts)
