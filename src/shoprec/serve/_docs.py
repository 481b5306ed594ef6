"""The interactive API docs (``/docs``, ``/redoc``) served without a CDN.

FastAPI's own pages load Swagger UI and ReDoc from jsdelivr, so on a machine without internet
(a shop's internal network, a laptop on a train) ``/docs`` stays blank. The same pages are
served here with their JavaScript and CSS from the ``fastapi-offline`` package (Swagger UI 5,
which reads the OpenAPI 3.1 FastAPI writes; ReDoc standalone), mounted at ``/docs-static``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["STATIC_URL", "add_offline_docs"]

STATIC_URL = "/docs-static"


def _assets() -> Path:
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


def add_offline_docs(app: FastAPI, *, openapi_url: str = "/openapi.json") -> None:
    """Serve ``/docs`` (Swagger UI) and ``/redoc`` from packaged assets."""
    app.mount(STATIC_URL, StaticFiles(directory=_assets()), name="docs-static")
    favicon = f"{STATIC_URL}/favicon.png"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=favicon,
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{STATIC_URL}/redoc.standalone.js",
            redoc_favicon_url=favicon,
            with_google_fonts=False,
        )
