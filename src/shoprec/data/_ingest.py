"""The shared ingest core: chunked validation of events and catalog rows, the reject policy and
the :class:`IngestReport`; used by the generic readers (:mod:`shoprec.data._readers`) and the
RecBole reader (:mod:`shoprec.data._recbole`)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shoprec.data._cleaning import AUXILIARY_EVENT_FIELDS, CleaningConfig, clean_event_frame
from shoprec.data._columns import (
    _EVENT_TYPES,
    _event_frame,
    _item_frame,
    _Problems,
    _require,
    _resolve,
)
from shoprec.data._formats import _Chunk, _guarded
from shoprec.data._schema import EVENT_COLUMNS, ITEM_COLUMNS, Catalog, Interactions
from shoprec.exceptions import ValidationError

__all__ = ["INGEST_POLICIES", "IngestReport", "check_options", "load_catalog", "load_events"]

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
    cleaning: dict[str, Any] | None = None  # CleaningReport.to_dict() of a cleaned read

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
        fixes = sum((self.cleaning or {}).get("fixes", {}).values())
        return text + (f"; {fixes:,} rows fixed by cleaning" if fixes else "")

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


def check_options(policy: str, chunksize: int) -> None:
    if policy not in INGEST_POLICIES:
        raise ValidationError(f"policy must be one of {INGEST_POLICIES}, got {policy!r}")
    if chunksize < 1:
        raise ValidationError(f"chunksize must be positive, got {chunksize}")


def load_events(
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
    cleaning: CleaningConfig | None = None,
) -> tuple[Interactions, IngestReport]:
    """The body of :func:`read_events` over any chunk source (also used for RecBole files)."""
    if default_event_type is not None and default_event_type not in _EVENT_TYPES:
        raise ValidationError(
            f"unknown default event type {default_event_type!r}; expected one of {_EVENT_TYPES}"
        )
    if timestamp_unit not in _TIMESTAMP_UNITS:
        raise ValidationError(f"timestamp_unit must be one of {_TIMESTAMP_UNITS}")
    fields = [*EVENT_COLUMNS, *(AUXILIARY_EVENT_FIELDS if cleaning is not None else ())]
    unknown = sorted(set(mapping or {}) - set(fields))
    if unknown:
        raise ValidationError(f"unknown event field(s) {unknown} in the mapping; expected {fields}")
    required = ["user_id", "item_id"] + ([] if default_event_type else ["event_type"])
    known_index = np.asarray(list(known_items), dtype=object) if known_items is not None else None

    def prepare(frame: pd.DataFrame) -> dict[str, str]:
        resolved = _resolve(frame.columns, mapping, fields, source)
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
            cleaning=cleaning,
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
    if cleaning is not None:
        frame, cleaned = clean_event_frame(frame, cleaning, has_quantity="quantity" in resolved)
        report.cleaning = cleaned.to_dict()
    has_timestamps = "timestamp" in resolved
    if not has_timestamps:
        frame["timestamp"] = np.arange(len(frame), dtype=np.int64)  # file order stands in
    interactions = Interactions(frame, has_timestamps=has_timestamps)
    report.rows_loaded = len(interactions)
    logger.info("%s", report.summary())
    return interactions, report


def load_catalog(
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
        _require(resolved, ["item_id"], frame.columns, source, flag="--item-map")
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
