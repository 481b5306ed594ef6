"""The micro-batcher: concurrent submissions computed together, each failure kept to its item."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Sequence

import pytest

from shoprec.exceptions import OverloadedError
from shoprec.serve import MicroBatcher

_marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="clean")


class Recorder:
    """Squares numbers, records each batch, and can hold the first batch until released."""

    def __init__(self, *, hold_first: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.threads: set[str] = set()
        self.release = threading.Event()
        if not hold_first:
            self.release.set()

    def __call__(self, items: Sequence[int]) -> list[int]:
        self.threads.add(threading.current_thread().name)
        self.batches.append(list(items))
        if len(self.batches) == 1:
            self.release.wait(timeout=10)
        if any(item < 0 for item in items):
            raise ValueError(f"negative item in {list(items)}")
        return [item * item for item in items]


async def _submit_while_first_runs(batcher: MicroBatcher[int, int], recorder: Recorder) -> list:
    first = asyncio.ensure_future(batcher.submit(1))
    while not recorder.batches:  # the worker is inside the first batch
        await asyncio.sleep(0.001)
    rest = [asyncio.ensure_future(batcher.submit(i)) for i in range(2, 7)]
    await asyncio.sleep(0.01)
    recorder.release.set()
    return await asyncio.gather(first, *rest, return_exceptions=True)


def test_requests_arriving_during_a_batch_form_the_next_batch() -> None:
    recorder, sizes = Recorder(hold_first=True), []
    batcher = MicroBatcher(recorder, max_batch=16, name="squares", on_batch=sizes.append)
    results = asyncio.run(_submit_while_first_runs(batcher, recorder))
    batcher.close()
    assert results == [1, 4, 9, 16, 25, 36]
    assert recorder.batches == [[1], [2, 3, 4, 5, 6]] and sizes == [1, 5]
    assert (batcher.batches, batcher.items) == (2, 6)
    assert all(name.startswith("squares") for name in recorder.threads)


def test_batches_never_exceed_max_batch() -> None:
    recorder = Recorder(hold_first=True)
    batcher = MicroBatcher(recorder, max_batch=2)
    results = asyncio.run(_submit_while_first_runs(batcher, recorder))
    batcher.close()
    assert results == [1, 4, 9, 16, 25, 36]
    assert recorder.batches == [[1], [2, 3], [4, 5], [6]]


def test_a_failing_item_fails_alone() -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder)

    async def run() -> list:
        return await asyncio.gather(
            *(batcher.submit(i) for i in (3, -1, 4)), return_exceptions=True
        )

    results = asyncio.run(run())
    batcher.close()
    assert results[0] == 9 and results[2] == 16
    assert isinstance(results[1], ValueError) and "negative" in str(results[1])
    # the batch failed, then each item ran alone
    assert recorder.batches == [[3, -1, 4], [3], [-1], [4]]


def test_a_wrong_number_of_results_fails_each_item() -> None:
    batcher = MicroBatcher(lambda items: [])

    async def run() -> list:
        return await asyncio.gather(*(batcher.submit(i) for i in (1, 2)), return_exceptions=True)

    results = asyncio.run(run())
    batcher.close()
    assert all(isinstance(r, RuntimeError) and "0 results" in str(r) for r in results)


def test_each_batch_runs_in_a_fresh_context() -> None:
    seen: list[str] = []

    def compute(items: Sequence[int]) -> list[int]:
        seen.append(_marker.get())
        _marker.set("dirty")  # must not leak into the next batch
        return list(items)

    batcher = MicroBatcher(compute)

    async def run() -> None:
        _marker.set("caller")
        for i in range(3):
            await batcher.submit(i)

    asyncio.run(run())
    batcher.close()
    assert seen == ["clean", "clean", "clean"]


def test_max_batch_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        MicroBatcher(lambda items: items, max_batch=0)


def test_submissions_beyond_max_waiting_are_refused_at_once() -> None:
    recorder = Recorder(hold_first=True)
    batcher = MicroBatcher(recorder, max_waiting=2)

    async def run() -> list:
        first = asyncio.ensure_future(batcher.submit(1))
        while not recorder.batches:  # the first batch runs: later items wait
            await asyncio.sleep(0.001)
        waiting = [asyncio.ensure_future(batcher.submit(i)) for i in (2, 3, 4)]
        await asyncio.sleep(0.01)
        recorder.release.set()
        return await asyncio.gather(first, *waiting, return_exceptions=True)

    results = asyncio.run(run())
    batcher.close()
    assert results[:3] == [1, 4, 9]
    assert isinstance(results[3], OverloadedError) and "retry later" in str(results[3])
    assert batcher.refused == 1 and recorder.batches == [[1], [2, 3]]
    with pytest.raises(ValueError, match="max_waiting"):
        MicroBatcher(recorder, max_waiting=0)
