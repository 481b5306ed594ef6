"""One BLAS thread for small per-request products.

Waking a BLAS thread pool costs more than a small product itself: a 10k x 384 matrix-vector
product took 12 ms with the pool and 1.5 ms on one thread on a busy 2-core machine. The
threadpoolctl controller is built once (building it inspects every loaded library).
"""

from __future__ import annotations

from typing import Any

__all__ = ["single_blas_thread"]

_CONTROLLER: Any = None


def single_blas_thread() -> Any:
    """A context manager limiting BLAS libraries to one thread inside it."""
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")
