"""The model registry in the store: every trained pipeline version, its data and metrics, and
which one is live.

Entries are documents of kind ``"model"`` keyed by the pipeline version (the artifact's content
id). An entry records where the artifact lives, the training data (fingerprint, events, time
span, the last store sequence it saw), offline metrics on the evaluation it was judged on, and
its status: ``champion`` (live; at most one), ``retired`` (was champion), ``rejected`` (a
challenger that did not win, with the reason). Online metrics are read from the impressions the
version served (:func:`online_metrics` by version) when entries are listed.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from shoprec.exceptions import ShoprecError
from shoprec.online._measurement import online_metrics
from shoprec.store import EventStore

__all__ = [
    "MODEL_KIND",
    "ModelEntry",
    "champion",
    "list_models",
    "promote",
    "register_model",
]

MODEL_KIND = "model"
STATUSES = ("champion", "retired", "rejected", "candidate")


@dataclass(frozen=True)
class ModelEntry:
    """One registered pipeline version."""

    version: str
    path: str
    model: str
    status: str
    created_at: int
    data: dict[str, Any] = field(default_factory=dict)
    offline: dict[str, float] = field(default_factory=dict)
    online: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    parent: str = ""  # the version it was fine-tuned from, if incremental

    def to_dict(self) -> dict[str, Any]:
        """The stored document (online metrics are computed, not stored)."""
        doc = asdict(self)
        doc.pop("online")
        return doc

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> ModelEntry:
        """The entry of a stored document."""
        return cls(**{k: v for k, v in doc.items() if k in cls.__dataclass_fields__})


def register_model(store: EventStore, entry: ModelEntry) -> ModelEntry:
    """Add or replace ``entry``; registering a champion retires the previous one."""
    if entry.status not in STATUSES:
        raise ShoprecError(f"unknown model status {entry.status!r}; expected one of {STATUSES}")
    if entry.status == "champion":
        current = champion(store)
        if current is not None and current.version != entry.version:
            store.put_document(MODEL_KIND, current.version, replace(current, status="retired")
                               .to_dict())  # fmt: skip
    store.put_document(MODEL_KIND, entry.version, entry.to_dict())
    return entry


def promote(store: EventStore, version: str, *, reason: str = "") -> ModelEntry:
    """Make a registered version the champion (e.g. to roll back to a retired one)."""
    docs = store.documents(MODEL_KIND)
    if version not in docs:
        raise ShoprecError(f"no registered model version {version!r}")
    entry = replace(ModelEntry.from_dict(docs[version]), status="champion",
                    reason=reason or "promoted")  # fmt: skip
    return register_model(store, entry)


def list_models(store: EventStore, *, with_online: bool = True) -> list[ModelEntry]:
    """Every entry, newest first, with the online metrics of the versions that served."""
    entries = [ModelEntry.from_dict(d) for d in store.documents(MODEL_KIND).values()]
    if with_online and entries:
        table = online_metrics(store, by=("version",))
        rows = {row["version"]: row for row in table.to_dict(orient="records")}
        entries = [
            replace(e, online={k: _plain(v) for k, v in rows.get(e.version, {}).items()
                               if k != "version"})
            for e in entries
        ]  # fmt: skip
    return sorted(entries, key=lambda e: e.created_at, reverse=True)


def champion(store: EventStore) -> ModelEntry | None:
    """The live version, if one is registered."""
    found = [d for d in store.documents(MODEL_KIND).values() if d.get("status") == "champion"]
    return ModelEntry.from_dict(max(found, key=lambda d: d["created_at"])) if found else None


def now_ms() -> int:
    """The registry's clock."""
    return int(time.time() * 1000)


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    return None if isinstance(value, float) and value != value else value
