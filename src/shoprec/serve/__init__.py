"""The real-time recommendation service: a thin FastAPI edge over the pipeline and the store."""

from __future__ import annotations

from shoprec.serve._app import API_PREFIX, create_app
from shoprec.serve._batching import MicroBatcher
from shoprec.serve._deployment import Deployment
from shoprec.serve._event_checks import RESERVED_USER_PREFIX
from shoprec.serve._impressions import ImpressionLog
from shoprec.serve._queries import RecommendQuery
from shoprec.serve._settings import DEFAULT_STATE_DIR, ServiceSettings
from shoprec.serve._state import ServingState

__all__ = [
    "API_PREFIX",
    "DEFAULT_STATE_DIR",
    "RESERVED_USER_PREFIX",
    "Deployment",
    "ImpressionLog",
    "MicroBatcher",
    "RecommendQuery",
    "ServiceSettings",
    "ServingState",
    "create_app",
]
