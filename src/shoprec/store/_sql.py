"""The SQL side of the stores, written once for SQLite and PostgreSQL.

Both dialects run the same statements (``?`` placeholders are rewritten for psycopg) over one
schema: ``shoprec_events`` keyed by an explicit sequence number, ``shoprec_items``,
``shoprec_profiles`` and ``shoprec_meta`` holding the next sequence number. Appends read and
update that counter row inside their transaction, which serialises writers (SQLite's write lock;
PostgreSQL's row lock, taken with ``FOR UPDATE``), so sequences grow in commit order and a reader
tailing with ``seq > last_seen`` never skips an event that commits late.
"""

from __future__ import annotations

import logging
import threading
from abc import abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import Any

from shoprec.exceptions import ShoprecError, StoreUnavailableError
from shoprec.store._base import AppendResult, EventStore
from shoprec.store._online_sql import ONLINE_SCHEMA, _OnlineSQL
from shoprec.store._records import EventRow, ItemRow, StoredKeys, _resolve

__all__: list[str] = []

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 2  # 2: client event ids are keys per user (unique with the user id)
_CHUNK = 500  # ids per IN (...) list: well under every backend's parameter limit

_EVENT_FIELDS = "user_id, item_id, event_type, ts, platform, rating, review, query, quantity"
_ITEM_FIELDS = "item_id, title, description, brand, category, price, attributes, platform"
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS shoprec_events (
        seq {seq_type} PRIMARY KEY, user_id TEXT NOT NULL, item_id TEXT NOT NULL,
        event_type TEXT NOT NULL, ts BIGINT NOT NULL, platform TEXT NOT NULL,
        rating DOUBLE PRECISION, review TEXT NOT NULL, query TEXT NOT NULL,
        quantity BIGINT NOT NULL, client_event_id TEXT)""",
    "CREATE INDEX IF NOT EXISTS shoprec_events_user ON shoprec_events (user_id, ts, seq)",
    """CREATE UNIQUE INDEX IF NOT EXISTS shoprec_events_client
        ON shoprec_events (client_event_id, user_id)""",
    """CREATE TABLE IF NOT EXISTS shoprec_items (
        item_id TEXT PRIMARY KEY, title TEXT NOT NULL, description TEXT NOT NULL,
        brand TEXT NOT NULL, category TEXT NOT NULL, price DOUBLE PRECISION,
        attributes TEXT NOT NULL, platform TEXT NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS shoprec_profiles (user_id TEXT PRIMARY KEY, doc TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS shoprec_meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL)",
    f"""INSERT INTO shoprec_meta (key, value) VALUES ('next_seq', 1),
        ('schema_version', {SCHEMA_VERSION}) ON CONFLICT (key) DO NOTHING""",
)


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _marks(n: int) -> str:
    return ", ".join("?" * n)


class _Pool:
    """Connections handed to one thread at a time and kept for reuse.

    The pool grows to the peak number of concurrent callers (a service's thread pool) and never
    pins a connection to a thread, so threads that come and go leak nothing.
    """

    def __init__(self, connect: Callable[[], Any]) -> None:
        self._connect = connect
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[Any]:
        with self._lock:
            if self._closed:
                raise ShoprecError("the store is closed")
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self._connect()
        try:
            yield conn
        finally:
            with self._lock:
                keep = not self._closed and not getattr(conn, "closed", False)
                if keep:
                    self._idle.append(conn)
            if not keep:
                conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed, idle, self._idle = True, self._idle, []
        for conn in idle:
            conn.close()

    def discard_idle(self) -> None:
        """Close the idle connections: after one failed for want of a server, the others are
        likely dead too, and one failed request is better than one per pooled connection."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            with suppress(Exception):  # closing a dead connection may complain; it is gone
                conn.close()


class _SQLStore(_OnlineSQL, EventStore):
    """:class:`EventStore` hooks in SQL; subclasses supply connections and dialect details."""

    _seq_type = "BIGINT"
    _for_update = ""  # row lock clause of the counter read
    _collate = ""  # makes ORDER BY on text match Python's code point order

    @abstractmethod
    def _write(self) -> AbstractContextManager[Any]:
        """A cursor inside a write transaction, committed on exit (rolled back on error)."""

    @abstractmethod
    def _read(self) -> AbstractContextManager[Any]:
        """A cursor for reads outside any long transaction."""

    def _sql(self, text: str) -> str:
        """``text`` in the driver's placeholder style (written with ``?``)."""
        return text

    @abstractmethod
    def _migrate_global_client_ids(self, cur: Any) -> None:
        """Schema 1 -> 2: drop the store-wide uniqueness of ``client_event_id``."""

    def _unavailable(self, error: Exception) -> bool:
        """Whether ``error`` means the database cannot answer now (rather than a bug or bad
        input): the backends name their outage errors."""
        return False

    def _after_outage(self) -> None:
        """Called once per outage error (e.g. to drop pooled connections)."""

    @contextmanager
    def _guarded(self) -> Iterator[None]:
        """Raise outage errors of the driver as :class:`StoreUnavailableError` (HTTP 503)."""
        try:
            yield
        except Exception as error:
            if isinstance(error, StoreUnavailableError) or not self._unavailable(error):
                raise
            self._after_outage()
            logger.warning("event store unavailable: %s", type(error).__name__)
            raise StoreUnavailableError(
                f"the event store is unavailable ({type(error).__name__}); retry later"
            ) from error

    def _create_schema(self, cur: Any) -> None:
        for statement in (*_SCHEMA, *ONLINE_SCHEMA):
            cur.execute(statement.format(seq_type=self._seq_type))
        cur.execute("SELECT value FROM shoprec_meta WHERE key = 'schema_version'")
        version = cur.fetchone()[0]
        if version == 1:
            self._migrate_global_client_ids(cur)
            for statement in (*_SCHEMA, *ONLINE_SCHEMA):  # indexes dropped with the old table
                cur.execute(statement.format(seq_type=self._seq_type))
            cur.execute(
                self._sql("UPDATE shoprec_meta SET value = ? WHERE key = 'schema_version'"),
                (SCHEMA_VERSION,),
            )
            version = SCHEMA_VERSION
            logger.info("migrated the store to schema version %d", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise ShoprecError(
                f"store schema version {version} is not supported (expected {SCHEMA_VERSION})"
            )

    # -- events -----------------------------------------------------------------------------------
    def _append(
        self, rows: list[EventRow], client_ids: list[str | None], stamped: list[bool]
    ) -> AppendResult:
        with self._write() as cur:
            cur.execute(f"SELECT value FROM shoprec_meta WHERE key = 'next_seq'{self._for_update}")
            next_seq = int(cur.fetchone()[0])
            stored = self._stored_keys(cur, [c for c in client_ids if c is not None])
            fresh, sequences, duplicate = _resolve(rows, client_ids, stamped, stored, next_seq)
            if fresh:
                cur.executemany(
                    self._sql(
                        f"INSERT INTO shoprec_events (seq, {_EVENT_FIELDS}, client_event_id) "
                        f"VALUES ({_marks(11)})"
                    ),
                    [(seq, *row, cid) for seq, row, cid in fresh],
                )
                cur.execute(
                    self._sql("UPDATE shoprec_meta SET value = ? WHERE key = 'next_seq'"),
                    (next_seq + len(fresh),),
                )
        return AppendResult(sequences, duplicate)

    def _stored_keys(self, cur: Any, client_ids: list[str]) -> StoredKeys:
        """The stored events under these client ids, of any user (the unique index on
        ``(client_event_id, user_id)`` serves the lookup)."""
        stored: StoredKeys = {}
        for chunk in _chunks(list(dict.fromkeys(client_ids))):
            cur.execute(
                self._sql(
                    f"SELECT client_event_id, seq, {_EVENT_FIELDS} FROM shoprec_events "
                    f"WHERE client_event_id IN ({_marks(len(chunk))})"
                ),
                chunk,
            )
            for cid, seq, *row in cur.fetchall():
                stored[(row[0], cid)] = (int(seq), tuple(row))
        return stored

    def _histories(
        self, user_ids: list[str], limit: int | None, platform: str | None
    ) -> dict[str, list[tuple[Any, ...]]]:
        where = "user_id = ?" + ("" if platform is None else " AND platform = ?")
        query = self._sql(
            f"SELECT {_EVENT_FIELDS} FROM shoprec_events WHERE {where} "
            "ORDER BY ts DESC, seq DESC" + ("" if limit is None else f" LIMIT {int(limit)}")
        )
        out: dict[str, list[tuple[Any, ...]]] = {}
        with self._read() as cur:
            for user in user_ids:
                cur.execute(query, (user,) if platform is None else (user, platform))
                out[user] = [tuple(row) for row in reversed(cur.fetchall())]
        return out

    def _rows_since(self, sequence: int, limit: int) -> list[tuple[Any, ...]]:
        with self._read() as cur:
            cur.execute(
                self._sql(
                    f"SELECT seq, {_EVENT_FIELDS} FROM shoprec_events WHERE seq > ? "
                    "ORDER BY seq LIMIT ?"
                ),
                (sequence, limit),
            )
            return [tuple(row) for row in cur.fetchall()]

    def _scalar(self, query: str) -> Any:
        with self._read() as cur:
            cur.execute(query)
            return cur.fetchone()[0]

    def _last_sequence(self) -> int:
        return int(self._scalar("SELECT value FROM shoprec_meta WHERE key = 'next_seq'")) - 1

    def _count_events(self) -> int:
        return int(self._scalar("SELECT COUNT(*) FROM shoprec_events"))

    def _known_users(self) -> list[str]:
        with self._read() as cur:
            cur.execute(
                "SELECT user_id FROM shoprec_events GROUP BY user_id "
                f"ORDER BY user_id{self._collate}"
            )
            return [row[0] for row in cur.fetchall()]

    def _delete_user(self, user_id: str) -> int:
        with self._write() as cur:
            cur.execute(self._sql("DELETE FROM shoprec_events WHERE user_id = ?"), (user_id,))
            removed = int(cur.rowcount)
            cur.execute(self._sql("DELETE FROM shoprec_profiles WHERE user_id = ?"), (user_id,))
        return removed

    # -- profiles ---------------------------------------------------------------------------------
    def _save_profiles(self, rows: list[tuple[str, str]]) -> None:
        with self._write() as cur:
            cur.executemany(
                self._sql(
                    "INSERT INTO shoprec_profiles (user_id, doc) VALUES (?, ?) "
                    "ON CONFLICT (user_id) DO UPDATE SET doc = excluded.doc"
                ),
                rows,
            )

    def _load_profiles(self, user_ids: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        with self._read() as cur:
            for chunk in _chunks(user_ids):
                cur.execute(
                    self._sql(
                        "SELECT user_id, doc FROM shoprec_profiles "
                        f"WHERE user_id IN ({_marks(len(chunk))})"
                    ),
                    chunk,
                )
                out.update(cur.fetchall())
        return out

    # -- catalog ----------------------------------------------------------------------------------
    def _upsert_items(self, rows: list[ItemRow]) -> None:
        updates = ", ".join(f"{f} = excluded.{f}" for f in _ITEM_FIELDS.split(", ")[1:])
        with self._write() as cur:
            cur.executemany(
                self._sql(
                    f"INSERT INTO shoprec_items ({_ITEM_FIELDS}) VALUES ({_marks(8)}) "
                    f"ON CONFLICT (item_id) DO UPDATE SET {updates}"
                ),
                rows,
            )

    def _delete_items(self, item_ids: list[str]) -> int:
        removed = 0
        with self._write() as cur:
            for chunk in _chunks(item_ids):
                cur.execute(
                    self._sql(f"DELETE FROM shoprec_items WHERE item_id IN ({_marks(len(chunk))})"),
                    chunk,
                )
                removed += int(cur.rowcount)
        return removed

    def _get_items(self, item_ids: list[str]) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        with self._read() as cur:
            for chunk in _chunks(item_ids):
                cur.execute(
                    self._sql(
                        f"SELECT {_ITEM_FIELDS} FROM shoprec_items "
                        f"WHERE item_id IN ({_marks(len(chunk))})"
                    ),
                    chunk,
                )
                rows.extend(tuple(row) for row in cur.fetchall())
        return rows

    def _item_table(self) -> list[tuple[Any, ...]]:
        with self._read() as cur:
            cur.execute(f"SELECT {_ITEM_FIELDS} FROM shoprec_items ORDER BY item_id{self._collate}")
            return [tuple(row) for row in cur.fetchall()]
