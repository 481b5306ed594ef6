"""The EventStore contract: durable, idempotent event appends, user histories and the catalog."""

from __future__ import annotations

import hashlib
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import pandas as pd

from shoprec.data import Catalog, Event, Interactions, Item
from shoprec.exceptions import ValidationError
from shoprec.store._online import OnlineRecords
from shoprec.store._quarantine import ABUSE_FLAG
from shoprec.store._records import (
    EventRow,
    ItemRow,
    _catalog,
    _event,
    _event_frame,
    _event_rows,
    _ids,
    _item,
    _item_rows,
    _limit,
    _stamped,
    _text,
)

__all__ = ["DELETED_USERS", "REMOVED_ITEMS", "AppendResult", "EventStore", "user_digest"]

DELETED_USERS = "deleted_user"
"""Document kind of the deletion list (one document per deleted user, keyed by digest)."""
REMOVED_ITEMS = "removed_item"
"""Document kind of the removed items (one per item id, until the item is upserted again)."""


def user_digest(user_id: str) -> str:
    """SHA-256 of a user id: how the deletion list names users without holding their ids."""
    return hashlib.sha256(user_id.encode("utf-8")).hexdigest()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What one :meth:`EventStore.append` did, one entry per event given, in input order.

    Attributes
    ----------
    sequences
        Each event's sequence number: newly assigned when it was stored, the stored original's
        when it was a duplicate.
    duplicate
        Whether each event was a duplicate (its client event id was already stored, before this
        call or earlier in the same batch) and so was not stored again.
    """

    sequences: tuple[int, ...]
    duplicate: tuple[bool, ...]

    @property
    def stored(self) -> int:
        """Number of events newly stored by the call."""
        return self.duplicate.count(False)

    @property
    def duplicates(self) -> int:
        """Number of events recognised as duplicates and not stored again."""
        return self.duplicate.count(True)


class EventStore(OnlineRecords, ABC):
    """Durable store of customer events, user profile documents and the item catalog.

    Contract
    --------
    - Durability: a call that returns has committed. An event is acknowledged when
      :meth:`append` returns, and survives the process being killed right after (the SQL
      backends commit one transaction per call and sync it to disk).
    - Atomicity: :meth:`append` validates the whole batch first; a batch holding an invalid event
      raises :class:`~shoprec.exceptions.ValidationError` naming the 1-based row and the field,
      and stores nothing.
    - Idempotency: an event may carry a client event id, a key of its user (two users may use
      the same id). An event whose user's key is already stored, or repeated earlier in the same
      batch, with the same fields is not stored again; the call reports it as a duplicate with
      the original's sequence number, so a retried batch returns the same sequences. The same
      key with other fields raises :class:`~shoprec.exceptions.IdempotencyConflictError` and
      stores nothing. Keys of a deleted user's events are forgotten with the events.
    - Sequence numbers: every stored event gets an integer sequence, increasing in commit order
      and never reused (not even after deletions), so ``events_since(last_seen)`` tails the store.
    - Ordering: a user's history is in ``(timestamp, sequence)`` order; ``limit`` keeps the most
      recent events and still returns them oldest first.
    - Batch-first: :meth:`append`, :meth:`histories`, :meth:`upsert_items`, :meth:`get_items` take
      many records; :meth:`history` is the one-user wrapper (a test checks batch == single).
    - Deletion: after :meth:`delete_user` the user is unknown: no events, no profile document.
      A deleted item disappears from :meth:`catalog`; events that mention it are kept.
    - Threads: every method may be called concurrently from several threads.
    - Online records: impressions, event contexts and documents (experiments, the model
      registry) follow :class:`~shoprec.store._online.OnlineRecords`; deleting a user removes
      their impressions too.

    Subclasses implement the ``_``-prefixed hooks, which receive validated rows (see
    :mod:`shoprec.store._records` for the row layouts) and :meth:`close`.
    """

    # -- events -----------------------------------------------------------------------------------
    def append(
        self,
        events: Sequence[Event],
        *,
        client_event_ids: Sequence[str | None] | None = None,
        stamped: Sequence[bool] | None = None,
    ) -> AppendResult:
        """Store ``events`` in one transaction.

        Parameters
        ----------
        events
            The events, in the order their sequence numbers are assigned.
        client_event_ids
            Optional idempotency keys, one per event (``None`` where an event has none); a key
            belongs to the event's user.
        stamped
            One flag per event: its timestamp was set by the caller on arrival, not by the
            client, so a retry of it may carry another and still be a duplicate.

        Returns
        -------
        AppendResult
            The sequence number of each event and which ones were duplicates.

        Raises
        ------
        ValidationError
            For an invalid event (nothing stored).
        IdempotencyConflictError
            When a key of the user is reused for an event with other fields (nothing stored).
        """
        rows, ids = _event_rows(events, client_event_ids)
        if not rows:
            return AppendResult((), ())
        result = self._append(rows, ids, _stamped(stamped, len(rows)))
        logger.debug("stored %d events, %d duplicates", result.stored, result.duplicates)
        return result

    def histories(
        self, user_ids: Iterable[str], *, limit: int | None = None, platform: str | None = None
    ) -> dict[str, list[Event]]:
        """Each user's events in ``(timestamp, sequence)`` order.

        Parameters
        ----------
        user_ids
            The users; each appears once in the result, unknown users with an empty list.
        limit
            Keep only each user's ``limit`` most recent events (still oldest first).
        platform
            Keep only events from this platform.
        """
        users = _ids(user_ids, "user_id")
        n = _limit(limit)
        if platform is not None:
            platform = _text(platform, None, "platform")
        if n == 0:
            return {user: [] for user in users}
        rows = self._histories(users, n, platform)
        return {user: [_event(row) for row in rows.get(user, ())] for user in users}

    def history(
        self, user_id: str, *, limit: int | None = None, platform: str | None = None
    ) -> list[Event]:
        """One user's events; see :meth:`histories`."""
        user = _text(user_id, None, "user_id")
        return self.histories([user], limit=limit, platform=platform)[user]

    def events_since(self, sequence: int, *, limit: int = 1000) -> list[tuple[int, Event]]:
        """Up to ``limit`` stored events with a sequence above ``sequence``, as ``(seq, event)``.

        Pass the last sequence seen to tail the store; ``0`` starts from the beginning.
        """
        start = _limit(sequence, "sequence")
        n = _limit(limit)
        if start is None or not n:
            return []
        return [(int(row[0]), _event(row[1:])) for row in self._rows_since(start, n)]

    def iter_events(self, *, batch_size: int = 10_000) -> Iterator[tuple[int, Event]]:
        """Every stored event as ``(seq, event)`` in sequence order, ``batch_size`` per read."""
        for rows in self._pages(batch_size):
            yield from ((int(row[0]), _event(row[1:])) for row in rows)

    def to_interactions(self, *, platform: str | None = None) -> Interactions:
        """All stored events (of ``platform`` only, if given) as :class:`Interactions`."""
        pages = [_event_frame([row[1:] for row in rows]) for rows in self._pages(50_000)]
        frame = pd.concat(pages, ignore_index=True) if pages else _event_frame([])
        if platform is not None:
            frame = frame[frame["platform"] == _text(platform, None, "platform")]
        return Interactions(frame)

    def _pages(self, batch_size: int) -> Iterator[list[tuple[Any, ...]]]:
        size = _limit(batch_size, "batch_size")
        if not size:
            raise ValidationError("batch_size must be positive", field="batch_size")
        last = 0
        while rows := self._rows_since(last, size):
            yield rows
            last = int(rows[-1][0])

    def last_sequence(self) -> int:
        """The highest sequence number ever assigned; ``0`` for a store that never had events."""
        return self._last_sequence()

    def count_events(self) -> int:
        """Number of stored events."""
        return self._count_events()

    def known_users(self) -> list[str]:
        """Users with at least one stored event, sorted."""
        return self._known_users()

    def delete_user(self, user_id: str) -> int:
        """Remove every event and the profile document of ``user_id``; returns events removed."""
        user = _text(user_id, None, "user_id", required=True)
        self._forget_user_online(user)  # first: it finds the event contexts by the user's events
        removed = self._delete_user(user)
        self._delete_document(ABUSE_FLAG, user)  # a quarantine record names the user
        # the deletion list, by digest: trained artifacts and the next training drop the user
        self.put_document(DELETED_USERS, user_digest(user), {"deleted_at": _now_ms()})
        self._purge()
        logger.info("deleted a user and %d events", removed)  # no user ids in logs
        return removed

    def deleted_users(self) -> frozenset[str]:
        """The deletion list: :func:`user_digest` of every user deleted from this store."""
        return frozenset(key for key, _ in self._documents(DELETED_USERS))

    def _purge(self) -> None:
        """Make deleted rows unrecoverable from the files (after :meth:`delete_user`)."""

    # -- profiles ---------------------------------------------------------------------------------
    def save_profiles(self, profiles: Mapping[str, str]) -> None:
        """Store one opaque text document (e.g. a portrait's JSON) per user, replacing any older."""
        if not isinstance(profiles, Mapping):
            raise ValidationError("profiles must map user ids to documents", field="profiles")
        rows = [
            (_text(user, i + 1, "user_id", required=True), _text(doc, i + 1, "profile"))
            for i, (user, doc) in enumerate(profiles.items())
        ]
        if rows:
            self._save_profiles(rows)

    def load_profiles(self, user_ids: Iterable[str]) -> dict[str, str]:
        """The stored documents of those ``user_ids`` that have one."""
        users = _ids(user_ids, "user_id")
        return self._load_profiles(users) if users else {}

    # -- catalog ----------------------------------------------------------------------------------
    def upsert_items(self, items: Iterable[Item]) -> int:
        """Insert or replace items by ``item_id`` (a later entry wins); returns items written.
        A removed item that comes back is no longer in :meth:`removed_items`."""
        rows = _item_rows(items)
        if rows:
            self._upsert_items(rows)
            removed = self.removed_items()
            for row in rows:
                if row[0] in removed:
                    self._delete_document(REMOVED_ITEMS, row[0])
        return len(rows)

    def delete_items(self, item_ids: Iterable[str]) -> int:
        """Remove items from the catalog and record them in :meth:`removed_items` (a served
        pipeline that still holds them stops recommending them); returns how many existed in
        the catalog. Their events are kept."""
        ids = _ids(item_ids, "item_id")
        if not ids:
            return 0
        existed = self._delete_items(ids)
        for item_id in ids:
            self.put_document(REMOVED_ITEMS, item_id, {"removed_at": _now_ms()})
        return existed

    def removed_items(self) -> frozenset[str]:
        """Items deleted through :meth:`delete_items` and not upserted since."""
        return frozenset(key for key, _ in self._documents(REMOVED_ITEMS))

    def get_items(self, item_ids: Iterable[str]) -> dict[str, Item]:
        """The stored items among ``item_ids`` by id; unknown ids are left out."""
        ids = _ids(item_ids, "item_id")
        rows = self._get_items(ids) if ids else []
        return {row[0]: _item(row) for row in rows}

    def catalog(self) -> Catalog:
        """Every stored item as a :class:`Catalog`, in item id order."""
        return _catalog(self._item_table())

    # -- lifecycle --------------------------------------------------------------------------------
    @abstractmethod
    def close(self) -> None:
        """Release connections; calling it again does nothing."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- backend hooks: validated input, rows out -------------------------------------------------
    @abstractmethod
    def _append(
        self, rows: list[EventRow], client_ids: list[str | None], stamped: list[bool]
    ) -> AppendResult:
        """Store the non-duplicate rows atomically and durably (``rows`` is non-empty), deciding
        duplicates and conflicts with :func:`~shoprec.store._records._resolve`."""

    @abstractmethod
    def _histories(
        self, user_ids: list[str], limit: int | None, platform: str | None
    ) -> dict[str, list[tuple[Any, ...]]]:
        """Event rows per user, oldest first (users without events may be left out)."""

    @abstractmethod
    def _rows_since(self, sequence: int, limit: int) -> list[tuple[Any, ...]]:
        """At most ``limit`` rows ``(seq, *event_row)`` with ``seq > sequence``, by sequence."""

    @abstractmethod
    def _last_sequence(self) -> int: ...

    @abstractmethod
    def _count_events(self) -> int: ...

    @abstractmethod
    def _known_users(self) -> list[str]: ...

    @abstractmethod
    def _delete_user(self, user_id: str) -> int: ...

    @abstractmethod
    def _save_profiles(self, rows: list[tuple[str, str]]) -> None: ...

    @abstractmethod
    def _load_profiles(self, user_ids: list[str]) -> dict[str, str]: ...

    @abstractmethod
    def _upsert_items(self, rows: list[ItemRow]) -> None: ...

    @abstractmethod
    def _delete_items(self, item_ids: list[str]) -> int: ...

    @abstractmethod
    def _get_items(self, item_ids: list[str]) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def _item_table(self) -> list[tuple[Any, ...]]:
        """Every item row, in item id order."""
