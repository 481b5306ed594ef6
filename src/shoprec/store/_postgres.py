"""The server EventStore on PostgreSQL through psycopg 3.

psycopg is imported here and nowhere else, and only when a store is opened: importing
:mod:`shoprec.store` stays cheap for the embedded default.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from shoprec.store._sql import _Pool, _SQLStore

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresStore"]

logger = logging.getLogger(__name__)

# Serialises concurrent schema creation (CREATE TABLE IF NOT EXISTS races in PostgreSQL).
_SCHEMA_LOCK = 0x5E0C_0001
_CONNECT_TIMEOUT_S = 5
_V1_CLIENT_ID_KEY = "shoprec_events_client_event_id_key"  # schema 1's store-wide UNIQUE


class PostgresStore(_SQLStore):
    """Events, profiles and the catalog in tables ``shoprec_*`` of a PostgreSQL database.

    Parameters
    ----------
    conninfo
        A libpq connection string or URL, e.g. ``postgresql://shop@db.internal:5432/shoprec``;
        add ``?options=-csearch_path%3Dmyschema`` to keep the tables in another schema.

    Notes
    -----
    Connections come from a small pool that grows to the number of concurrent callers; each
    runs in autocommit mode, and writes open an explicit transaction. An append holds the row
    lock of the sequence counter until it commits, so appends are serialised (one fsync'd
    commit per batch: batch for throughput) and sequences grow in commit order.
    """

    _for_update = " FOR UPDATE"
    _collate = ' COLLATE "C"'

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self._pool = _Pool(self._connect)
        with self._write() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            self._create_schema(cur)
        logger.debug("opened PostgreSQL store")

    def __repr__(self) -> str:
        # the connection string may hold a password: show only where the store lives
        return f"PostgresStore(host={self._where()!r})"

    def _where(self) -> str:
        import psycopg

        try:
            info = psycopg.conninfo.conninfo_to_dict(self.conninfo)
        except psycopg.ProgrammingError:
            return "?"
        return f"{info.get('host', '')}:{info.get('port', '')}/{info.get('dbname', '')}"

    def _connect(self) -> psycopg.Connection[Any]:
        import psycopg

        # Without a connect_timeout libpq waits for the OS (minutes) on an unreachable host;
        # requests would hang instead of getting a 503.
        if "connect_timeout" in self.conninfo:
            return psycopg.connect(self.conninfo, autocommit=True)
        return psycopg.connect(self.conninfo, autocommit=True, connect_timeout=_CONNECT_TIMEOUT_S)

    def _sql(self, text: str) -> str:
        return text.replace("?", "%s")

    @contextmanager
    def _write(self) -> Iterator[Any]:
        with (
            self._guarded(),
            self._pool.connection() as conn,
            conn.transaction(),
            conn.cursor() as cur,
        ):
            yield cur

    @contextmanager
    def _read(self) -> Iterator[Any]:
        with self._guarded(), self._pool.connection() as conn, conn.cursor() as cur:
            yield cur

    def _migrate_global_client_ids(self, cur: Any) -> None:
        cur.execute(f"ALTER TABLE shoprec_events DROP CONSTRAINT IF EXISTS {_V1_CLIENT_ID_KEY}")

    def _unavailable(self, error: Exception) -> bool:
        import psycopg

        # connection refused or lost, server shutting down, disk full, statement cancelled
        return isinstance(error, psycopg.OperationalError)

    def _after_outage(self) -> None:
        self._pool.discard_idle()

    def close(self) -> None:
        """Close every idle connection (busy ones close when their call returns)."""
        self._pool.close()
