"""A/B and A/A experiments: variants, deterministic assignment, and their lifecycle in the store.

A user's variant is a pure function of the user id and the experiment's salt: the first 8 bytes
of ``sha256(salt + ":" + user_id)`` as a number in ``[0, 1)``, placed on the variants' cumulative
weights. Every process, before and after a restart, puts a user in the same variant without
storing assignments, and a new salt reshuffles users between experiments. Experiments are
documents of kind ``"experiment"`` in the store, so they survive restarts; at most one runs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from shoprec.exceptions import ShoprecError, ValidationError
from shoprec.store import EventStore

__all__ = [
    "EXPERIMENT_KIND",
    "Experiment",
    "ExperimentConflictError",
    "ExperimentNotFoundError",
    "Variant",
    "assignment_point",
    "get_experiment",
    "list_experiments",
    "new_experiment",
    "running_experiment",
    "save_experiment",
    "start_experiment",
    "stop_experiment",
]

EXPERIMENT_KIND = "experiment"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ExperimentConflictError(ShoprecError):
    """The experiment cannot start or stop in the current state (HTTP 409)."""


@dataclass(frozen=True)
class Variant:
    """One arm of an experiment.

    Attributes
    ----------
    name
        Short label (``A``, ``control``, ``sasrec-v2``).
    pipeline
        The pipeline artifact directory it serves; ``""`` serves whatever is active.
    weight
        Share of users, relative to the other variants' weights.
    """

    name: str
    pipeline: str = ""
    weight: float = 1.0


@dataclass(frozen=True)
class Experiment:
    """A split of users between variants, from ``started_at`` until ``stopped_at``."""

    name: str
    variants: tuple[Variant, ...]
    salt: str
    started_at: int
    stopped_at: int | None = None
    description: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        """Whether users are being assigned now."""
        return self.stopped_at is None

    @property
    def is_aa(self) -> bool:
        """Whether every variant serves the same pipeline (an A/A test of the measurement)."""
        return len({v.pipeline for v in self.variants}) == 1

    def assign(self, user_id: str) -> Variant:
        """The variant of ``user_id`` (the same every time, in every process)."""
        point = assignment_point(user_id, self.salt)
        total = sum(v.weight for v in self.variants)
        edge = 0.0
        for variant in self.variants:
            edge += variant.weight / total
            if point < edge:
                return variant
        return self.variants[-1]

    def to_dict(self) -> dict[str, Any]:
        """The stored document."""
        return {
            "name": self.name,
            "variants": [vars(v) for v in self.variants],
            "salt": self.salt,
            "started_at": self.started_at,
            "stopped_at": self.stopped_at,
            "description": self.description,
            "metadata": self.metadata,
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Experiment:
        """The experiment of a stored document."""
        return cls(
            name=doc["name"],
            variants=tuple(Variant(**v) for v in doc["variants"]),
            salt=doc["salt"],
            started_at=int(doc["started_at"]),
            stopped_at=None if doc.get("stopped_at") is None else int(doc["stopped_at"]),
            description=doc.get("description", ""),
            metadata=dict(doc.get("metadata", {})),
        )

    def window(self) -> str:
        """When it ran, in words."""
        start = _iso(self.started_at)
        return f"{start} - {'now' if self.stopped_at is None else _iso(self.stopped_at)}"


def assignment_point(user_id: str, salt: str) -> float:
    """``user_id``'s uniform point in ``[0, 1)`` under ``salt``."""
    digest = hashlib.sha256(f"{salt}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def _check_variants(variants: Sequence[Variant]) -> tuple[Variant, ...]:
    if len(variants) < 2:
        raise ValidationError("an experiment needs at least two variants", field="variants")
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise ValidationError(f"variant names must differ, got {names}", field="variants")
    for v in variants:
        if not _NAME.match(v.name):
            raise ValidationError(f"bad variant name {v.name!r}", field="variants")
        if not (v.weight > 0 and v.weight < float("inf")):
            raise ValidationError(f"variant {v.name} needs a positive weight", field="weight")
    return tuple(variants)


def new_experiment(
    store: EventStore,
    name: str,
    variants: Sequence[Variant],
    *,
    salt: str | None = None,
    description: str = "",
    metadata: dict[str, Any] | None = None,
    now_ms: int | None = None,
) -> Experiment:
    """A checked experiment that could start now, not yet stored (see :func:`save_experiment`).

    Raises
    ------
    ExperimentConflictError
        When another experiment is running or ``name`` was used before.
    ValidationError
        For a bad name, fewer than two variants, repeated names or bad weights.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValidationError(
            f"bad experiment name {name!r}: letters, digits, _ . - (at most 64)", field="name"
        )
    checked = _check_variants(variants)
    running = running_experiment(store)
    if running is not None:
        raise ExperimentConflictError(f"experiment {running.name!r} is running; stop it first")
    if name in store.documents(EXPERIMENT_KIND):
        raise ExperimentConflictError(f"experiment {name!r} exists; choose another name")
    return Experiment(
        name=name,
        variants=checked,
        salt=salt or secrets.token_hex(8),
        started_at=_now(now_ms),
        description=description,
        metadata=dict(metadata or {}),
    )


def save_experiment(store: EventStore, experiment: Experiment) -> None:
    """Store (or replace) the experiment's record."""
    store.put_document(EXPERIMENT_KIND, experiment.name, experiment.to_dict())


def start_experiment(
    store: EventStore,
    name: str,
    variants: Sequence[Variant],
    *,
    salt: str | None = None,
    description: str = "",
    metadata: dict[str, Any] | None = None,
    now_ms: int | None = None,
) -> Experiment:
    """:func:`new_experiment` and :func:`save_experiment`: record a running experiment (a
    service splits traffic once it has loaded the variants' pipelines)."""
    experiment = new_experiment(
        store, name, variants, salt=salt, description=description, metadata=metadata,
        now_ms=now_ms,
    )  # fmt: skip
    save_experiment(store, experiment)
    return experiment


def stop_experiment(store: EventStore, name: str, *, now_ms: int | None = None) -> Experiment:
    """Stop a running experiment; its record and metrics stay."""
    experiment = get_experiment(store, name)
    if not experiment.running:
        raise ExperimentConflictError(f"experiment {name!r} is not running")
    stopped = replace(experiment, stopped_at=_now(now_ms))
    store.put_document(EXPERIMENT_KIND, name, stopped.to_dict())
    return stopped


def get_experiment(store: EventStore, name: str) -> Experiment:
    """One experiment by name (:class:`ExperimentNotFoundError` when unknown)."""
    docs = store.documents(EXPERIMENT_KIND)
    if name not in docs:
        raise ExperimentNotFoundError(f"no experiment named {name!r}")
    return Experiment.from_dict(docs[name])


class ExperimentNotFoundError(ShoprecError, LookupError):
    """No experiment has that name (HTTP 404)."""


def list_experiments(store: EventStore) -> list[Experiment]:
    """Every experiment, most recently started first."""
    experiments = [Experiment.from_dict(d) for d in store.documents(EXPERIMENT_KIND).values()]
    return sorted(experiments, key=lambda e: e.started_at, reverse=True)


def running_experiment(store: EventStore) -> Experiment | None:
    """The running experiment, if any."""
    return next((e for e in list_experiments(store) if e.running), None)


def _now(now_ms: int | None) -> int:
    return int(time.time() * 1000) if now_ms is None else int(now_ms)


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M")
