"""Recommendations for a user, computed from their history as of this request."""

from __future__ import annotations

import math
import time
import uuid
from typing import Any

import numpy as np
from fastapi import APIRouter, Depends, Request

from shoprec.pipeline import Recommendation
from shoprec.serve._dependencies import API_PREFIX, RecommendBatcherDep, require_read
from shoprec.serve._queries import RecommendQuery
from shoprec.serve._telemetry import mark_personal
from shoprec.serve.schemas._core import (
    RecommendationRequest,
    RecommendationResponse,
    RecommendedItem,
)
from shoprec.store import Impression

__all__ = ["router"]

router = APIRouter(
    prefix=API_PREFIX, tags=["recommendations"], dependencies=[Depends(require_read)]
)


@router.post("/recommendations")
async def recommend(
    body: RecommendationRequest, recommender: RecommendBatcherDep, request: Request
) -> RecommendationResponse:
    """The top ``k`` items for ``user_id`` with a reason each. A user without events (unknown,
    new or deleted) gets the anonymous list: what is popular now."""
    mark_personal(body.user_id)
    query = RecommendQuery(
        body.user_id,
        k=body.k,
        diversity=body.diversity,
        rules=body.filters.to_rules() if body.filters is not None else None,
        explain=body.explain,
        platform=body.platform,
    )
    recommendations, deployment = await recommender.submit(query)
    request_id = uuid.uuid4().hex
    log = request.app.state.impressions
    if log is not None:  # journaled now, stored by the writer thread with the next batch
        log.record(
            Impression(
                request_id=request_id,
                user_id=body.user_id or "",
                items=tuple(r.item_id for r in recommendations),
                timestamp=time.time_ns() // 1_000_000,
                version=deployment.version,
                experiment=deployment.experiment,
                variant=deployment.variant,
            )
        )
    return RecommendationResponse(
        user_id=body.user_id,
        request_id=request_id,
        version=deployment.version,
        variant=deployment.variant,
        items=[_item(r) for r in recommendations],
    )


def _item(recommendation: Recommendation) -> RecommendedItem:
    data = recommendation.to_dict()
    return RecommendedItem(
        item_id=data["item_id"],
        score=_plain(data["score"]),
        sources={str(k): _plain(v) for k, v in data["sources"].items()},
        reason=data.get("reason"),
        reason_kind=data.get("reason_kind"),
        evidence=_plain(data.get("evidence")),
    )


def _plain(value: Any) -> Any:
    """JSON-safe copy: numpy values to Python ones, non-finite floats to ``None``."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
