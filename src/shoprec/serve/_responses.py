"""Every status a route can answer, in the OpenAPI document.

Most error answers do not come from a route's own code but from what stands in front of it:
the key check (401, 403), bounded queueing and a store outage (503), the body limit (413),
request validation (422). :func:`document_responses` adds them to each route from what the
route is (which key it needs, whether it takes a body or parameters, whether it reads the
store), so a new route is documented without anyone remembering to; the statuses a route's own
code raises (404, 409, ...) it declares itself in ``responses=``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, compile_path

from shoprec.serve._access import require_admin, require_read

__all__ = ["ErrorResponse", "answer_405_with_every_method", "document_responses"]

_OPEN = ("/v1/health",)  # neither keys nor queueing


class ErrorResponse(BaseModel):
    """Every error answer: ``detail`` is a message, or for 409 and 422 a list of entries that
    name the field (``loc``, ``field``) and the 1-based row of a batch (``row``)."""

    detail: str | list[dict[str, Any]] = Field(description="what is wrong")


def _error(description: str, *, retry: bool = False) -> dict[str, Any]:
    # the schema inline: FastAPI turns a "model" into a schema only for responses declared
    # when the route is created, and these are added afterwards
    schema = ErrorResponse.model_json_schema()
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }
    if retry:
        response["headers"] = {
            "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}
        }
    return response


def _needs(route: APIRoute) -> set[Any]:
    found: set[Any] = set()
    stack = list(route.dependant.dependencies)
    while stack:
        dependant = stack.pop()
        found.add(dependant.call)
        stack.extend(dependant.dependencies)
    return found


def document_responses(routes: Iterable[BaseRoute]) -> None:
    """Add the statuses of the layers in front of every API route to its ``responses``."""
    for route in routes:
        if not isinstance(route, APIRoute) or not route.path.startswith("/v1/"):
            continue
        added: dict[int | str, dict[str, Any]] = {}
        needs = _needs(route)
        if needs & {require_read, require_admin}:
            added[401] = _error("No key or a wrong key (when the service runs with keys).")
        if require_admin in needs:
            added[403] = _error("A read key on a route that needs the admin key.")
        if route.body_field is not None:
            added[400] = _error("The body is not valid JSON.")
            added[413] = _error("The body is larger than the service accepts.")
        if route.body_field is not None or route.dependant.query_params or "{" in route.path:
            added[422] = _error("Invalid input: `detail` names the field (and the row).")
        if "{" in route.path and route.methods != {"PUT"}:  # PUT creates what it names
            added[404] = _error("The user, item or other resource the path names is unknown.")
        if not route.path.startswith(_OPEN):
            added[503] = _error(
                "At capacity, or the event store is unavailable: retry after `Retry-After`.",
                retry=True,
            )
        for code, response in added.items():
            route.responses.setdefault(code, response)


def answer_405_with_every_method(app: FastAPI) -> None:
    """A 405's ``Allow`` lists every method of the path: Starlette's names only those of the
    first route object that matched, so ``Allow: GET`` for a path that also takes POST."""
    patterns: list[tuple[re.Pattern[str], set[str]]] = []

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        headers = dict(error.headers or {})
        if error.status_code == 405:
            if not patterns:
                for path, operations in app.openapi().get("paths", {}).items():
                    methods = {method.upper() for method in operations}
                    patterns.append((compile_path(path)[0], methods))
            allowed = set().union(
                *(methods for regex, methods in patterns if regex.match(request.url.path))
            )
            if allowed:
                headers["Allow"] = ", ".join(sorted(allowed))
        return JSONResponse(
            {"detail": error.detail}, status_code=error.status_code, headers=headers
        )
