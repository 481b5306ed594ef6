"""Sending a :class:`~shoprec.client._calls.Call` with retries, synchronously or with asyncio.

Retried: connection failures, timeouts, and the answers that say "nothing was done, try
again" (429, 502, 503, 504), with exponential backoff and jitter, honouring ``Retry-After``
up to ``max_backoff``. A call that is not idempotent is retried only when the request surely
never reached the server (the connection could not be made). Events are idempotent because
the client gives each one a ``client_event_id`` before the first attempt.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from shoprec.client._calls import Call
from shoprec.exceptions import ServiceError

__all__ = ["RetryPolicy", "send", "send_async"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
_RETRY_STATUS = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry.

    Parameters
    ----------
    attempts
        Tries in all (1 = no retry).
    backoff
        Seconds before the second try; doubled each time, with up to 50% random jitter.
    max_backoff
        Upper bound of one wait, also of a server's ``Retry-After``.
    """

    attempts: int = 4
    backoff: float = 0.2
    max_backoff: float = 5.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.backoff < 0 or self.max_backoff < 0:
            raise ValueError("attempts must be >= 1 and the waits >= 0")

    def wait(self, attempt: int, response: httpx.Response | None, rng: random.Random) -> float:
        """Seconds to wait before try ``attempt + 1`` (``attempt`` counts from 1)."""
        header = None if response is None else response.headers.get("Retry-After")
        if header is not None:
            try:
                return min(float(header), self.max_backoff)
            except ValueError:
                pass  # an HTTP date: fall back to our own backoff
        base = self.backoff * 2 ** (attempt - 1)
        return min(base * (1 + 0.5 * rng.random()), self.max_backoff)


def _retryable(call: Call[Any], error: Exception | None, response: httpx.Response | None) -> bool:
    if error is not None:
        never_sent = isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)
        return never_sent or (call.idempotent and isinstance(error, httpx.TransportError))
    assert response is not None
    # 503 from shoprec means "nothing was done" (overloaded, store down); others only if safe
    return response.status_code in _RETRY_STATUS and (
        call.idempotent or response.status_code in (429, 503)
    )


def _result(call: Call[T], response: httpx.Response) -> T:
    if response.is_success:
        return call.parse(response.json())
    raise ServiceError.from_response(
        response.status_code, _body(response), f"{call.method} {call.path}"
    )


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def send(client: httpx.Client, call: Call[T], policy: RetryPolicy, rng: random.Random) -> T:
    """Send ``call`` on ``client``, retrying under ``policy``."""
    for attempt in range(1, policy.attempts + 1):
        response: httpx.Response | None = None
        error: Exception | None = None
        try:
            response = client.request(call.method, call.path, json=call.json, params=call.params)
        except httpx.TransportError as caught:
            error = caught
        last = attempt == policy.attempts
        if last or not _retryable(call, error, response):
            if error is not None:
                raise ServiceError.unreachable(f"{call.method} {call.path}", error) from error
            assert response is not None
            return _result(call, response)
        delay = policy.wait(attempt, response, rng)
        logger.info("%s %s: retry %d in %.2f s", call.method, call.path, attempt, delay)
        time.sleep(delay)
    raise AssertionError("unreachable")  # the loop returns or raises on its last attempt


async def send_async(
    client: httpx.AsyncClient, call: Call[T], policy: RetryPolicy, rng: random.Random
) -> T:
    """:func:`send` for an :class:`httpx.AsyncClient`."""
    for attempt in range(1, policy.attempts + 1):
        response: httpx.Response | None = None
        error: Exception | None = None
        try:
            response = await client.request(
                call.method, call.path, json=call.json, params=call.params
            )
        except httpx.TransportError as caught:
            error = caught
        last = attempt == policy.attempts
        if last or not _retryable(call, error, response):
            if error is not None:
                raise ServiceError.unreachable(f"{call.method} {call.path}", error) from error
            assert response is not None
            return _result(call, response)
        delay = policy.wait(attempt, response, rng)
        logger.info("%s %s: retry %d in %.2f s", call.method, call.path, attempt, delay)
        await asyncio.sleep(delay)
    raise AssertionError("unreachable")
