"""The online records (:mod:`shoprec.store._online`) in SQL, for SQLite and PostgreSQL alike."""

from __future__ import annotations

from typing import Any

from shoprec.store._online import ContextRow, ImpressionRow

__all__: list[str] = []

_EVENT_FIELDS = "user_id, item_id, event_type, ts, platform, rating, review, query, quantity"
ONLINE_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS shoprec_impressions (
        request_id TEXT NOT NULL, position INTEGER NOT NULL, user_id TEXT NOT NULL,
        item_id TEXT NOT NULL, version TEXT NOT NULL, experiment TEXT NOT NULL,
        variant TEXT NOT NULL, ts BIGINT NOT NULL, PRIMARY KEY (request_id, position))""",
    "CREATE INDEX IF NOT EXISTS shoprec_impressions_ts ON shoprec_impressions (ts)",
    "CREATE INDEX IF NOT EXISTS shoprec_impressions_user ON shoprec_impressions (user_id, ts)",
    """CREATE TABLE IF NOT EXISTS shoprec_event_context (
        seq BIGINT PRIMARY KEY, request_id TEXT NOT NULL, position INTEGER NOT NULL,
        dwell_ms BIGINT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS shoprec_events_ts ON shoprec_events (ts, seq)",
    """CREATE TABLE IF NOT EXISTS shoprec_documents (
        kind TEXT NOT NULL, key TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (kind, key))""",
)


def _range(since: int | None, until: int | None) -> tuple[str, list[int]]:
    clauses, args = [], []
    if since is not None:
        clauses.append("ts >= ?")
        args.append(since)
    if until is not None:
        clauses.append("ts < ?")
        args.append(until)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


class _OnlineSQL:
    """Mixin of :class:`~shoprec.store._sql._SQLStore`: the online hooks in SQL."""

    _write: Any
    _read: Any
    _sql: Any

    def _append_impressions(self, rows: list[ImpressionRow]) -> int:
        with self._write() as cur:
            cur.executemany(
                self._sql(
                    "INSERT INTO shoprec_impressions (request_id, position, user_id, item_id, "
                    "version, experiment, variant, ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (request_id, position) DO NOTHING"
                ),
                rows,
            )
            return max(int(cur.rowcount), 0)  # both drivers sum executemany's row counts

    def _impression_table(self, since: int | None, until: int | None) -> list[tuple[Any, ...]]:
        where, args = _range(since, until)
        with self._read() as cur:
            cur.execute(
                self._sql(
                    "SELECT request_id, position, user_id, item_id, version, experiment, variant, "
                    f"ts FROM shoprec_impressions{where} ORDER BY ts, request_id, position"
                ),
                args,
            )
            return [tuple(row) for row in cur.fetchall()]

    def _append_contexts(self, rows: list[ContextRow]) -> None:
        with self._write() as cur:
            cur.executemany(
                self._sql(
                    "INSERT INTO shoprec_event_context (seq, request_id, position, dwell_ms) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (seq) DO UPDATE SET "
                    "request_id = excluded.request_id, position = excluded.position, "
                    "dwell_ms = excluded.dwell_ms"
                ),
                rows,
            )

    def _context_table(self, since_sequence: int) -> list[tuple[Any, ...]]:
        with self._read() as cur:
            cur.execute(
                self._sql(
                    "SELECT seq, request_id, position, dwell_ms FROM shoprec_event_context "
                    "WHERE seq > ? ORDER BY seq"
                ),
                (since_sequence,),
            )
            return [tuple(row) for row in cur.fetchall()]

    def _events_between(self, since: int | None, until: int | None) -> list[tuple[Any, ...]]:
        where, args = _range(since, until)
        with self._read() as cur:
            cur.execute(
                self._sql(
                    f"SELECT seq, {_EVENT_FIELDS} FROM shoprec_events{where} ORDER BY ts, seq"
                ),
                args,
            )
            return [tuple(row) for row in cur.fetchall()]

    def _put_document(self, kind: str, key: str, text: str) -> None:
        with self._write() as cur:
            cur.execute(
                self._sql(
                    "INSERT INTO shoprec_documents (kind, key, doc) VALUES (?, ?, ?) "
                    "ON CONFLICT (kind, key) DO UPDATE SET doc = excluded.doc"
                ),
                (kind, key, text),
            )

    def _documents(self, kind: str) -> list[tuple[str, str]]:
        with self._read() as cur:
            cur.execute(
                self._sql("SELECT key, doc FROM shoprec_documents WHERE kind = ? ORDER BY key"),
                (kind,),
            )
            return [(row[0], row[1]) for row in cur.fetchall()]

    def _delete_document(self, kind: str, key: str) -> bool:
        with self._write() as cur:
            cur.execute(
                self._sql("DELETE FROM shoprec_documents WHERE kind = ? AND key = ?"), (kind, key)
            )
            return bool(cur.rowcount)

    def _forget_user_online(self, user_id: str) -> None:
        with self._write() as cur:
            cur.execute(self._sql("DELETE FROM shoprec_impressions WHERE user_id = ?"), (user_id,))
            cur.execute(
                self._sql(
                    "DELETE FROM shoprec_event_context WHERE seq IN "
                    "(SELECT seq FROM shoprec_events WHERE user_id = ?)"
                ),
                (user_id,),
            )
