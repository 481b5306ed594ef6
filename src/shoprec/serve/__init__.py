"""The real-time recommendation service: a thin FastAPI edge over the pipeline and the store."""

from __future__ import annotations

from shoprec.serve.app import API_PREFIX, create_app
from shoprec.serve.batching import MicroBatcher, OverloadedError
from shoprec.serve.deployment import Deployment
from shoprec.serve.settings import DEFAULT_STATE_DIR, ServiceSettings
from shoprec.serve.state import (
    RESERVED_USER_PREFIX,
    NotFoundError,
    RecommendQuery,
    ServingState,
    StateConflictError,
)

__all__ = [
    "API_PREFIX",
    "DEFAULT_STATE_DIR",
    "RESERVED_USER_PREFIX",
    "Deployment",
    "MicroBatcher",
    "NotFoundError",
    "OverloadedError",
    "RecommendQuery",
    "ServiceSettings",
    "ServingState",
    "StateConflictError",
    "create_app",
]
