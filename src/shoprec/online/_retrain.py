"""Champion / challenger retraining from the store.

:func:`retrain` reads every event in the store, holds out the most recent ones (the standard
temporal split's test period), trains a challenger on the events before them (all of them, or
incrementally from the champion's weights with :func:`fine_tune` when the model supports it),
scores champion and challenger on the held-out events with the same full-ranking pipeline
evaluation, and promotes the challenger only if its NDCG@10 beats the champion's by
``margin`` (relative). A promoted challenger is refitted on everything, including the held-out
events, so the live model is as fresh as the store; the registry records both outcomes.
The challenger is trained from scratch, or, with ``RetrainConfig(incremental=True)``, fine-tuned
from the champion's weights on the events since the champion's training data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from shoprec.data import Interactions
from shoprec.evaluation import evaluate_pipeline, pipeline_test_users
from shoprec.exceptions import ShoprecError
from shoprec.online._drift import DataProfile
from shoprec.online._incremental import INCREMENTAL_MODELS, fine_tune
from shoprec.online._registry import MODEL_KIND, ModelEntry, champion, now_ms, register_model
from shoprec.pipeline import Pipeline, PipelineConfig, data_fingerprint
from shoprec.store import EventStore, dataset_from_store

__all__ = ["RetrainConfig", "RetrainResult", "artifact_id", "retrain"]

logger = logging.getLogger(__name__)
_METRIC = "ndcg@10"


@dataclass(frozen=True)
class RetrainConfig:
    """How a challenger is built and judged.

    Attributes
    ----------
    pipeline
        The challenger's pipeline configuration (default: the champion's).
    margin
        Relative NDCG@10 gain over the champion the challenger needs (0.02 = 2% better).
    max_eval_users
        Held-out users scored (a seeded sample).
    refit
        Refit a winning challenger on all events (held-out ones included) before saving.
    incremental, incremental_epochs
        Fine-tune the champion's model (SASRec, text_sequence) on the events since its
        training data for this many epochs instead of training from scratch; new catalog
        items are added (see :func:`~shoprec.online.fine_tune`).
    random_state
        Seed of the training and the evaluation sample.
    """

    pipeline: PipelineConfig | None = None
    margin: float = 0.02
    max_eval_users: int = 2000
    refit: bool = True
    incremental: bool = False
    incremental_epochs: int = 3
    random_state: int = 0


@dataclass(frozen=True)
class RetrainResult:
    """What :func:`retrain` decided and why."""

    promoted: bool
    reason: str
    challenger: ModelEntry
    champion: ModelEntry | None
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    seconds: float = 0.0


def artifact_id(path: str | Path) -> str:
    """A saved pipeline's version: SHA-256 of its manifest, 12 hex digits (as the service)."""
    return hashlib.sha256((Path(path) / "manifest.json").read_bytes()).hexdigest()[:12]


def _data_info(events: Interactions, store: EventStore, catalog: Any) -> dict[str, Any]:
    frame = events.frame
    return {
        "fingerprint": data_fingerprint(events),
        "events": len(frame),
        "first": int(frame["timestamp"].min()),
        "last": int(frame["timestamp"].max()),
        "store_sequence": store.last_sequence(),
        "profile": DataProfile.of(frame, catalog).to_dict(),
    }


def _save(pipeline: Pipeline, data: dict[str, Any], metrics: dict[str, float], out: Path) -> Path:
    pipeline.record_metrics({**metrics, "data_profile": data["profile"]})
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    path = out / f"{pipeline.settings.model}-{stamp}-{data['fingerprint'][:8]}"
    pipeline.save(path)
    return path


def _champion(
    store: EventStore, champion_path: str | Path | None
) -> tuple[ModelEntry | None, Pipeline | None]:
    entry = champion(store)
    if entry is None and champion_path is not None:  # the live pipeline, not yet registered
        path = Path(champion_path)
        pipeline = Pipeline.load(path)
        entry = register_model(store, ModelEntry(
            version=artifact_id(path), path=str(path.resolve()), model=pipeline.settings.model,
            status="champion", created_at=now_ms(), reason="registered as the live pipeline",
            data={"fingerprint": pipeline.fingerprint_, **_span(pipeline)},
        ))  # fmt: skip
        return entry, pipeline
    return entry, None if entry is None else Pipeline.load(entry.path)


def _span(pipeline: Pipeline) -> dict[str, Any]:
    """The training data's time span, when the pipeline recorded its data profile."""
    profile = pipeline.metrics_.get("data_profile") or {}
    return {k: profile[k] for k in ("first", "last", "events") if k in profile}


def retrain(
    store: EventStore,
    out: str | Path,
    *,
    config: RetrainConfig | None = None,
    champion_path: str | Path | None = None,
    progress: bool = False,
) -> RetrainResult:
    """Train a challenger from the store and promote it if it beats the champion.

    Parameters
    ----------
    store
        Events, catalog and the registry.
    out
        Directory the challenger's artifact is saved under (one subdirectory per version).
    config
        Challenger configuration, margin, evaluation size.
    champion_path
        The live pipeline, registered as champion if the registry has none yet.
    progress
        Show progress bars.

    Returns
    -------
    RetrainResult
        Whether it was promoted, why, both entries and both metrics.
    """
    config = config or RetrainConfig()
    start = time.perf_counter()
    data = dataset_from_store(store)
    split = data.split
    current, current_pipeline = _champion(store, champion_path)
    settings = config.pipeline or (current_pipeline.settings if current_pipeline else None)
    if settings is None:
        raise ShoprecError("no champion to copy the configuration of; give a pipeline config")
    since = None if current is None else current.data.get("last")
    challenger = _challenger(settings, split.train_valid, data.catalog, config, since,
                             current_pipeline, progress)  # fmt: skip
    cases = pipeline_test_users(split, max_users=config.max_eval_users,
                                random_state=config.random_state)  # fmt: skip
    if not cases:
        raise ShoprecError("no held-out users to judge the challenger on; collect more events")
    metrics = {"challenger": evaluate_pipeline(challenger, cases, progress=progress)}
    if current_pipeline is not None:
        metrics["champion"] = evaluate_pipeline(current_pipeline, cases, progress=progress)
    promoted, reason = _decide(metrics, config.margin, len(cases))
    if promoted and config.refit:
        previous = challenger if config.incremental else None
        until = int(split.train_valid.frame["timestamp"].max())  # the held-out events are new
        challenger = _challenger(settings, data.interactions, data.catalog, config, until,
                                 previous, progress)  # fmt: skip
    trained_on = data.interactions if promoted and config.refit else split.train_valid
    info = _data_info(trained_on, store, data.catalog)
    path = _save(challenger, info, metrics["challenger"], Path(out))
    if current is not None and "champion" in metrics:  # its score on today's held-out events
        status = "retired" if promoted else "champion"
        updated = replace(current, status=status, offline=metrics["champion"])
        store.put_document(MODEL_KIND, current.version, updated.to_dict())
    entry = register_model(store, ModelEntry(
        version=artifact_id(path), path=str(path.resolve()), model=settings.model,
        status="champion" if promoted else "rejected", created_at=now_ms(), data=info,
        offline=metrics["challenger"], reason=reason,
        parent="" if current is None else current.version,
    ))  # fmt: skip
    logger.info("retrain: %s", reason)
    return RetrainResult(promoted, reason, entry, current, metrics, time.perf_counter() - start)


def _challenger(
    settings: PipelineConfig,
    events: Interactions,
    catalog: Any,
    config: RetrainConfig,
    since: int | None,
    previous: Pipeline | None,
    progress: bool,
) -> Pipeline:
    """A pipeline fitted on ``events``; its model fine-tuned from ``previous``'s on the events
    after ``since`` (``previous``'s training data) when ``config.incremental`` allows it."""
    pipeline = Pipeline(settings, random_state=config.random_state, progress=progress)
    model = None
    if config.incremental and previous is not None and previous.model_.name in INCREMENTAL_MODELS:
        frame = events.frame
        fresh = Interactions(frame[frame["timestamp"].to_numpy() > (since or -1)],
                             has_timestamps=events.has_timestamps)  # fmt: skip
        if len(fresh):
            model = fine_tune(previous.model_, fresh, catalog, epochs=config.incremental_epochs)
        else:
            model = previous.model_
    return pipeline.fit(events, catalog, model=model)


def _decide(metrics: dict[str, dict[str, float]], margin: float, users: int) -> tuple[bool, str]:
    new = metrics["challenger"][_METRIC]
    if "champion" not in metrics:
        return True, f"no champion: challenger {_METRIC} {new:.4f} on {users} held-out users"
    old = metrics["champion"][_METRIC]
    needed = old * (1 + margin)
    if new >= needed:
        return True, (f"challenger {_METRIC} {new:.4f} beats champion {old:.4f} by "
                      f"{new / old - 1 if old else float('inf'):+.1%} (needed {margin:+.1%}) "
                      f"on {users} held-out users")  # fmt: skip
    return False, (f"kept the champion: challenger {_METRIC} {new:.4f} vs champion {old:.4f} "
                   f"({(new / old - 1) if old else 0.0:+.1%}; needed {margin:+.1%}) on {users} "
                   "held-out users")  # fmt: skip
