"""Abuse review (admin key): the quarantined accounts, a scan of the store, releasing accounts.

Flagged accounts' events are kept but quarantined: training from the store leaves them out, so
popularity, trending and co-visitation do not count them. A reviewer lists the flags with their
reasons, runs a scan over the store's events, and releases accounts flagged wrongly.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from shoprec.quality import latest_scan, release_user, scan_store
from shoprec.serve._dependencies import API_PREFIX, StateDep, require_admin
from shoprec.serve._telemetry import mark_personal
from shoprec.store import quarantine_records

__all__ = ["router"]

router = APIRouter(
    prefix=API_PREFIX + "/admin/abuse", tags=["admin"], dependencies=[Depends(require_admin)]
)


class FlaggedAccount(BaseModel):
    """One account's quarantine record."""

    user_id: str
    status: str = Field(description="flagged (events held out of training) or released")
    kind: str = Field(description="extreme (a feature), isolated (the forest) or cohort")
    reason: str
    feature_z: float
    forest_z: float
    item: str | None = Field(None, description="The suspicious item of a cohort flag")
    flagged_at: str
    released_at: str | None = None
    note: str = ""


class ScanResponse(BaseModel):
    """A scan's summary (see :class:`shoprec.quality.ScanSummary`)."""

    scanned_at: str
    users: int
    events: int
    flagged: int
    new: int
    cleared: int
    released: int
    by_kind: dict[str, int]
    suspicious_items: list[dict[str, Any]]


class AbuseResponse(BaseModel):
    """The quarantine records and the last scan."""

    flagged: int
    released: int
    accounts: list[FlaggedAccount]
    last_scan: ScanResponse | None


class ReleaseRequest(BaseModel):
    """Why the account is released (kept in its record)."""

    note: str = Field("", max_length=500)


@router.get("")
def review(state: StateDep, status: str | None = None) -> AbuseResponse:
    """The quarantine records (``status=flagged`` or ``released`` to filter) and the last
    scan's summary with its suspicious items."""
    records = quarantine_records(state.store)
    accounts = [
        FlaggedAccount(user_id=user, **record)
        for user, record in sorted(records.items())
        if status is None or record.get("status") == status
    ]
    statuses = [record.get("status") for record in records.values()]
    scan = latest_scan(state.store)
    return AbuseResponse(
        flagged=statuses.count("flagged"),
        released=statuses.count("released"),
        accounts=accounts,
        last_scan=None if scan is None else ScanResponse(**scan.__dict__),
    )


@router.post("/scan")
def scan(state: StateDep, request: Request) -> ScanResponse:
    """Run abuse detection over every stored event now and update the quarantine."""
    summary = scan_store(state.store)
    request.app.state.metrics.abuse_scans.inc()
    return ScanResponse(**summary.__dict__)


@router.post("/users/{user_id}/release")
def release(user_id: str, state: StateDep, body: ReleaseRequest | None = None) -> FlaggedAccount:
    """Release an account (404 without a record): its events count again at the next
    training and later scans leave it alone."""
    mark_personal(user_id)
    record = release_user(state.store, user_id, note="" if body is None else body.note)
    return FlaggedAccount(user_id=user_id, **record)
