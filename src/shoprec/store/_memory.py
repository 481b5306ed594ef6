"""An in-process EventStore on plain dicts: the reference for tests and fakes, not durable."""

from __future__ import annotations

import bisect
import threading
from typing import Any

from shoprec.store._base import AppendResult, EventStore
from shoprec.store._online_memory import _OnlineMemory
from shoprec.store._records import EventRow, ItemRow, StoredKeys, _resolve

__all__ = ["MemoryStore"]


class MemoryStore(_OnlineMemory, EventStore):
    """Events, profiles and items in memory, behind one lock; everything is lost on exit.

    It follows the whole :class:`~shoprec.store._base.EventStore` contract except durability
    beyond the process, which makes it the fake to use in tests of code built on a store.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._events: dict[int, EventRow] = {}  # seq -> row, in increasing seq order
        self._seqs: list[int] = []  # the keys of _events, for bisecting in events_since
        self._by_user: dict[str, list[tuple[int, int]]] = {}  # user -> sorted (timestamp, seq)
        self._by_client_id: dict[tuple[str, str], int] = {}  # (user, client id) -> seq
        self._client_id_of: dict[int, tuple[str, str]] = {}
        self._profiles: dict[str, str] = {}
        self._items: dict[str, ItemRow] = {}
        self._next_seq = 1

    def __repr__(self) -> str:
        return f"MemoryStore({len(self._events)} events, {len(self._items)} items)"

    def close(self) -> None:
        """Nothing to release; the data stays readable."""

    def _append(
        self, rows: list[EventRow], client_ids: list[str | None], stamped: list[bool]
    ) -> AppendResult:
        with self._lock:
            keys = {(row[0], cid) for row, cid in zip(rows, client_ids, strict=True) if cid}
            stored: StoredKeys = {
                key: (seq, self._events[seq])
                for key in keys
                if (seq := self._by_client_id.get(key)) is not None
            }
            fresh, sequences, duplicate = _resolve(
                rows, client_ids, stamped, stored, self._next_seq
            )
            for seq, row, cid in fresh:
                self._events[seq] = row
                self._seqs.append(seq)
                bisect.insort(self._by_user.setdefault(row[0], []), (row[3], seq))
                if cid is not None:
                    self._by_client_id[(row[0], cid)] = seq
                    self._client_id_of[seq] = (row[0], cid)
            self._next_seq += len(fresh)
            return AppendResult(sequences, duplicate)

    def _histories(
        self, user_ids: list[str], limit: int | None, platform: str | None
    ) -> dict[str, list[tuple[Any, ...]]]:
        with self._lock:
            out: dict[str, list[tuple[Any, ...]]] = {}
            for user in user_ids:
                rows = [self._events[seq] for _, seq in self._by_user.get(user, ())]
                if platform is not None:
                    rows = [row for row in rows if row[4] == platform]
                out[user] = rows if limit is None else rows[len(rows) - limit :]
            return out

    def _rows_since(self, sequence: int, limit: int) -> list[tuple[Any, ...]]:
        with self._lock:
            start = bisect.bisect_right(self._seqs, sequence)
            return [(seq, *self._events[seq]) for seq in self._seqs[start : start + limit]]

    def _last_sequence(self) -> int:
        return self._next_seq - 1

    def _count_events(self) -> int:
        return len(self._events)

    def _known_users(self) -> list[str]:
        with self._lock:
            return sorted(self._by_user)

    def _delete_user(self, user_id: str) -> int:
        with self._lock:
            self._profiles.pop(user_id, None)
            gone = {seq for _, seq in self._by_user.pop(user_id, ())}
            for seq in gone:
                del self._events[seq]
                cid = self._client_id_of.pop(seq, None)
                if cid is not None:
                    del self._by_client_id[cid]
            if gone:
                self._seqs = [seq for seq in self._seqs if seq not in gone]
            return len(gone)

    def _save_profiles(self, rows: list[tuple[str, str]]) -> None:
        with self._lock:
            self._profiles.update(rows)

    def _load_profiles(self, user_ids: list[str]) -> dict[str, str]:
        with self._lock:
            return {user: self._profiles[user] for user in user_ids if user in self._profiles}

    def _upsert_items(self, rows: list[ItemRow]) -> None:
        with self._lock:
            self._items.update((row[0], row) for row in rows)

    def _delete_items(self, item_ids: list[str]) -> int:
        with self._lock:
            return sum(self._items.pop(item, None) is not None for item in item_ids)

    def _get_items(self, item_ids: list[str]) -> list[tuple[Any, ...]]:
        with self._lock:
            return [self._items[item] for item in item_ids if item in self._items]

    def _item_table(self) -> list[tuple[Any, ...]]:
        with self._lock:
            return [self._items[item] for item in sorted(self._items)]
