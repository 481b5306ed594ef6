"""What the learned ranking stage knows about items at request time: popularity over several
horizons, age, catalog attributes and text vectors, all measured relative to the request time.

Features stay comparable when the retrievers are re-fitted on later data (the deployment
protocol): popularity is a share of the events in a window ending at the request time, not a
raw count, and ages are counted back from the request time.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shoprec._artifacts import reading
from shoprec.data import Catalog, EncodedInteractions, Interactions, leave_one_out
from shoprec.exceptions import ArtifactError, ValidationError

__all__ = ["HORIZON_DAYS", "ItemContext", "earlier_period"]

_DAY_MS = 86_400_000
# Popularity windows (days before the request time) for data with real timestamps.
HORIZON_DAYS: tuple[int, ...] = (1, 7, 30, 90)


@dataclass(frozen=True)
class ItemContext:
    """Item-level arrays aligned with a vocabulary, as of ``request_time``.

    Attributes
    ----------
    request_time
        Milliseconds since the epoch (or the last position for order-only data).
    timed
        Whether the events carry real timestamps (else only all-time popularity is known).
    popularity
        ``(n_items, len(HORIZON_DAYS) + 1)`` share of the events in each window (the last
        column: all events); only the last column for order-only data.
    first_seen_days, last_seen_days
        ``(n_items,)`` days from the item's first / last event to the request time (``NaN``:
        no event).
    category, brand
        ``(n_items,)`` integer codes, ``-1`` when unknown.
    log_price
        ``(n_items,)`` ``log1p(price)``, ``NaN`` when unknown.
    embeddings
        ``(n_items, dim)`` unit-length text vectors, or ``None`` (no language-model features).
    """

    request_time: int
    timed: bool
    popularity: np.ndarray
    first_seen_days: np.ndarray
    last_seen_days: np.ndarray
    category: np.ndarray
    brand: np.ndarray
    log_price: np.ndarray
    embeddings: np.ndarray | None = None

    @property
    def n_items(self) -> int:
        return len(self.category)

    @property
    def is_new(self) -> np.ndarray:
        """Items without any event before the request time."""
        return np.isnan(self.first_seen_days)

    @property
    def popularity_names(self) -> list[str]:
        horizons = [f"pop_{d}d" for d in HORIZON_DAYS] if self.timed else []
        return [*horizons, "pop_all"]

    @classmethod
    def build(
        cls,
        data: EncodedInteractions,
        *,
        timed: bool,
        catalog: Catalog | None = None,
        embeddings: np.ndarray | None = None,
    ) -> ItemContext:
        """The context of events ``data`` (encoded on the vocabulary), the request time being
        the last event; ``catalog`` gives categories, brands and prices by item id."""
        n_items = len(data.item_ids)
        items = np.asarray(data.items, dtype=np.int64)
        ts = np.asarray(data.timestamps, dtype=np.int64)
        now = int(ts.max()) if len(ts) else 0
        columns = []
        windows = [d * _DAY_MS for d in HORIZON_DAYS] if timed else []
        for window in [*windows, None]:
            chosen = items if window is None else items[ts > now - window]
            counts = np.bincount(chosen, minlength=n_items).astype(np.float64)
            columns.append(counts / max(counts.sum(), 1.0))
        first = np.full(n_items, np.nan)
        last = np.full(n_items, np.nan)
        if len(items):
            order = np.argsort(ts, kind="stable")
            first_ts = pd.Series(ts[order]).groupby(items[order]).agg(["min", "max"])
            scale = _DAY_MS if timed else 1
            first[first_ts.index] = (now - first_ts["min"].to_numpy()) / scale
            last[first_ts.index] = (now - first_ts["max"].to_numpy()) / scale
        category, brand, log_price = _catalog_columns(catalog, data.item_ids)
        if embeddings is not None and embeddings.shape[0] != n_items:
            raise ValueError(f"embeddings have {embeddings.shape[0]} rows for {n_items} items")
        return cls(
            request_time=now,
            timed=timed,
            popularity=np.stack(columns, axis=1).astype(np.float32),
            first_seen_days=first.astype(np.float32),
            last_seen_days=last.astype(np.float32),
            category=category,
            brand=brand,
            log_price=log_price,
            embeddings=None if embeddings is None else _unit(embeddings),
        )

    def save(self, path: Path) -> None:
        """Write the arrays to ``path`` (an ``.npz``; no pickled objects)."""
        arrays: dict[str, Any] = {
            f.name: np.asarray(getattr(self, f.name))
            for f in fields(self)
            if getattr(self, f.name) is not None
        }
        np.savez(path, **arrays)

    @classmethod
    def load(cls, path: Path) -> ItemContext:
        """Read a context written by :meth:`save`."""
        with reading(path), np.load(path, allow_pickle=False) as stored:
            values = {name: stored[name] for name in stored.files}
        missing = {f.name for f in fields(cls)} - set(values) - {"embeddings"}
        if missing:
            raise ArtifactError(f"{path}: missing arrays {sorted(missing)}")
        values["request_time"] = int(values["request_time"])
        values["timed"] = bool(values["timed"])
        return cls(**values)


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def _catalog_columns(
    catalog: Catalog | None, item_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Category and brand codes (``-1`` unknown) and ``log1p(price)`` (``NaN``) per item."""
    n = len(item_ids)
    if catalog is None:
        return np.full(n, -1, np.int64), np.full(n, -1, np.int64), np.full(n, np.nan, np.float32)
    frame = catalog.frame.drop_duplicates("item_id").set_index("item_id").reindex(item_ids)
    codes = []
    for column in ("category", "brand"):
        values = frame[column].fillna("").astype(str) if column in frame else pd.Series([""] * n)
        code, _ = pd.factorize(values.where(values != "", None), use_na_sentinel=True)
        codes.append(code.astype(np.int64))
    price = pd.to_numeric(frame["price"], errors="coerce") if "price" in frame else None
    log_price = (
        np.full(n, np.nan) if price is None else np.log1p(price.clip(lower=0).to_numpy(float))
    )
    return codes[0], codes[1], log_price.astype(np.float32)


def earlier_period(
    interactions: Interactions, validation: Interactions
) -> tuple[Interactions, Interactions]:
    """``interactions`` cut into the events before a period and the period's events: the
    period as long as ``validation`` and just before it when ``validation`` follows
    ``interactions`` in time (a temporal split), else each user's last event (as leave-one-out
    does: order-only events, or validation events interleaved with the training events).

    Raises
    ------
    ValidationError
        When no earlier period with events before it exists.
    """
    ts = interactions.frame["timestamp"].to_numpy()
    valid_ts = validation.frame["timestamp"].to_numpy()
    after = bool(len(valid_ts) and len(ts) and valid_ts.min() >= ts.max())
    if not interactions.has_timestamps or not after:
        split = leave_one_out(interactions)
        if not len(split.test):
            raise ValidationError("no user has three events for an earlier training period")
        return split.train.concat(split.valid), split.test
    end = int(valid_ts.min()) if len(valid_ts) else int(ts.max()) + 1
    span = max(int(valid_ts.max()) - end if len(valid_ts) else 0, _DAY_MS)
    before = ts < end - span
    if not before.any() or before.all():
        raise ValidationError("too little history for an earlier training period")
    return interactions.select(before), interactions.select(~before)
