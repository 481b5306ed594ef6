"""Thread counts at run time (one BLAS thread for small per-request products, torch's
intra-op threads for training and inference) and the engine that runs offline batch work.

Waking a BLAS thread pool costs more than a small product itself: a 10k x 384 matrix-vector
product took 12 ms with the pool and 1.5 ms on one thread on a busy 2-core machine. The
threadpoolctl controller is built once (building it inspects every loaded library).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol

__all__ = [
    "Engine",
    "LocalEngine",
    "current_engine",
    "single_blas_thread",
    "torch_threads",
    "use_engine",
]

_CONTROLLER: Any = None


def single_blas_thread() -> Any:
    """A context manager limiting BLAS libraries to one thread inside it."""
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")


@contextmanager
def torch_threads(num_threads: int | None) -> Iterator[None]:
    """Temporarily set torch's intra-op thread count (no change for ``None``)."""
    if num_threads is None:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class Engine(Protocol):
    """Where offline batch work runs (catalog encoding, co-visitation counts): this process, or
    a cluster (``shoprec.distributed.RayEngine``). Libraries split the work into independent
    payloads and combine the results themselves, so every engine runs the same code.

    ``map_batches(make_fn, payloads)`` calls ``make_fn()`` once per worker (e.g. to open one
    ONNX session each), applies the function to every payload and returns the results in
    payload order. ``workers`` is how many run at once; ``distributed`` whether they are other
    processes (libraries then split work they would otherwise run in one piece).
    """

    name: str
    workers: int
    distributed: bool

    def map_batches(
        self, make_fn: Callable[[], Callable[[Any], Any]], payloads: Sequence[Any]
    ) -> list[Any]: ...


class LocalEngine:
    """This process, one payload after another (the default)."""

    name = "local"
    workers = 1
    distributed = False

    def map_batches(
        self, make_fn: Callable[[], Callable[[Any], Any]], payloads: Sequence[Any]
    ) -> list[Any]:
        fn = make_fn()
        return [fn(payload) for payload in payloads]


_ENGINE: ContextVar[Engine | None] = ContextVar("shoprec_engine", default=None)
_LOCAL = LocalEngine()


def current_engine() -> Engine:
    """The engine offline work runs on here (see :func:`use_engine`)."""
    return _ENGINE.get() or _LOCAL


@contextmanager
def use_engine(engine: Engine) -> Iterator[Engine]:
    """Run offline work inside the block on ``engine`` (like joblib's ``parallel_backend``)."""
    token = _ENGINE.set(engine)
    try:
        yield engine
    finally:
        _ENGINE.reset(token)
