"""Who may call what: the read key and the admin key, checked by one reusable dependency.

Two keys, two levels. The **read key** (``SHOPREC_READ_KEY``) is for shop front-ends: it opens
recommendations, search, items, portraits and metrics. The **admin key** (``SHOPREC_API_KEY``)
opens everything, writes and model lifecycle included. With a key configured every route except
the health checks needs one; with none configured the service is open (and says so at start-up).

A key arrives in the ``X-API-Key`` header or as ``Authorization: Bearer <key>`` (what Prometheus
and most HTTP clients send without extra configuration). :func:`access_of` is the check itself,
so another credential carrier (a dashboard's session cookie) can reuse it: pass it the presented
secret and it answers with the level that secret grants. Keys are compared in constant time and
both are always compared, so the answer's timing does not tell which key came close.

A caller without a (valid) key gets 401 before the request is looked at, so a known and an
unknown user id answer alike; a read key on an admin route gets 403.
"""

from __future__ import annotations

import enum
import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

__all__ = [
    "API_KEY_HEADER",
    "Access",
    "access_of",
    "authorize",
    "require_admin",
    "require_read",
]

API_KEY_HEADER = "X-API-Key"
_header = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="The read key (recommendations, search, items, portraits, metrics) or the "
    "admin key (everything). Needed on every route but the health checks when the service "
    "runs with keys.",
)
_bearer = HTTPBearer(auto_error=False, description="The same keys as `Authorization: Bearer`.")


class Access(enum.IntEnum):
    """What a caller may do; a higher level includes the lower ones."""

    NONE = 0
    READ = 1
    ADMIN = 2


def _matches(presented: bytes, key: SecretStr | None) -> bool:
    if key is None:
        return False
    return hmac.compare_digest(presented, key.get_secret_value().encode("utf-8"))


def access_of(
    presented: str | None, *, admin_key: SecretStr | None, read_key: SecretStr | None
) -> Access:
    """The level ``presented`` grants: ``ADMIN`` for everyone when no key is configured,
    else ``ADMIN`` for the admin key, ``READ`` for the read key, ``NONE`` otherwise."""
    if admin_key is None and read_key is None:
        return Access.ADMIN
    if presented is None:
        return Access.NONE
    raw = presented.encode("utf-8", "replace")
    is_admin, is_read = _matches(raw, admin_key), _matches(raw, read_key)  # both, always
    if is_admin:
        return Access.ADMIN
    return Access.READ if is_read else Access.NONE


def authorize(request: Request, presented: str | None, needed: Access) -> Access:
    """Raise 401 (no or wrong key) or 403 (read key on an admin route) unless ``presented``
    grants ``needed`` under the app's settings; returns the level granted."""
    settings = request.app.state.settings
    granted = access_of(presented, admin_key=settings.api_key, read_key=settings.read_key)
    if granted == Access.NONE:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or wrong API key",
            headers={"WWW-Authenticate": f"Bearer, {API_KEY_HEADER}"},
        )
    if granted < needed:
        raise HTTPException(
            status_code=status.HTTP_403_FORBIDDEN, detail="this route needs the admin key"
        )
    return granted


def _requirement(needed: Access) -> Callable[..., Awaitable[Access]]:
    async def require(
        request: Request,
        key: Annotated[str | None, Security(_header)] = None,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
    ) -> Access:
        presented = key if key is not None else (bearer.credentials if bearer else None)
        return authorize(request, presented, needed)

    require.__name__ = f"require_{needed.name.lower()}"
    return require


require_read = _requirement(Access.READ)
"""Dependency: the read key or the admin key (when keys are configured)."""
require_admin = _requirement(Access.ADMIN)
"""Dependency: the admin key (when keys are configured)."""
