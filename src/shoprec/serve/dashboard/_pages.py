"""The dashboard's routers, in the order of its navigation."""

from __future__ import annotations

from shoprec.serve.dashboard import _lifecycle, _overview

__all__ = ["ROUTERS"]

ROUTERS = [_overview.router, _lifecycle.router]
