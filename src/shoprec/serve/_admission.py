"""Bounded queueing: a request waits for a slot at most a short while, then gets a fast 503.

Without it an overloaded service admits everything its connection limit allows and queues it
behind the slowest resource: at 200 concurrent clients, single-event writes (one fsync'd SQLite
commit each, serialised by the write lock) queued for 8-9 s at p99 while the client had long
given up. :class:`Admission` gives reads and writes separate pools of slots; a request that
finds its pool full waits in a FIFO for at most ``max_wait_s`` (and only while fewer than
``queue`` others wait), else it is refused at once with 503 and ``Retry-After``, so everything
admitted finishes in about ``max_wait_s`` plus its own service time. Health checks and the
dashboard's pages bypass it: a probe must see a busy service as alive.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["Admission", "Gate"]

_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_READ_POSTS = frozenset({"/v1/recommendations"})  # a POST that only reads
_BYPASS = ("/v1/health",)


class Gate:
    """At most ``limit`` holders; up to ``queue`` waiters, each for at most ``max_wait_s``.

    Runs on one event loop (no locks): :meth:`enter` and :meth:`leave` are called from it.
    """

    def __init__(self, limit: int, *, queue: int, max_wait_s: float) -> None:
        self.limit = limit
        self.queue = queue
        self.max_wait_s = max_wait_s
        self.inflight = 0
        self.refused = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def enter(self) -> bool:
        """Take a slot (``True``), or give up (``False``) when the queue is full or the wait
        would exceed ``max_wait_s``."""
        if self.inflight < self.limit and not self._waiters:
            self.inflight += 1
            return True
        if len(self._waiters) >= self.queue:
            self.refused += 1
            return False
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), self.max_wait_s)
        except TimeoutError:
            if waiter.done():  # handed a slot just as the wait ran out: keep it
                return True
            self._forget(waiter)
            self.refused += 1
            return False
        except asyncio.CancelledError:  # the client went away while waiting
            if waiter.done():
                self.leave()  # pass on the slot it was handed
            else:
                self._forget(waiter)
            raise
        return True

    def _forget(self, waiter: asyncio.Future[None]) -> None:
        self._waiters.remove(waiter)
        waiter.cancel()

    def leave(self) -> None:
        """Give the slot to the longest waiter, or free it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes on: inflight stays
                return
        self.inflight -= 1


class Admission:
    """ASGI middleware: the read and write :class:`Gate` in front of the API routes.

    Parameters
    ----------
    app
        The application.
    reads, writes
        Slots for reads (recommendations, search, items, portraits, metrics) and for writes.
    max_wait_s
        Longest wait for a slot before a 503.
    retry_after_s
        The 503's ``Retry-After``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        reads: int,
        writes: int,
        max_wait_s: float,
        retry_after_s: int = 1,
    ) -> None:
        self.app = app
        self.gates = {
            "read": Gate(reads, queue=4 * reads, max_wait_s=max_wait_s),
            "write": Gate(writes, queue=4 * writes, max_wait_s=max_wait_s),
        }
        self.retry_after_s = retry_after_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/v1/") or path.startswith(_BYPASS):
            await self.app(scope, receive, send)
            return
        write = scope["method"] in _WRITES and path not in _READ_POSTS
        gate = self.gates["write" if write else "read"]
        if not await gate.enter():
            await self._refuse(send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            gate.leave()

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"detail": "the service is at capacity; retry later"}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(self.retry_after_s).encode()),
        ]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})
