"""Abuse detection over a store's events: flags written as quarantine records, and released.

:func:`scan_store` runs :class:`~shoprec.quality.AbuseDetector` on everything the store holds
and makes the store's quarantine records (:mod:`shoprec.store`) match its flags: new flags are
recorded, flags the detector no longer raises are cleared, and accounts a reviewer released
stay released (they are never flagged again). Training from the store
(:func:`~shoprec.store.dataset_from_store`) leaves quarantined accounts' events out.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass
from typing import Any

from shoprec.exceptions import NotFoundError
from shoprec.quality._detector import AbuseDetector, DetectorConfig
from shoprec.store import (
    ABUSE_FLAG,
    ABUSE_SCAN,
    FLAGGED,
    RELEASED,
    EventStore,
    quarantine_records,
)

__all__ = ["ScanSummary", "latest_scan", "release_user", "scan_store"]

logger = logging.getLogger(__name__)

_LATEST = "latest"
_MAX_ITEMS = 50  # suspicious items kept in the scan summary


@dataclass(frozen=True)
class ScanSummary:
    """What one scan found.

    Attributes
    ----------
    scanned_at
        UTC time of the scan, ISO 8601.
    users, events
        Accounts and events scanned.
    flagged
        Accounts quarantined after the scan.
    new, cleared
        Accounts flagged for the first time, and flags the scan no longer raised.
    released
        Accounts a reviewer released (kept out of the flags).
    by_kind
        Flagged accounts by kind (``extreme``, ``isolated``, ``cohort``).
    suspicious_items
        Items behind cohort flags: ``{"item_id", "feature", "score", "cohort"}``.
    """

    scanned_at: str
    users: int
    events: int
    flagged: int
    new: int
    cleared: int
    released: int
    by_kind: dict[str, int]
    suspicious_items: list[dict[str, Any]]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def scan_store(
    store: EventStore, *, config: DetectorConfig | None = None, random_state: int = 0
) -> ScanSummary:
    """Run abuse detection over every stored event and update the quarantine records.

    Parameters
    ----------
    store
        The event store (its catalog gives the detector catalog order and categories).
    config
        Detector thresholds.
    random_state
        Seed of the detector's isolation forest.

    Returns
    -------
    ScanSummary
        Also stored as the ``abuse_scan`` document ``"latest"``.
    """
    interactions = store.to_interactions()
    records = quarantine_records(store)
    released = {user for user, record in records.items() if record.get("status") == RELEASED}
    detector = AbuseDetector(config=config, random_state=random_state)
    flags = detector.fit(interactions, store.catalog() or None).flags()
    flags = flags[~flags.index.isin(released)]
    now = _now()
    previous = {user for user, record in records.items() if record.get("status") == FLAGGED}
    for user, row in flags.iterrows():
        old = records.get(str(user), {})
        store.put_document(ABUSE_FLAG, str(user), _record(row, old.get("flagged_at", now)))
    cleared = previous - set(flags.index)
    for user in cleared:
        store.delete_document(ABUSE_FLAG, user)
    items = detector.suspicious_items_.sort_values("z", ascending=False).head(_MAX_ITEMS)
    summary = ScanSummary(
        scanned_at=now,
        users=len(detector.user_scores_),
        events=len(interactions),
        flagged=len(flags),
        new=len(set(flags.index) - previous),
        cleared=len(cleared),
        released=len(released),
        by_kind={str(k): int(n) for k, n in flags["kind"].value_counts().items()},
        suspicious_items=[
            {
                "item_id": str(item),
                "feature": str(row["feature"]),
                "score": round(float(row["z"]), 3),
                "cohort": int(row["cohort"]),
            }
            for item, row in items.iterrows()
        ],
    )
    store.put_document(ABUSE_SCAN, _LATEST, asdict(summary))
    logger.info(
        "abuse scan: %d accounts flagged (%d new, %d cleared) of %d",
        summary.flagged, summary.new, summary.cleared, summary.users,
    )  # fmt: skip
    return summary


def _record(row: Any, flagged_at: str) -> dict[str, Any]:
    return {
        "status": FLAGGED,
        "kind": str(row["kind"]),
        "reason": str(row["reason"]),
        "feature_z": round(float(row["feature_z"]), 3),
        "forest_z": round(float(row["forest_z"]), 3),
        "item": None if not isinstance(row["item"], str) else row["item"],
        "flagged_at": flagged_at,
    }


def latest_scan(store: EventStore) -> ScanSummary | None:
    """The summary of the last :func:`scan_store`, if any."""
    document = store.documents(ABUSE_SCAN).get(_LATEST)
    return None if document is None else ScanSummary(**document)


def release_user(store: EventStore, user_id: str, *, note: str = "") -> dict[str, Any]:
    """Release a flagged account: its events count again and later scans leave it alone.

    Raises
    ------
    NotFoundError
        The account has no quarantine record.
    """
    record = quarantine_records(store).get(user_id)
    if record is None:
        raise NotFoundError("no quarantine record for this user")
    released = {**record, "status": RELEASED, "released_at": _now(), "note": note}
    store.put_document(ABUSE_FLAG, user_id, released)
    return released
