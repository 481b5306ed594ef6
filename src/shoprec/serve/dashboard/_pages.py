"""The dashboard's routers, in the order of its navigation."""

from __future__ import annotations

from shoprec.serve.dashboard import (
    _catalog_pages,
    _customers,
    _lifecycle,
    _overview,
    _quality_pages,
)

__all__ = ["ROUTERS"]

ROUTERS = [
    _overview.router,
    _lifecycle.router,
    _customers.router,
    _catalog_pages.router,
    _quality_pages.router,
]
