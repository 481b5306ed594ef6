"""The Ray engine: offline batch work on a Ray cluster, or on a local one started here.

Libraries split their work into payloads and hand them to
:func:`shoprec._runtime.current_engine`; this engine runs them with Ray Data ``map_batches``
on a pool of actors, each of which builds its function once (one ONNX encoder per worker),
and returns the results in payload order. The local engine runs the same functions in this
process, so both give the same results.

``ray`` is an optional dependency (``pip install 'shoprec[ray]'``), imported only here and only
when an engine starts. Usage statistics are off unless ``RAY_USAGE_STATS_ENABLED`` says
otherwise.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Self

import numpy as np

from shoprec._runtime import Engine, LocalEngine
from shoprec.exceptions import ParameterError

__all__ = ["RayEngine", "create_engine"]

logger = logging.getLogger(__name__)


class RayEngine:
    """Run offline batch work on Ray.

    Parameters
    ----------
    address
        A running cluster (``ray://head:10001`` or ``auto``); ``None`` starts a local one with
        ``num_cpus`` CPUs for the life of the engine.
    workers
        Actors working at once (each takes one CPU).
    num_cpus
        CPUs of a local cluster.

    Use as a context manager, which shuts a cluster it started down at the end:
    ``with RayEngine(workers=2) as engine, use_engine(engine): ...``; the cluster starts at the
    first :meth:`map_batches`.
    """

    name = "ray"
    distributed = True

    def __init__(self, *, address: str | None = None, workers: int = 2, num_cpus: int = 2) -> None:
        if workers < 1 or num_cpus < 1:
            raise ParameterError(f"workers and num_cpus must be >= 1, got {workers}, {num_cpus}")
        self.address = address
        self.workers = workers
        self.num_cpus = num_cpus
        self._started = False

    def __enter__(self) -> Self:
        return self

    def start(self) -> None:
        """Connect to (or start) the cluster; :meth:`map_batches` calls it when needed."""
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        try:
            import ray
        except ImportError as error:
            raise ParameterError("the ray engine needs ray: pip install 'shoprec[ray]'") from error
        if not ray.is_initialized():
            if self.address is None:
                ray.init(num_cpus=self.num_cpus, include_dashboard=False, log_to_driver=False)
            else:
                ray.init(address=self.address, log_to_driver=False)
            self._started = True
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._started:
            import ray

            ray.shutdown()
            self._started = False

    def map_batches(
        self, make_fn: Callable[[], Callable[[Any], Any]], payloads: Sequence[Any]
    ) -> list[Any]:
        """``make_fn()(payload)`` for every payload on the actor pool, in payload order."""
        import ray

        if not payloads:
            return []
        if not ray.is_initialized():
            self.start()
        rows = [{"i": i, "payload": pickle.dumps(p)} for i, p in enumerate(payloads)]
        dataset = ray.data.from_items(rows, override_num_blocks=min(len(rows), 4 * self.workers))
        mapped = dataset.map_batches(
            _Apply,
            fn_constructor_args=(make_fn,),
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=self.workers),
            num_cpus=1,
        )
        results: list[Any] = [None] * len(payloads)
        for row in mapped.iter_rows():
            results[int(row["i"])] = pickle.loads(row["out"])
        logger.info("ray: %d payloads on %d workers", len(payloads), self.workers)
        return results


class _Apply:
    """One Ray Data actor: builds the function once, applies it to each payload."""

    def __init__(self, make_fn: Callable[[], Callable[[Any], Any]]) -> None:
        self.fn = make_fn()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = [pickle.dumps(self.fn(pickle.loads(p))) for p in batch["payload"]]
        return {"i": batch["i"], "out": np.array(out, dtype=object)}


def create_engine(name: str, *, address: str | None = None, workers: int = 2) -> Engine:
    """``"local"`` (this process) or ``"ray"`` (a :class:`RayEngine`, not yet started)."""
    if name == "local":
        if address is not None:
            raise ParameterError("--address needs --engine ray")
        return LocalEngine()
    if name == "ray":
        return RayEngine(address=address, workers=workers)
    raise ParameterError(f"unknown engine {name!r}; choose from ['local', 'ray']")
