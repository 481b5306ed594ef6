"""The shop team's web dashboard, served by the service under ``/dashboard``.

Server-rendered pages (Jinja2 templates, plots as inline SVG, one small stylesheet; nothing
loaded from another site) over what the service already knows: the live version and its
telemetry, the online metrics and experiments, the model registry, customers' portraits,
histories and recommendations, the catalog, and data quality. Views need the read key, actions
the admin key (see :mod:`shoprec.serve.dashboard._auth`); actions call the service's own API.
"""

from __future__ import annotations

import typing

from shoprec.serve.dashboard._auth import PREFIX

if typing.TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["PREFIX", "mount_dashboard"]


def mount_dashboard(app: FastAPI) -> None:
    """Add the dashboard's pages and static files to the service ``app``."""
    from starlette.staticfiles import StaticFiles

    from shoprec.serve.dashboard._pages import ROUTERS

    for router in ROUTERS:
        app.include_router(router)
    static = StaticFiles(packages=[("shoprec.serve.dashboard", "static")])
    app.mount(PREFIX + "/static", static, name="dashboard-static")
