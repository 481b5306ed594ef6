"""The store as the source of truth: bulk import of a shop's history, and datasets read back.

:func:`import_events` loads a dataset's catalog and events into a store in large transactions.
Every event gets a content key as its client event id (a hash of its fields and of how many
identical events came before it in the input), so importing the same history again, or a longer
export of it, stores each event once. :func:`dataset_from_store` turns what a store holds (since
a time, if given) back into a :class:`~shoprec.data.Dataset` for training and evaluation.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from shoprec.data import (
    EVENT_COLUMNS,
    Catalog,
    Dataset,
    Event,
    EventType,
    Interactions,
    Item,
    auto_split,
)
from shoprec.datasets import minimal_catalog
from shoprec.exceptions import ValidationError
from shoprec.store._base import EventStore
from shoprec.store._quarantine import quarantined_users
from shoprec.store._records import EventRow, _event_rows

__all__ = [
    "IMPORT_KEY_PREFIX",
    "ImportResult",
    "dataset_from_store",
    "import_events",
    "import_keys",
]

logger = logging.getLogger(__name__)

IMPORT_KEY_PREFIX = "import:"
"""Client event ids of imported events start with this."""
_YEAR_2000_MS = 946_684_800_000
_DEFAULT_BATCH = 10_000  # events per transaction: one fsync per batch, ~60k events/s on SQLite


@dataclass(frozen=True)
class ImportResult:
    """What :func:`import_events` did.

    Attributes
    ----------
    events
        Events read from the input.
    stored
        Events newly stored.
    duplicates
        Events already in the store (an earlier import of the same history).
    items
        Catalog items written (inserted or replaced).
    seconds
        Wall time of the import.
    """

    events: int
    stored: int
    duplicates: int
    items: int
    seconds: float

    @property
    def events_per_s(self) -> float:
        """Input events handled per second."""
        return self.events / self.seconds if self.seconds > 0 else float("inf")

    def summary(self) -> str:
        """One line for people."""
        return (
            f"{self.events:,} events ({self.stored:,} stored, {self.duplicates:,} already there), "
            f"{self.items:,} items in {self.seconds:.1f} s ({self.events_per_s:,.0f} events/s)"
        )


def import_keys(frame: pd.DataFrame) -> list[str]:
    """The content key of each event row of an :class:`~shoprec.data.Interactions` frame.

    The key is a 128-bit hash of every event field (two seeded 64-bit hashes of the row) plus
    the number of identical rows before it, so two equal purchases in one export stay two
    events while a re-import matches each to its original.
    """
    columns = frame[list(EVENT_COLUMNS)]
    low = pd.util.hash_pandas_object(columns, index=False, hash_key="shoprec-import-a")
    high = pd.util.hash_pandas_object(columns, index=False, hash_key="shoprec-import-b")
    digests = [f"{a:016x}{b:016x}" for a, b in zip(low.to_numpy(), high.to_numpy(), strict=True)]
    seen = pd.Series(digests).groupby(digests, sort=False).cumcount().to_numpy()
    return [
        f"{IMPORT_KEY_PREFIX}{d}" if n == 0 else f"{IMPORT_KEY_PREFIX}{d}#{n}"
        for d, n in zip(digests, seen, strict=True)
    ]


_TYPES = frozenset(t.value for t in EventType)
_TEXT = ("user_id", "item_id", "event_type", "platform", "review", "query")


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0]) + 1


def _frame_rows(frame: pd.DataFrame, offset: int) -> list[EventRow]:
    """The store rows of a chunk of an events frame, checked column by column as
    :meth:`EventStore.append` checks each event (row numbers count from ``offset + 1``)."""
    for field in _TEXT:
        values = frame[field]
        if not all(type(v) is str for v in values):
            bad = np.array([type(v) is not str for v in values])
            raise ValidationError(f"{field} must be text", row=offset + _first(bad), field=field)
        nul = values.str.contains("\x00", regex=False).to_numpy()
        if nul.any():
            raise ValidationError(f"{field} contains a NUL character",
                                  row=offset + _first(nul), field=field)  # fmt: skip
        try:
            "".join(values).encode("utf-8")
        except UnicodeEncodeError:
            _event_rows(list(_events(frame)), None)  # names the row
    kinds = frame["event_type"]
    checks = (
        (frame["user_id"].to_numpy() == "", "user_id", "missing user_id"),
        (~kinds.isin(_TYPES).to_numpy(), "event_type", "unknown event type"),
        ((frame["item_id"].to_numpy() == "") & (kinds.to_numpy() != EventType.SEARCH.value),
         "item_id", "missing item_id"),
        (frame["platform"].to_numpy() == "", "platform", "missing platform"),
        (~(frame["rating"].isna() | frame["rating"].between(0.0, 5.0)).to_numpy(), "rating",
         "rating outside 0-5"),
        (frame["quantity"].to_numpy() <= 0, "quantity", "non-positive quantity"),
    )  # fmt: skip
    for bad, field, message in checks:
        if bad.any():
            raise ValidationError(message, row=offset + _first(bad), field=field)
    rating = frame["rating"].astype(object).where(frame["rating"].notna(), None)
    return list(
        zip(
            frame["user_id"], frame["item_id"], kinds, frame["timestamp"].astype(int).tolist(),
            frame["platform"], rating, frame["review"], frame["query"],
            frame["quantity"].astype(int).tolist(), strict=True,
        )
    )  # fmt: skip


def _events(frame: pd.DataFrame) -> Iterator[Event]:
    rows = frame[list(EVENT_COLUMNS)].itertuples(index=False, name=None)
    for user, item, kind, ts, platform, rating, review, query, quantity in rows:
        yield Event(user, item, kind, int(ts), platform, None if rating != rating else rating,
                    review, query, int(quantity))  # fmt: skip


def import_events(
    store: EventStore,
    interactions: Interactions,
    catalog: Catalog | None = None,
    *,
    batch_size: int = _DEFAULT_BATCH,
    progress: bool = False,
) -> ImportResult:
    """Load a shop's history into ``store``: catalog first, then events in batches.

    Parameters
    ----------
    store
        The destination.
    interactions
        The events, in time order (as readers and datasets produce them).
    catalog
        Items to insert or replace (``None``: leave the store's catalog as it is).
    batch_size
        Events per transaction. A failure (a bad event) stops the import; batches committed
        before it stay, and running the import again completes it without duplicates.
    progress
        Show a progress bar.

    Returns
    -------
    ImportResult
        Counts and the rate.
    """
    if batch_size < 1:
        raise ValidationError(f"batch_size must be positive, got {batch_size}", field="batch_size")
    start = time.perf_counter()
    items = store.upsert_items(_catalog_items(catalog)) if catalog is not None else 0
    frame = interactions.frame
    keys = import_keys(frame)  # over the whole input: equal events in two batches stay two
    stored = duplicates = 0
    bar = tqdm(total=len(frame), desc="import", unit="ev", unit_scale=True, disable=not progress)
    with bar:
        for begin in range(0, len(frame), batch_size):
            chunk = frame.iloc[begin : begin + batch_size]
            # The frame was validated when the Interactions were made; the columns are checked
            # again here as a whole, then go to the backend hook without an Event per row
            # (which took two thirds of the import time).
            rows = _frame_rows(chunk, begin)
            ids: list[str | None] = list(keys[begin : begin + batch_size])
            appended = store._append(rows, ids, [False] * len(rows))
            stored += appended.stored
            duplicates += appended.duplicates
            bar.update(len(chunk))
    result = ImportResult(len(frame), stored, duplicates, items, time.perf_counter() - start)
    logger.info("imported %s", result.summary())
    return result


def _catalog_items(catalog: Catalog) -> list[Item]:
    return [catalog.item(item_id) for item_id in catalog.item_ids]


def dataset_from_store(
    store: EventStore,
    *,
    since: int | None = None,
    name: str = "store",
    include_quarantined: bool = False,
) -> Dataset:
    """What ``store`` holds as a :class:`~shoprec.data.Dataset`, split by the standard protocol.

    Parameters
    ----------
    store
        The source.
    since
        Keep only events at or after this time (ms since the epoch).
    name
        The dataset's name in reports.
    include_quarantined
        Keep the events of accounts quarantined by abuse detection (by default they are left
        out, see :mod:`shoprec.store._quarantine`).

    Raises
    ------
    ValidationError
        When no events are left to train on.
    """
    interactions = store.to_interactions()
    frame = interactions.frame
    if since is not None:
        frame = frame[frame["timestamp"].to_numpy() >= since]
    held = set() if include_quarantined else quarantined_users(store)
    if held:
        frame = frame[~frame["user_id"].isin(held).to_numpy()]
        logger.info("left out the events of %d quarantined account(s)", len(held))
    frame = frame.sort_values("timestamp", kind="stable").reset_index(drop=True)
    if frame.empty:
        where = "" if since is None else f" since {since}"
        raise ValidationError(f"the store holds no events{where} to build a dataset from")
    # Order-only histories (positions, not times) were imported as small integers.
    real_time = bool(frame["timestamp"].min() >= _YEAR_2000_MS)
    events = Interactions(frame, has_timestamps=real_time)
    catalog = store.catalog()
    if len(catalog) == 0:
        catalog = minimal_catalog(events)
    return Dataset(
        name=name,
        catalog=catalog,
        split=auto_split(events),
        description=f"{len(frame):,} events from the store"
        + ("" if since is None else f" since {since} ms"),
    )
