"""The embedded EventStore: one SQLite file in WAL mode, safe to share between threads."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from shoprec.exceptions import ShoprecError
from shoprec.store._sql import _SCHEMA, _Pool, _SQLStore

__all__ = ["SQLiteStore"]

logger = logging.getLogger(__name__)

MEMORY = ":memory:"
_BUSY_TIMEOUT_MS = 10_000  # waits for another process's write lock before failing
# Primary result codes that mean "cannot answer now", not a bug: BUSY, LOCKED, NOMEM, READONLY,
# IOERR, FULL, CANTOPEN, PROTOCOL (https://sqlite.org/rescode.html).
_OUTAGE = frozenset({5, 6, 7, 8, 10, 13, 14, 15})


class SQLiteStore(_SQLStore):
    """Events, profiles and the catalog in one SQLite database file.

    Parameters
    ----------
    path
        The database file (created with its tables if missing), or ``":memory:"`` for a
        private in-memory database that dies with the store.
    busy_timeout_ms
        How long a write waits for another process's lock before the store reports itself
        unavailable (:class:`~shoprec.exceptions.StoreUnavailableError`).

    Notes
    -----
    Writes go through one connection behind a lock, each call one ``BEGIN IMMEDIATE``
    transaction; SQLite admits one writer at a time anyway, and queueing on a Python lock avoids
    its busy-retry sleeps. Reads use a small pool of further connections: in WAL mode readers see
    the last commit and neither block nor wait for the writer. Another process may open the same
    file; its writes wait up to ``busy_timeout_ms`` (10 s) for the lock.
    """

    _seq_type = "INTEGER"  # INTEGER PRIMARY KEY is the rowid itself: no second index

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = _BUSY_TIMEOUT_MS) -> None:
        self.path = str(path)
        self.busy_timeout_ms = int(busy_timeout_ms)
        self._shared = self.path == MEMORY  # an in-memory database exists on one connection only
        if not self._shared:
            _private_file(Path(self.path))
        self._lock = threading.Lock()
        self._closed = False
        self._writer = self._connect(wal=not self._shared)
        self._readers = _Pool(self._connect)
        with self._write() as cur:
            self._create_schema(cur)
        logger.debug("opened SQLite store %s", self.path)

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    def _connect(self, *, wal: bool = False) -> sqlite3.Connection:
        # isolation_level=None: the module issues no implicit BEGIN; transactions are explicit.
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
        if wal:  # a property of the file, set once by the writer; readers find it set
            conn.execute("PRAGMA journal_mode = WAL")
        # FULL syncs the WAL at every commit: with NORMAL a commit survives a killed process but
        # may be lost to a power cut or OS crash, and an acknowledged event must be durable.
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA secure_delete = ON")  # deleted rows are overwritten, not left
        return conn

    @contextmanager
    def _write(self) -> Iterator[Any]:
        with self._guarded(), self._lock:
            if self._closed:
                raise ShoprecError("the store is closed")
            cur = self._writer.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                if self._writer.in_transaction:  # some errors already rolled it back
                    with suppress(sqlite3.Error):  # a failing disk may refuse this too
                        cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[Any]:
        with self._guarded():
            if self._shared:
                with self._lock:
                    if self._closed:
                        raise ShoprecError("the store is closed")
                    yield self._writer.cursor()
                return
            with self._readers.connection() as conn:
                yield conn.cursor()

    def _purge(self) -> None:
        # secure_delete zeroed the deleted rows in the pages the deletion wrote; the WAL still
        # holds older copies of those pages until a checkpoint copies it back and truncates it.
        if self._shared:
            return
        with self._guarded(), self._lock:
            busy, _, _ = self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            logger.warning("a reader kept the WAL from being truncated after a deletion")

    def _migrate_global_client_ids(self, cur: Any) -> None:
        # A column's UNIQUE cannot be dropped in SQLite: copy into a table without it.
        cur.execute("ALTER TABLE shoprec_events RENAME TO shoprec_events_v1")
        cur.execute(_SCHEMA[0].format(seq_type=self._seq_type))
        cur.execute("INSERT INTO shoprec_events SELECT * FROM shoprec_events_v1")
        cur.execute("DROP TABLE shoprec_events_v1")

    def _unavailable(self, error: Exception) -> bool:
        code = getattr(error, "sqlite_errorcode", None)
        return isinstance(error, sqlite3.Error) and code is not None and code & 0xFF in _OUTAGE

    def close(self) -> None:
        """Close every connection; later calls raise :class:`~shoprec.exceptions.ShoprecError`."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._readers.close()
            self._writer.close()


def _private_file(path: Path) -> None:
    """Create the database file readable by its owner only (SQLite gives its -wal and -shm
    files the database's permissions); warn about an existing one others can read."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            logger.warning("the event store %s is readable by other users; chmod 600 it", path)
