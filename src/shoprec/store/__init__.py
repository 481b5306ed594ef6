"""Durable event and catalog stores behind one contract (:class:`EventStore`).

SQLite in WAL mode is the embedded default, PostgreSQL the server option, and an in-memory store
serves tests. :func:`open_store` opens any of them from a URL.
"""

from __future__ import annotations

from shoprec.store._base import DELETED_USERS, AppendResult, EventStore, user_digest
from shoprec.store._bulk import (
    IMPORT_KEY_PREFIX,
    ImportResult,
    dataset_from_store,
    import_events,
    import_keys,
)
from shoprec.store._deletions import drop_deleted_users
from shoprec.store._import_reports import INGEST_REPORT, import_reports, record_import
from shoprec.store._memory import MemoryStore
from shoprec.store._online import (
    CONTEXT_COLUMNS,
    IMPRESSION_COLUMNS,
    EventContext,
    Impression,
    OnlineRecords,
)
from shoprec.store._open import STORE_SCHEMES, open_store
from shoprec.store._postgres import PostgresStore
from shoprec.store._quarantine import (
    ABUSE_FLAG,
    ABUSE_SCAN,
    FLAGGED,
    RELEASED,
    quarantine_records,
    quarantined_users,
)
from shoprec.store._sqlite import SQLiteStore

__all__ = [
    "ABUSE_FLAG",
    "ABUSE_SCAN",
    "CONTEXT_COLUMNS",
    "DELETED_USERS",
    "FLAGGED",
    "IMPORT_KEY_PREFIX",
    "IMPRESSION_COLUMNS",
    "INGEST_REPORT",
    "RELEASED",
    "STORE_SCHEMES",
    "AppendResult",
    "EventContext",
    "EventStore",
    "ImportResult",
    "Impression",
    "MemoryStore",
    "OnlineRecords",
    "PostgresStore",
    "SQLiteStore",
    "dataset_from_store",
    "drop_deleted_users",
    "import_events",
    "import_keys",
    "import_reports",
    "open_store",
    "quarantine_records",
    "quarantined_users",
    "record_import",
    "user_digest",
]
