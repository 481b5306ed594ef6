"""Micro-batching: concurrent requests computed together in one call on one worker thread.

A pipeline scores several users in one model pass for less than one pass each (1.8 ms instead
of 2.5 ms per text-sequence request in batches of 8), and one worker thread means request
threads do not fight over the GIL. There is no waiting window: a request arriving while the
worker is idle starts a batch at once, and requests arriving while a batch runs form the next
one, so batches grow only with the load.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from shoprec.exceptions import OverloadedError

__all__ = ["MicroBatcher"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class _Failure:
    error: Exception


class MicroBatcher(Generic[T, R]):
    """Runs ``compute`` on batches of the items submitted concurrently.

    Parameters
    ----------
    compute
        Maps a batch of items to one result each, in order. It runs on the batcher's own
        thread, in a fresh :mod:`contextvars` context per batch.
    max_batch
        Most items per call; the rest wait for the next call.
    max_waiting
        Most items waiting for a batch; beyond that :meth:`submit` refuses at once with
        :class:`OverloadedError`, so that an overloaded service sheds what it cannot answer in
        time instead of queueing every request into a timeout (``None``: no limit).
    name
        Name of the worker thread.
    on_batch
        Called with the size of every batch computed (e.g. a metrics histogram's ``observe``).

    Notes
    -----
    When ``compute`` raises on a batch, each of its items is computed alone, so a bad request
    fails by itself instead of failing the requests it was batched with.
    """

    def __init__(
        self,
        compute: Callable[[Sequence[T]], Sequence[R]],
        *,
        max_batch: int = 16,
        max_waiting: int | None = None,
        name: str = "batch",
        on_batch: Callable[[int], object] | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        if max_waiting is not None and max_waiting < 1:
            raise ValueError(f"max_waiting must be at least 1, got {max_waiting}")
        self.compute = compute
        self.max_batch = max_batch
        self.max_waiting = max_waiting
        self.on_batch = on_batch
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._worker: asyncio.Task[None] | None = None
        self.batches = 0
        self.items = 0
        self.refused = 0

    async def submit(self, item: T) -> R:
        """``item``'s result, computed in the next batch; raises what computing it raised, or
        :class:`OverloadedError` when ``max_waiting`` items already wait."""
        if self.max_waiting is not None and len(self._pending) >= self.max_waiting:
            self.refused += 1
            raise OverloadedError(f"{len(self._pending)} requests are waiting; retry later")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._pending.append((item, future))
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._drain())
        return await future

    def close(self) -> None:
        """Stop the worker thread after the batch it is running."""
        self._executor.shutdown(wait=True)

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            items = [item for item, _ in batch]
            try:
                results = await loop.run_in_executor(
                    self._executor, contextvars.Context().run, self._compute_each, items
                )
            except RuntimeError as error:  # the executor was shut down
                results = [_Failure(error)] * len(items)
            self.batches += 1
            self.items += len(items)
            if self.on_batch is not None:
                self.on_batch(len(items))
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():  # the client went away
                    continue
                if isinstance(result, _Failure):
                    future.set_exception(result.error)
                else:
                    future.set_result(result)

    def _compute_each(self, items: list[T]) -> list[R | _Failure]:
        try:
            results = list(self.compute(items))
            if len(results) != len(items):
                raise RuntimeError(f"{len(results)} results for a batch of {len(items)}")
            return list(results)
        except Exception as error:
            if len(items) == 1:
                return [_Failure(error)]
        return [outcome for item in items for outcome in self._compute_each([item])]
