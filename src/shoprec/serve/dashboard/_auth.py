"""Who is looking at the dashboard: a session cookie from the login form, or the API key header.

The login form takes a key and checks it with the service's own check
(:func:`shoprec.serve._access.access_of`): the admin key unlocks the actions, the read key only
the views. The cookie does not hold the key. It holds the level granted, an expiry and a nonce,
signed with HMAC-SHA256 under the key that granted the level, so rotating a key ends its
sessions and a stolen cookie expires (:data:`SESSION_HOURS`). The cookie is HTTP-only and
``SameSite=Strict``; every form the dashboard posts also carries a token derived from the
session (double protection against cross-site requests). Scripts send ``X-API-Key`` (or
``Authorization: Bearer``) instead and need no cookie and no token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, HTTPException, Request, status
from pydantic import SecretStr

from shoprec.serve._access import API_KEY_HEADER, Access, access_of, authorize

__all__ = ["COOKIE", "SESSION_HOURS", "Viewer", "ViewerDep", "login_cookie", "viewer_of"]

COOKIE = "shoprec_dashboard"
SESSION_HOURS = 12
PREFIX = "/dashboard"


@dataclass(frozen=True)
class Viewer:
    """Who makes this request and what they may do.

    Attributes
    ----------
    access
        ``READ`` (views) or ``ADMIN`` (views and actions).
    via
        ``"cookie"``, ``"header"`` or ``"open"`` (the service runs without keys).
    csrf
        The token forms must send back (empty unless signed in by cookie).
    """

    access: Access
    via: str
    csrf: str = ""

    @property
    def admin(self) -> bool:
        return self.access >= Access.ADMIN


def _keys(request: Request) -> tuple[SecretStr | None, SecretStr | None]:
    settings = request.app.state.settings
    return settings.api_key, settings.read_key


def _secret(request: Request, access: Access) -> bytes | None:
    admin, read = _keys(request)
    key = admin if access == Access.ADMIN else read if access == Access.READ else None
    return None if key is None else key.get_secret_value().encode("utf-8")


def _sign(secret: bytes, message: str) -> str:
    return hmac.new(secret, message.encode("utf-8"), hashlib.sha256).hexdigest()


def login_cookie(request: Request, key: str) -> str | None:
    """The cookie value for a correct ``key`` (``None`` for a wrong one)."""
    admin, read = _keys(request)
    access = access_of(key, admin_key=admin, read_key=read)
    secret = _secret(request, access)
    if access == Access.NONE or secret is None:
        return None
    expires = int(time.time()) + SESSION_HOURS * 3600
    body = f"{int(access)}.{expires}.{secrets.token_hex(16)}"
    return f"{body}.{_sign(secret, 'session.' + body)}"


def _session(request: Request, cookie: str) -> Viewer | None:
    parts = cookie.split(".")
    if len(parts) != 4 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    level, expires, nonce, signature = parts
    if int(level) not in (Access.READ, Access.ADMIN) or int(expires) < time.time():
        return None
    access = Access(int(level))
    secret = _secret(request, access)
    body = f"{level}.{expires}.{nonce}"
    if secret is None or not hmac.compare_digest(signature, _sign(secret, "session." + body)):
        return None
    return Viewer(access, "cookie", csrf=_sign(secret, "csrf." + nonce)[:32])


def _presented(request: Request) -> str | None:
    key = request.headers.get(API_KEY_HEADER)
    if key is not None:
        return key
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials if scheme.lower() == "bearer" and credentials else None


def viewer_of(request: Request) -> Viewer:
    """The viewer of ``request``; a browser without a session is sent to the login page (303),
    a script with a wrong key gets 401 like the API."""
    admin, read = _keys(request)
    if admin is None and read is None:
        return Viewer(Access.ADMIN, "open")
    presented = _presented(request)
    if presented is not None:
        return Viewer(authorize(request, presented, Access.READ), "header")
    cookie = request.cookies.get(COOKIE)
    viewer = None if cookie is None else _session(request, cookie)
    if viewer is not None:
        return viewer
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    raise HTTPException(
        status_code=status.HTTP_303_SEE_OTHER,
        headers={"Location": f"{PREFIX}/login?next={quote(target, safe='')}"},
    )


def check_post(request: Request, viewer: Viewer, token: str | None, *, admin: bool) -> None:
    """Refuse a posted form from another site (its ``Origin``), without the session's token,
    or an action (``admin``) from a read-only viewer."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.url.netloc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-site form refused")
    if viewer.via == "cookie" and not hmac.compare_digest(token or "", viewer.csrf):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the form's token is missing or stale")
    if admin and not viewer.admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this action needs the admin key")


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a dashboard path, never another site."""
    if not target or not target.startswith(PREFIX) or target.startswith("//"):
        return PREFIX + "/"
    return target


ViewerDep = Annotated[Viewer, Depends(viewer_of)]
"""Dependency: the page's viewer (see :func:`viewer_of`)."""
