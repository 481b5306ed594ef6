"""Quarantine records in the store: which accounts' events stay out of training.

Abuse detection (:mod:`shoprec.quality`) writes one document per flagged account (kind
:data:`ABUSE_FLAG`, key the user id): ``{"status": "flagged" | "released", "reason", "kind",
"flagged_at", ...}``. Flagged accounts' events stay in the store (nothing is deleted) but
:func:`~shoprec.store.dataset_from_store` leaves them out, so training, popularity, trending
and co-visitation never count them. A released account counts again and is not flagged again
by later scans. Deleting a user deletes their record.
"""

from __future__ import annotations

from typing import Any

from shoprec.store._online import OnlineRecords

__all__ = [
    "ABUSE_FLAG",
    "ABUSE_SCAN",
    "FLAGGED",
    "RELEASED",
    "quarantine_records",
    "quarantined_users",
]

ABUSE_FLAG = "abuse_flag"
"""Document kind of the per-account records."""
ABUSE_SCAN = "abuse_scan"
"""Document kind of the latest scan's summary (key ``"latest"``)."""
FLAGGED = "flagged"
RELEASED = "released"


def quarantine_records(store: OnlineRecords) -> dict[str, dict[str, Any]]:
    """Every account record by user id (flagged and released)."""
    return store.documents(ABUSE_FLAG)


def quarantined_users(store: OnlineRecords) -> set[str]:
    """The accounts whose events are held out of training now."""
    return {
        user
        for user, record in quarantine_records(store).items()
        if record.get("status") == FLAGGED
    }
