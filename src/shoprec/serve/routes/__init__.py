"""The service's routers, one per resource; :data:`ROUTERS` is what the app mounts under /v1."""

from __future__ import annotations

from shoprec.serve.routes import (
    _abuse,
    _admin,
    _events,
    _health,
    _items,
    _online,
    _recommendations,
    _search,
    _users,
)

__all__ = ["ROUTERS"]

ROUTERS = [
    _events.router,
    _recommendations.router,
    _search.router,
    _items.router,
    _users.router,
    _admin.router,
    _abuse.router,
    _online.router,
    _health.router,
]
