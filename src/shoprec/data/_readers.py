"""Readers for a shop's own files (CSV, JSON Lines, Parquet) with validation and a reject policy.

Files are read in chunks (pandas ``chunksize`` / pyarrow record batches), the file's column names
are mapped onto shoprec fields (``{"user_id": "CustomerID"}``) and every chunk is validated with
vectorised checks. The policy is explicit: ``"strict"`` raises
:class:`~shoprec.exceptions.ValidationError` naming file, 1-based data row and field on the first
bad row; ``"lenient"`` sends bad rows to a rejects CSV (the original fields plus ``_row``,
``_field`` and ``_reason``) and counts them in an :class:`IngestReport`. Nothing is dropped
silently. RecBole atomic files (``.inter``, ``.item``) are handed to :mod:`shoprec.data._recbole`.
The chunk readers live in :mod:`shoprec.data._formats`, column parsing in
:mod:`shoprec.data._columns`.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path

from shoprec.data._cleaning import CleaningConfig
from shoprec.data._formats import _Chunk, _chunks, _file_format
from shoprec.data._ingest import (
    INGEST_POLICIES,
    IngestReport,
    check_options,
    load_catalog,
    load_events,
)
from shoprec.data._recbole import read_recbole_inter, read_recbole_item
from shoprec.data._schema import Catalog, Interactions
from shoprec.exceptions import ValidationError

__all__ = [
    "INGEST_POLICIES",
    "IngestReport",
    "read_catalog",
    "read_events",
]

logger = logging.getLogger(__name__)


def read_events(
    path: str | Path,
    *,
    mapping: Mapping[str, str] | None = None,
    default_event_type: str | None = None,
    platform: str | None = None,
    timestamp_unit: str = "auto",
    policy: str = "strict",
    rejects_path: str | Path | None = None,
    chunksize: int = 100_000,
    progress: bool = False,
    known_items: Collection[str] | None = None,
    item_index: str | Path | None = None,
    cleaning: CleaningConfig | None = None,
) -> tuple[Interactions, IngestReport]:
    """Read and validate behaviour events from CSV, JSON Lines, Parquet or a RecBole ``.inter``.

    Parameters
    ----------
    path
        ``.csv``, ``.tsv``, ``.jsonl``/``.ndjson`` (each optionally ``.gz``), ``.parquet`` or
        ``.inter``.
    mapping
        shoprec field -> file column, e.g. ``{"user_id": "CustomerID"}``. Columns already named
        like a field (:data:`~shoprec.data.EVENT_COLUMNS`) need no entry.
    default_event_type
        The event type of rows without one (or of every row when there is no such column).
    platform
        The platform of rows without one; :data:`~shoprec.data.DEFAULT_PLATFORM` when None.
    timestamp_unit
        ``"s"``, ``"ms"`` or ``"auto"`` for numeric timestamps: below 1e11 seconds, below 1e14
        milliseconds, below 1e17 microseconds, else nanoseconds. Date/time strings are parsed
        (naive ones as UTC). Without a timestamp column, file order is time (order-only data).
    policy
        ``"strict"`` raises on the first bad row; ``"lenient"`` rejects bad rows.
    rejects_path
        Where the lenient policy writes rejected rows (CSV); created only when rows are rejected.
    chunksize
        Rows per chunk.
    progress
        Show a tqdm progress bar.
    known_items
        If given, events on item ids outside it are bad rows ("item not in the catalog").
    item_index
        For a RecBole ``.inter`` keyed by item index: the ``item2index`` file that maps the
        original ids to those indexes (see :func:`~shoprec.data.read_recbole_inter`).
    cleaning
        Apply these safe fixes (see :class:`~shoprec.data.CleaningConfig`; ``shoprec ingest``
        does by default) and accept the auxiliary mapping fields ``order_id``, ``price`` and
        ``title``; the report's ``cleaning`` says what was fixed and found.

    Returns
    -------
    tuple[Interactions, IngestReport]
        The valid events in time order and what happened to the file's rows.

    Raises
    ------
    ValidationError
        Under the strict policy for any bad row; under both for a missing required column, a
        mapped column not in the file or an unreadable file. The message names file, row, field.
    """
    path = Path(path)
    kind = _file_format(path)
    options = {"default_event_type": default_event_type, "platform": platform}
    if kind == "recbole":
        return read_recbole_inter(
            path,
            item_index=item_index,
            **options,
            policy=policy,
            rejects_path=rejects_path,
            chunksize=chunksize,
            progress=progress,
            known_items=known_items,
        )
    if item_index is not None:
        raise ValidationError(
            "an item2index map applies to RecBole .inter files keyed by item index; map the "
            "item column of this file instead",
            source=str(path),
            field="item_id",
        )
    check_options(policy, chunksize)
    return load_events(
        _chunks(path, kind, chunksize),
        source=str(path),
        mapping=mapping,
        **options,
        timestamp_unit=timestamp_unit,
        policy=policy,
        rejects_path=rejects_path,
        progress=progress,
        known_items=known_items,
        cleaning=cleaning,
    )


def read_catalog(
    path: str | Path,
    *,
    mapping: Mapping[str, str] | None = None,
    platform: str | None = None,
    policy: str = "strict",
    rejects_path: str | Path | None = None,
    chunksize: int = 100_000,
    progress: bool = False,
    repeated_ids: str = "reject",
) -> tuple[Catalog, IngestReport]:
    """Read and validate a product catalog from CSV, JSON Lines, Parquet or a RecBole ``.item``.

    Parameters
    ----------
    path
        As for :func:`read_events`.
    mapping
        shoprec field -> file column, e.g. ``{"item_id": "SKU", "title": "Name"}``. Keys that
        are not item fields (:data:`~shoprec.data.ITEM_COLUMNS`) become attributes of that name.
        ``category`` may hold ``"A > B"``, ``"A|B"`` or a JSON list; ``attributes`` a JSON object.
    platform, policy, rejects_path, chunksize, progress
        As for :func:`read_events`.
    repeated_ids
        ``"reject"``: a repeated item id is a bad row. ``"first"``: the first row of each item
        id is the item and later ones are skipped (not rejected): for a catalog taken from an
        order file that repeats the product columns on every line.

    Returns
    -------
    tuple[Catalog, IngestReport]
        The valid items in file order and what happened to the file's rows.

    Raises
    ------
    ValidationError
        As for :func:`read_events`; duplicate item ids are bad rows, also across chunks.
    """
    path = Path(path)
    kind = _file_format(path)
    if kind == "recbole":
        return read_recbole_item(
            path,
            platform=platform,
            policy=policy,
            rejects_path=rejects_path,
            chunksize=chunksize,
            progress=progress,
        )
    check_options(policy, chunksize)
    chunks = _chunks(path, kind, chunksize)
    if repeated_ids == "first":
        chunks = _first_rows(chunks, (mapping or {}).get("item_id", "item_id"))
    elif repeated_ids != "reject":
        raise ValidationError(f"repeated_ids must be 'reject' or 'first', got {repeated_ids!r}")
    return load_catalog(
        chunks,
        source=str(path),
        mapping=mapping,
        platform=platform,
        policy=policy,
        rejects_path=rejects_path,
        progress=progress,
    )


def _first_rows(chunks: Iterator[_Chunk], column: str) -> Iterator[_Chunk]:
    """Each chunk without rows whose ``column`` value appeared earlier (missing ids stay, to be
    reported)."""
    seen: set[str] = set()
    for chunk in chunks:
        if column not in chunk.frame.columns:
            yield chunk
            continue
        ids = chunk.frame[column].astype(str).where(chunk.frame[column].notna(), "")
        keep = ((~ids.duplicated()) & ~ids.isin(seen)).to_numpy() | (ids == "").to_numpy()
        seen.update(ids[keep].tolist())
        yield _Chunk(
            frame=chunk.frame[keep].reset_index(drop=True),
            rows=chunk.rows[keep],
            original=None if chunk.original is None else chunk.original[keep],
            issues=tuple((f, mask[keep], kind, hint) for f, mask, kind, hint in chunk.issues),
        )
