"""Dependencies the routers share: the serving state, the recommendation batcher and the API-key
check."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader

from shoprec.pipeline import Recommendation
from shoprec.serve.batching import MicroBatcher
from shoprec.serve.deployment import Deployment
from shoprec.serve.state import RecommendQuery, ServingState

__all__ = [
    "API_KEY_HEADER",
    "API_PREFIX",
    "RecommendBatcher",
    "RecommendBatcherDep",
    "StateDep",
    "get_recommender",
    "get_state",
    "require_api_key",
]

API_KEY_HEADER = "X-API-Key"
API_PREFIX = "/v1"
"""Every route of this API version lives under this prefix."""
_api_key = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="Required by write and admin endpoints when the service has an API key.",
)


RecommendBatcher = MicroBatcher[RecommendQuery, tuple[list[Recommendation], Deployment]]


# The dependencies are coroutines: FastAPI runs plain functions on its thread pool, a thread
# hop per request for what is an attribute read.
async def get_state(request: Request) -> ServingState:
    """The :class:`ServingState` the app's lifespan created."""
    state: ServingState = request.app.state.serving
    return state


async def get_recommender(request: Request) -> RecommendBatcher:
    """The batcher that computes recommendation requests (see :mod:`shoprec.serve.batching`)."""
    recommender: RecommendBatcher = request.app.state.recommender
    return recommender


StateDep = Annotated[ServingState, Depends(get_state)]
RecommendBatcherDep = Annotated[RecommendBatcher, Depends(get_recommender)]


async def require_api_key(
    request: Request, key: Annotated[str | None, Security(_api_key)] = None
) -> None:
    """Refuse the request with 401 unless it carries the configured API key (if any)."""
    expected = request.app.state.settings.api_key
    if expected is None:
        return
    secret = expected.get_secret_value().encode()
    if key is None or not hmac.compare_digest(key.encode("utf-8", "replace"), secret):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or wrong API key",
            headers={"WWW-Authenticate": API_KEY_HEADER},
        )
