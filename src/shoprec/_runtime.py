"""Thread counts at run time: one BLAS thread for small per-request products, and torch's
intra-op threads for training and inference.

Waking a BLAS thread pool costs more than a small product itself: a 10k x 384 matrix-vector
product took 12 ms with the pool and 1.5 ms on one thread on a busy 2-core machine. The
threadpoolctl controller is built once (building it inspects every loaded library).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["single_blas_thread", "torch_threads"]

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
