"""Dependencies the routers share: the serving state, the recommendation batcher and the key
checks (see :mod:`shoprec.serve._access`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError

from shoprec.pipeline import Recommendation
from shoprec.serve._access import API_KEY_HEADER, require_admin, require_read
from shoprec.serve._batching import MicroBatcher
from shoprec.serve._deployment import Deployment
from shoprec.serve._queries import RecommendQuery
from shoprec.serve._state import ServingState

__all__ = [
    "API_KEY_HEADER",
    "API_PREFIX",
    "RecommendBatcher",
    "RecommendBatcherDep",
    "StateDep",
    "get_recommender",
    "get_state",
    "require_admin",
    "require_api_key",
    "require_read",
    "single_valued_query",
]

API_PREFIX = "/v1"
"""Every route of this API version lives under this prefix."""


RecommendBatcher = MicroBatcher[RecommendQuery, tuple[list[Recommendation], Deployment]]


# The dependencies are coroutines: FastAPI runs plain functions on its thread pool, a thread
# hop per request for what is an attribute read.
async def get_state(request: Request) -> ServingState:
    """The :class:`ServingState` the app's lifespan created."""
    state: ServingState = request.app.state.serving
    return state


async def get_recommender(request: Request) -> RecommendBatcher:
    """The batcher that computes recommendation requests (see :mod:`shoprec.serve._batching`)."""
    recommender: RecommendBatcher = request.app.state.recommender
    return recommender


StateDep = Annotated[ServingState, Depends(get_state)]
RecommendBatcherDep = Annotated[RecommendBatcher, Depends(get_recommender)]

require_api_key = require_admin
"""The admin-key dependency (kept under its older name)."""


async def single_valued_query(request: Request) -> None:
    """Refuse a repeated query parameter with 422: every parameter of this API takes one value,
    and FastAPI would silently keep the last one."""
    seen: set[str] = set()
    for key, _ in request.query_params.multi_items():
        if key in seen:
            raise RequestValidationError(
                [{"loc": ("query", key), "msg": "give this parameter once", "type": "value_error"}]
            )
        seen.add(key)
