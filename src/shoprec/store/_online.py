"""What the online loop keeps beside the events: impressions, event context, and documents.

- An :class:`Impression` is one served recommendation list: request id, user, pipeline version,
  experiment and variant, time, and the items in their positions. It is stored as one row per
  shown item (``request_id, position`` is its key, so a retried write stores nothing twice).
- An :class:`EventContext` ties a stored event (by sequence) to the list it came from
  (``request_id``, ``position``) and carries its dwell time when the client reported one.
- Documents are small JSON records by kind and key: experiments and the model registry.

:class:`OnlineRecords` is the part of the :class:`~shoprec.store.EventStore` contract for them;
backends implement its ``_``-prefixed hooks.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from shoprec.exceptions import ValidationError
from shoprec.store._records import _event_frame, _integer, _text

__all__ = [
    "CONTEXT_COLUMNS",
    "IMPRESSION_COLUMNS",
    "EventContext",
    "Impression",
    "OnlineRecords",
]

IMPRESSION_COLUMNS = (
    "request_id",
    "position",
    "user_id",
    "item_id",
    "version",
    "experiment",
    "variant",
    "timestamp",
)
"""Columns of :meth:`OnlineRecords.impression_frame`; ``position`` is 0-based."""
CONTEXT_COLUMNS = ("sequence", "request_id", "position", "dwell_ms")
"""Columns of :meth:`OnlineRecords.context_frame` (missing values are ``None`` / ``-1``)."""
_MAX_ITEMS = 1000
ImpressionRow = tuple[str, int, str, str, str, str, str, int]
ContextRow = tuple[int, str, int, int]


@dataclass(frozen=True)
class Impression:
    """One recommendation list as it was served.

    Attributes
    ----------
    request_id
        The id the response carried; events quote it to be attributed to this list.
    user_id
        Who was served (``""`` for an anonymous visitor, whose list is not attributable).
    items
        The item ids in the order shown; position ``i`` is ``items[i]``.
    timestamp
        When it was served, ms since the epoch.
    version
        The pipeline version that computed it.
    experiment, variant
        The experiment and variant the user was assigned to (``""`` outside experiments).
    """

    request_id: str
    user_id: str
    items: tuple[str, ...]
    timestamp: int
    version: str
    experiment: str = ""
    variant: str = ""


@dataclass(frozen=True)
class EventContext:
    """Where a stored event came from and how long its view lasted.

    Attributes
    ----------
    sequence
        The event's store sequence number.
    request_id
        The recommendation response it answers (``""``: not given).
    position
        The 0-based position of its item in that list (``-1``: not given).
    dwell_ms
        How long the customer stayed on the item, as the client measured it when the view
        ended (``-1``: not reported).
    """

    sequence: int
    request_id: str = ""
    position: int = -1
    dwell_ms: int = -1


def _impression_rows(impressions: Sequence[Impression]) -> list[ImpressionRow]:
    rows: list[ImpressionRow] = []
    for i, imp in enumerate(impressions):
        if not isinstance(imp, Impression):
            raise ValidationError(f"expected an Impression, got {type(imp).__name__}", row=i + 1)
        request = _text(imp.request_id, i + 1, "request_id", required=True)
        user = _text(imp.user_id, i + 1, "user_id")
        ts = _integer(imp.timestamp, i + 1, "timestamp")
        meta = [_text(v, i + 1, f) for v, f in ((imp.version, "version"),
                (imp.experiment, "experiment"), (imp.variant, "variant"))]  # fmt: skip
        if len(imp.items) > _MAX_ITEMS:
            raise ValidationError(f"more than {_MAX_ITEMS} items", row=i + 1, field="items")
        for position, item in enumerate(imp.items):
            item_id = _text(item, i + 1, "items", required=True)
            rows.append((request, position, user, item_id, meta[0], meta[1], meta[2], ts))
    return rows


def _context_rows(contexts: Sequence[EventContext]) -> list[ContextRow]:
    rows: list[ContextRow] = []
    for i, ctx in enumerate(contexts):
        if not isinstance(ctx, EventContext):
            raise ValidationError(f"expected an EventContext, got {type(ctx).__name__}", row=i + 1)
        rows.append(
            (
                _integer(ctx.sequence, i + 1, "sequence"),
                _text(ctx.request_id, i + 1, "request_id"),
                _integer(ctx.position, i + 1, "position"),
                _integer(ctx.dwell_ms, i + 1, "dwell_ms"),
            )
        )
    return rows


class OnlineRecords:
    """Impressions, event context and documents: the online half of the store contract.

    Same guarantees as the events: a call that returns has committed; writes are idempotent
    (impressions by ``(request_id, position)``, contexts by sequence, documents by kind and
    key, a later write replacing an earlier one); every method is thread-safe.
    """

    # -- impressions ------------------------------------------------------------------------------
    def append_impressions(self, impressions: Sequence[Impression]) -> int:
        """Store served lists in one transaction; returns the item rows newly stored."""
        rows = _impression_rows(impressions)
        return self._append_impressions(rows) if rows else 0

    def impression_frame(
        self, *, since: int | None = None, until: int | None = None
    ) -> pd.DataFrame:
        """Impression rows served in ``[since, until)`` (ms), columns :data:`IMPRESSION_COLUMNS`,
        ordered by time, request and position."""
        rows = self._impression_table(_bound(since, "since"), _bound(until, "until"))
        frame = pd.DataFrame(rows, columns=list(IMPRESSION_COLUMNS))
        return frame.astype({"position": "int64", "timestamp": "int64"})

    # -- event context ----------------------------------------------------------------------------
    def append_contexts(self, contexts: Sequence[EventContext]) -> int:
        """Store event contexts (a later one for the same sequence replaces it)."""
        rows = _context_rows(contexts)
        if rows:
            self._append_contexts(rows)
        return len(rows)

    def context_frame(self, *, since_sequence: int = 0) -> pd.DataFrame:
        """Contexts of events with a sequence above ``since_sequence``, :data:`CONTEXT_COLUMNS`."""
        rows = self._context_table(_integer(since_sequence, None, "since_sequence"))
        return pd.DataFrame(rows, columns=list(CONTEXT_COLUMNS)).astype(
            {"sequence": "int64", "position": "int64", "dwell_ms": "int64"}
        )

    def event_frame(self, *, since: int | None = None, until: int | None = None) -> pd.DataFrame:
        """Stored events with ``since <= timestamp < until`` and their ``sequence`` column,
        ordered by time then sequence."""

        rows = self._events_between(_bound(since, "since"), _bound(until, "until"))
        frame = _event_frame([row[1:] for row in rows])
        frame.insert(0, "sequence", pd.array([int(row[0]) for row in rows], dtype="int64"))
        return frame

    # -- documents --------------------------------------------------------------------------------
    def put_document(self, kind: str, key: str, document: dict[str, Any]) -> None:
        """Insert or replace the JSON ``document`` under ``(kind, key)``."""
        kind = _text(kind, None, "kind", required=True)
        key = _text(key, None, "key", required=True)
        try:
            text = json.dumps(document, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise ValidationError(f"document is not JSON: {error}", field="document") from None
        self._put_document(kind, key, text)

    def documents(self, kind: str) -> dict[str, dict[str, Any]]:
        """Every document of ``kind`` by key."""
        kind = _text(kind, None, "kind", required=True)
        return {key: json.loads(text) for key, text in self._documents(kind)}

    def delete_document(self, kind: str, key: str) -> bool:
        """Remove one document; returns whether it existed."""
        return self._delete_document(_text(kind, None, "kind"), _text(key, None, "key"))

    # -- backend hooks ----------------------------------------------------------------------------
    @abstractmethod
    def _append_impressions(self, rows: list[ImpressionRow]) -> int: ...

    @abstractmethod
    def _impression_table(self, since: int | None, until: int | None) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def _append_contexts(self, rows: list[ContextRow]) -> None: ...

    @abstractmethod
    def _context_table(self, since_sequence: int) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def _events_between(self, since: int | None, until: int | None) -> list[tuple[Any, ...]]:
        """Rows ``(seq, *event_row)`` in the time range, by ``(ts, seq)``."""

    @abstractmethod
    def _put_document(self, kind: str, key: str, text: str) -> None: ...

    @abstractmethod
    def _documents(self, kind: str) -> list[tuple[str, str]]: ...

    @abstractmethod
    def _delete_document(self, kind: str, key: str) -> bool: ...

    @abstractmethod
    def _forget_user_online(self, user_id: str) -> None:
        """Remove the user's impressions (called by ``delete_user``)."""


def _bound(value: int | None, field: str) -> int | None:
    return None if value is None else _integer(value, None, field)
