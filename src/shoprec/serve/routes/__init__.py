"""The service's routers, one per resource; :data:`ROUTERS` is what the app mounts under /v1."""

from __future__ import annotations

from fastapi import APIRouter

from shoprec.serve.routes import (
    admin,
    events,
    health,
    items,
    online,
    recommendations,
    search,
    users,
)

__all__ = ["ROUTERS"]

ROUTERS: list[APIRouter] = [
    events.router,
    recommendations.router,
    search.router,
    items.router,
    users.router,
    admin.router,
    online.router,
    health.router,
]
