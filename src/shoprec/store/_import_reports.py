"""What each import read, refused and stored, kept in the store for people to review later.

``shoprec store import`` prints its reports and forgets them; a shop's team looking at data
quality days later (the dashboard) needs them too. Each import adds one document of kind
:data:`INGEST_REPORT`: when, from what, events read, stored and already stored, items written,
and per file read the rows read, loaded and rejected by reason, with what cleaning fixed.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from typing import Any

from shoprec.data import IngestReport
from shoprec.store._bulk import ImportResult
from shoprec.store._online import OnlineRecords

__all__ = ["INGEST_REPORT", "import_reports", "record_import"]

INGEST_REPORT = "ingest_report"
"""Document kind of the import reports."""


def record_import(
    store: OnlineRecords,
    result: ImportResult,
    reads: Sequence[IngestReport] = (),
    *,
    source: str,
) -> dict[str, Any]:
    """Keep the report of one import (``reads``: the reports of the files read, if any)."""
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    document = {
        "imported_at": now,
        "source": source,
        "events": result.events,
        "stored": result.stored,
        "duplicates": result.duplicates,
        "items": result.items,
        "reads": [read.to_dict() for read in reads],
    }
    store.put_document(INGEST_REPORT, f"{now}-{secrets.token_hex(4)}", document)
    return document


def import_reports(store: OnlineRecords) -> list[dict[str, Any]]:
    """Every kept import report, the most recent first."""
    documents = store.documents(INGEST_REPORT).values()
    return sorted(documents, key=lambda d: str(d.get("imported_at", "")), reverse=True)
