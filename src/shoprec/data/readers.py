"""Readers for a shop's own files (CSV, JSON Lines, Parquet) with validation and a reject policy.

Files are read in chunks (pandas ``chunksize`` / pyarrow record batches), the file's column names
are mapped onto shoprec fields (``{"user_id": "CustomerID"}``) and every chunk is validated with
vectorised checks. The policy is explicit: ``"strict"`` raises
:class:`~shoprec.exceptions.ValidationError` naming file, 1-based data row and field on the first
bad row; ``"lenient"`` sends bad rows to a rejects CSV (the original fields plus ``_row``,
``_field`` and ``_reason``) and counts them in an :class:`IngestReport`. Nothing is dropped
silently. RecBole atomic files (``.inter``, ``.item``) are handed to :mod:`shoprec.data.recbole`.
The chunk readers live in :mod:`shoprec.data._formats`, column parsing in
:mod:`shoprec.data._columns`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shoprec.data._columns import (
    _EVENT_TYPES,
    _event_frame,
    _item_frame,
    _Problems,
    _require,
    _resolve,
)
from shoprec.data._formats import _Chunk, _chunks, _file_format, _guarded
from shoprec.data.schema import EVENT_COLUMNS, ITEM_COLUMNS, Catalog, Interactions
from shoprec.exceptions import ValidationError

__all__ = [
    "INGEST_POLICIES",
    "IngestReport",
    "read_catalog",
    "read_events",
]

logger = logging.getLogger(__name__)

INGEST_POLICIES = ("strict", "lenient")
_TIMESTAMP_UNITS = ("auto", "s", "ms")


@dataclass
class IngestReport:
    """What happened to one file: rows read, loaded and rejected, and why.

    Attributes
    ----------
    source
        The file read.
    rows_read, rows_loaded, rows_rejected
        Data rows seen (blank lines excluded), kept, and rejected under the lenient policy.
    reasons
        Rejections per ``"field: reason"``.
    rejects_path
        The rejects CSV, when rows were rejected and a path was given.
    """

    source: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    rejects_path: str | None = None

    def summary(self) -> str:
        """One human line, e.g. ``orders.csv: 181 rows read, 180 loaded, 1 rejected (...)``."""
        text = (
            f"{self.source}: {self.rows_read} rows read, {self.rows_loaded} loaded, "
            f"{self.rows_rejected} rejected"
        )
        if self.reasons:
            shown = self.reasons.most_common(3)
            more = len(self.reasons) - len(shown)
            text += " (" + ", ".join(f"{reason} x{count}" for reason, count in shown)
            text += f", {more} more reasons)" if more else ")"
        if self.rejects_path:
            text += f"; rejected rows in {self.rejects_path}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``reasons`` as a plain dict)."""
        return {**asdict(self), "reasons": dict(self.reasons)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IngestReport:
        """The inverse of :meth:`to_dict`."""
        return cls(**{**data, "reasons": Counter(data.get("reasons", {}))})


_Fields = dict[str, pd.Series | None]  # shoprec field -> the chunk's column, if any


class _Sink:
    """Applies the policy to a chunk's problems: raise, or write rejects and count them."""

    def __init__(self, source: str, policy: str, rejects_path: str | Path | None) -> None:
        self.source = source
        self.strict = policy == "strict"
        self.rejects_path = Path(rejects_path) if rejects_path is not None else None
        self.report = IngestReport(source)
        self._columns: list[str] | None = None

    def settle(self, chunk: _Chunk, problems: _Problems) -> np.ndarray:
        """Count the chunk and return the mask of rows to keep."""
        self.report.rows_read += len(chunk.rows)
        bad = problems.bad
        if not bad.any():
            return ~bad
        if self.strict:
            first = int(np.flatnonzero(bad)[0])
            raise ValidationError(
                problems.reason[first],
                source=self.source,
                row=int(chunk.rows[first]),
                field=problems.field[first] or None,
            )
        self.report.rows_rejected += int(bad.sum())
        self.report.reasons.update(problems.kind[bad].tolist())
        if self.rejects_path is not None:
            self._write(chunk, problems)
        return ~bad

    def _write(self, chunk: _Chunk, problems: _Problems) -> None:
        original = chunk.original if chunk.original is not None else chunk.frame
        bad = problems.bad
        out = original[bad].astype(object).reset_index(drop=True)
        if self._columns is None:
            self._columns = list(out.columns)
        out = out.reindex(columns=self._columns)  # later JSON chunks may lack some keys
        out["_row"] = chunk.rows[bad]
        out["_field"] = problems.field[bad]
        out["_reason"] = problems.reason[bad]
        first = self.report.rejects_path is None
        out.to_csv(
            self.rejects_path,
            mode="w" if first else "a",
            header=first,
            index=False,
            encoding="utf-8",
            errors="surrogateescape",  # keep undecodable bytes as they were in the source
        )
        self.report.rejects_path = str(self.rejects_path)


def _load(
    chunks: Iterator[_Chunk],
    *,
    source: str,
    prepare: Callable[[pd.DataFrame], dict[str, str]],
    parse: Callable[[_Fields, _Chunk, _Problems], pd.DataFrame],
    policy: str,
    rejects_path: str | Path | None,
    progress: bool,
) -> tuple[list[pd.DataFrame], IngestReport, dict[str, str]]:
    """Run chunks through column resolution, parsing, checks and the policy."""
    from tqdm.auto import tqdm

    sink = _Sink(source, policy, rejects_path)
    parts: list[pd.DataFrame] = []
    resolved: dict[str, str] | None = None
    with tqdm(desc=Path(source).name, unit=" rows", disable=not progress) as bar:
        for chunk in _guarded(chunks, source):
            if resolved is None:
                resolved = prepare(chunk.frame)
            fields = {f: chunk.frame.get(c) for f, c in resolved.items()}
            problems = _Problems(len(chunk.rows))
            for name, mask, kind, hint in chunk.issues:
                problems.add(name, mask, kind, hint=hint)
            frame = parse(fields, chunk, problems)
            keep = sink.settle(chunk, problems)
            parts.append(frame[keep])
            bar.update(len(chunk.rows))
    return parts, sink.report, resolved or {}


def _check_options(policy: str, chunksize: int) -> None:
    if policy not in INGEST_POLICIES:
        raise ValidationError(f"policy must be one of {INGEST_POLICIES}, got {policy!r}")
    if chunksize < 1:
        raise ValidationError(f"chunksize must be positive, got {chunksize}")


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
        from shoprec.data.recbole import read_recbole_inter

        return read_recbole_inter(
            path,
            **options,
            policy=policy,
            rejects_path=rejects_path,
            chunksize=chunksize,
            progress=progress,
            known_items=known_items,
        )
    _check_options(policy, chunksize)
    return _load_events(
        _chunks(path, kind, chunksize),
        source=str(path),
        mapping=mapping,
        **options,
        timestamp_unit=timestamp_unit,
        policy=policy,
        rejects_path=rejects_path,
        progress=progress,
        known_items=known_items,
    )


def _load_events(
    chunks: Iterator[_Chunk],
    *,
    source: str,
    mapping: Mapping[str, str] | None,
    default_event_type: str | None,
    platform: str | None,
    timestamp_unit: str,
    policy: str,
    rejects_path: str | Path | None,
    progress: bool,
    known_items: Collection[str] | None,
) -> tuple[Interactions, IngestReport]:
    """The body of :func:`read_events` over any chunk source (also used for RecBole files)."""
    if default_event_type is not None and default_event_type not in _EVENT_TYPES:
        raise ValidationError(
            f"unknown default event type {default_event_type!r}; expected one of {_EVENT_TYPES}"
        )
    if timestamp_unit not in _TIMESTAMP_UNITS:
        raise ValidationError(f"timestamp_unit must be one of {_TIMESTAMP_UNITS}")
    unknown = sorted(set(mapping or {}) - set(EVENT_COLUMNS))
    if unknown:
        raise ValidationError(
            f"unknown event field(s) {unknown} in the mapping; expected {list(EVENT_COLUMNS)}"
        )
    required = ["user_id", "item_id"] + ([] if default_event_type else ["event_type"])
    known_index = np.asarray(list(known_items), dtype=object) if known_items is not None else None

    def prepare(frame: pd.DataFrame) -> dict[str, str]:
        resolved = _resolve(frame.columns, mapping, EVENT_COLUMNS, source)
        _require(resolved, required, frame.columns, source)
        return resolved

    def parse(fields: _Fields, chunk: _Chunk, problems: _Problems) -> pd.DataFrame:
        return _event_frame(
            fields,
            problems,
            default_event_type=default_event_type,
            platform=platform,
            unit=timestamp_unit,
            known_items=known_index,
        )

    parts, report, resolved = _load(
        chunks,
        source=source,
        prepare=prepare,
        parse=parse,
        policy=policy,
        rejects_path=rejects_path,
        progress=progress,
    )
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=EVENT_COLUMNS)
    has_timestamps = "timestamp" in resolved
    if not has_timestamps:
        frame["timestamp"] = np.arange(len(frame), dtype=np.int64)  # file order stands in
    interactions = Interactions(frame, has_timestamps=has_timestamps)
    report.rows_loaded = len(interactions)
    logger.info("%s", report.summary())
    return interactions, report


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
        from shoprec.data.recbole import read_recbole_item

        return read_recbole_item(
            path,
            platform=platform,
            policy=policy,
            rejects_path=rejects_path,
            chunksize=chunksize,
            progress=progress,
        )
    _check_options(policy, chunksize)
    chunks = _chunks(path, kind, chunksize)
    if repeated_ids == "first":
        chunks = _first_rows(chunks, (mapping or {}).get("item_id", "item_id"))
    elif repeated_ids != "reject":
        raise ValidationError(f"repeated_ids must be 'reject' or 'first', got {repeated_ids!r}")
    return _load_catalog(
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


def _load_catalog(
    chunks: Iterator[_Chunk],
    *,
    source: str,
    mapping: Mapping[str, str] | None,
    platform: str | None,
    policy: str,
    rejects_path: str | Path | None,
    progress: bool,
) -> tuple[Catalog, IngestReport]:
    """The body of :func:`read_catalog` over any chunk source (also used for RecBole files)."""
    extras = [name for name in mapping or {} if name not in ITEM_COLUMNS]
    seen = pd.Series(dtype=np.int64)  # item id -> first row, across chunks

    def prepare(frame: pd.DataFrame) -> dict[str, str]:
        resolved = _resolve(frame.columns, mapping, ITEM_COLUMNS, source)
        _require(resolved, ["item_id"], frame.columns, source)
        return resolved

    def parse(fields: _Fields, chunk: _Chunk, problems: _Problems) -> pd.DataFrame:
        nonlocal seen
        out, firsts = _item_frame(fields, extras, problems, chunk.rows, seen, platform=platform)
        seen = pd.concat([seen, firsts])
        return out

    parts, report, _ = _load(
        chunks,
        source=source,
        prepare=prepare,
        parse=parse,
        policy=policy,
        rejects_path=rejects_path,
        progress=progress,
    )
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=ITEM_COLUMNS)
    catalog = Catalog(frame)
    report.rows_loaded = len(catalog)
    logger.info("%s", report.summary())
    return catalog, report
