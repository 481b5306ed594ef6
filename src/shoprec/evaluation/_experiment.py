"""Train several recommenders on one dataset's split and evaluate them side by side."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shoprec.data import Dataset
from shoprec.evaluation._protocol import EvaluationResult, evaluate
from shoprec.models import Recommender, create_recommender

__all__ = ["BASELINES", "ModelRun", "baseline_models", "compare_models"]

logger = logging.getLogger(__name__)

# The baselines with the settings used by `shoprec demo` and benchmarks/baselines.py.
BASELINES: dict[str, tuple[str, dict[str, Any]]] = {
    "popularity": ("popularity", {}),
    "popularity-recent": ("popularity", {"half_life_days": 30.0}),
    "covisitation": ("covisitation", {}),
    "als": ("als", {}),
    "sasrec": ("sasrec", {}),
}


@dataclass(frozen=True)
class ModelRun:
    """A fitted model with its evaluation and training wall time."""

    name: str
    model: Recommender
    result: EvaluationResult
    train_s: float


def compare_models(
    models: Mapping[str, Recommender],
    dataset: Dataset,
    *,
    ks: tuple[int, ...] = (5, 10, 20),
    progress: bool = False,
    on_done: Callable[[ModelRun], None] | None = None,
) -> list[ModelRun]:
    """Fit each model on ``dataset.split.train`` (validating on ``split.valid``) and evaluate it on
    ``split.test`` with full ranking. ``on_done`` is called after each model, e.g. to print."""
    runs = []
    split = dataset.split
    for name, model in models.items():
        logger.info("training %s on %s", name, dataset.name)
        start = time.perf_counter()
        model.fit(split.train, dataset.catalog, validation=split.valid)
        train_s = time.perf_counter() - start
        result = evaluate(model, split, catalog=dataset.catalog, ks=ks, progress=progress)
        result.model = name
        run = ModelRun(name=name, model=model, result=result, train_s=train_s)
        if on_done is not None:
            on_done(run)
        runs.append(run)
    return runs


def baseline_models(
    names: list[str] | None = None, *, random_state: int = 0, progress: bool = False
) -> dict[str, Recommender]:
    """Fresh instances of the named :data:`BASELINES` (all by default); ``random_state`` and
    ``progress`` (per-epoch bars and metrics) go to the models that take them."""
    chosen = list(BASELINES) if names is None else names
    unknown = sorted(set(chosen) - set(BASELINES))
    if unknown:
        raise ValueError(f"unknown baseline(s) {unknown}; choose from {sorted(BASELINES)}")
    models = {}
    for name in chosen:
        model_name, params = BASELINES[name]
        models[name] = create_recommender(
            model_name, random_state=random_state, progress=progress, **params
        )
    return models
