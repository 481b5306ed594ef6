"""What every page shares: templates, formatting, forms, redirects, and calls to the admin API.

Actions go through the service's own HTTP API, in process (``httpx.ASGITransport`` on the same
app), so a start, stop, promote or rollback from the dashboard takes exactly the path a script's
would: the same validation, locks, error answers and metrics.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from shoprec.serve._access import API_KEY_HEADER
from shoprec.serve.dashboard._auth import PREFIX, Viewer

__all__ = ["PREFIX", "call_api", "form_data", "redirect", "render"]

_MAX_FORM_BYTES = 64_000
_env: Environment | None = None


def _ts(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, str):
        return value.replace("T", " ").replace("+00:00", " UTC")
    moment = dt.datetime.fromtimestamp(int(value) / 1000, dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _num(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.{digits}g}"
    return str(value)


def _pct(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    share = float(value)
    return f"{share:.0%}" if abs(share) >= 0.1 else f"{share:.1%}"


def environment() -> Environment:
    """The template environment (built on first use: no work at import time)."""
    global _env
    if _env is None:
        env = Environment(
            loader=PackageLoader("shoprec.serve.dashboard", "templates"),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters.update(ts=_ts, num=_num, pct=_pct)
        _env = env
    return _env


def render(
    request: Request, viewer: Viewer | None, template: str, *, status: int = 200, **context: Any
) -> HTMLResponse:
    """Render a page; ``ok`` and ``error`` in the query string become its notice."""
    page = (
        environment()
        .get_template(template)
        .render(
            prefix=PREFIX,
            viewer=viewer,
            notice=request.query_params.get("ok"),
            problem=request.query_params.get("error"),
            path=request.url.path,
            **context,
        )
    )
    headers = {
        "Cache-Control": "no-store",
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
        "style-src 'self'; script-src 'self'; frame-ancestors 'none'",
        "Referrer-Policy": "same-origin",
    }
    return HTMLResponse(page, status_code=status, headers=headers)


async def form_data(request: Request) -> dict[str, str]:
    """The posted form's fields (URL-encoded; the last value of a repeated field)."""
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        return {}
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[-1].strip() for k, v in parsed.items()}


def redirect(path: str, *, ok: str | None = None, error: str | None = None) -> RedirectResponse:
    """See other (303) ``path`` with a notice for the next page."""
    query = {k: v for k, v in (("ok", ok), ("error", error)) if v}
    glue = "&" if "?" in path else "?"
    target = PREFIX + path + (glue + urlencode(query) if query else "")
    return RedirectResponse(target, status_code=303)


async def call_api(
    request: Request, method: str, path: str, json: dict[str, Any] | None = None
) -> tuple[int, Any]:
    """Call the service's API in process as the admin; ``(status, parsed body)``."""
    key = request.app.state.settings.api_key
    headers = {} if key is None else {API_KEY_HEADER: key.get_secret_value()}
    transport = httpx.ASGITransport(app=request.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://dashboard") as client:
        response = await client.request(method, path, json=json, headers=headers, timeout=300)
    try:
        body = response.json()
    except ValueError:
        body = response.text
    return response.status_code, body


def api_error(status: int, body: Any) -> str:
    """A one-line reason from an API error answer."""
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        first = detail[0]
        where = " ".join(str(p) for p in first.get("loc", [])[1:])
        row = f" (row {first['row']})" if "row" in first else ""
        return f"{status}: {first.get('msg', '')}{row}{' - ' + where if where else ''}"
    return f"{status}: {detail}"
