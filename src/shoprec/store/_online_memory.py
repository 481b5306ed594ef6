"""The online records (:mod:`shoprec.store._online`) in memory, for :class:`MemoryStore`."""

from __future__ import annotations

import threading
from typing import Any

from shoprec.store._online import ContextRow, ImpressionRow

__all__: list[str] = []


class _OnlineMemory:
    """Mixin of :class:`~shoprec.store._memory.MemoryStore`; shares its lock and events."""

    _lock: threading.RLock
    _events: dict[int, Any]

    def _online(self) -> dict[str, Any]:
        state: dict[str, Any] | None = getattr(self, "_online_state", None)
        if state is None:
            state = {"impressions": {}, "contexts": {}, "documents": {}}
            self._online_state = state
        return state

    def _append_impressions(self, rows: list[ImpressionRow]) -> int:
        with self._lock:
            table = self._online()["impressions"]
            fresh = [row for row in rows if (row[0], row[1]) not in table]
            table.update(((row[0], row[1]), row) for row in fresh)
            return len(fresh)

    def _impression_table(self, since: int | None, until: int | None) -> list[tuple[Any, ...]]:
        with self._lock:
            rows = [
                row
                for row in self._online()["impressions"].values()
                if _within(row[7], since, until)
            ]
        return sorted(rows, key=lambda row: (row[7], row[0], row[1]))

    def _append_contexts(self, rows: list[ContextRow]) -> None:
        with self._lock:
            self._online()["contexts"].update((row[0], row) for row in rows)

    def _context_table(self, since_sequence: int) -> list[tuple[Any, ...]]:
        with self._lock:
            rows = [row for seq, row in self._online()["contexts"].items() if seq > since_sequence]
        return sorted(rows)

    def _events_between(self, since: int | None, until: int | None) -> list[tuple[Any, ...]]:
        with self._lock:
            rows = [
                (seq, *row) for seq, row in self._events.items() if _within(row[3], since, until)
            ]
        return sorted(rows, key=lambda row: (row[4], row[0]))

    def _put_document(self, kind: str, key: str, text: str) -> None:
        with self._lock:
            self._online()["documents"][(kind, key)] = text

    def _documents(self, kind: str) -> list[tuple[str, str]]:
        with self._lock:
            docs = self._online()["documents"]
            return sorted((key, text) for (k, key), text in docs.items() if k == kind)

    def _delete_document(self, kind: str, key: str) -> bool:
        with self._lock:
            return self._online()["documents"].pop((kind, key), None) is not None

    def _forget_user_online(self, user_id: str) -> None:
        with self._lock:
            state = self._online()
            state["impressions"] = {
                key: row for key, row in state["impressions"].items() if row[2] != user_id
            }
            mine = {seq for seq, row in self._events.items() if row[0] == user_id}
            state["contexts"] = {s: r for s, r in state["contexts"].items() if s not in mine}


def _within(ts: int, since: int | None, until: int | None) -> bool:
    return (since is None or ts >= since) and (until is None or ts < until)
