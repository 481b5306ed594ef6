"""Readers for a shop's own files (CSV, JSON Lines, Parquet) with validation and a reject policy.

Files are read in chunks (pandas ``chunksize`` / pyarrow record batches), the file's column names
are mapped onto shoprec fields (``{"user_id": "CustomerID"}``) and every chunk is validated with
vectorised checks. The policy is explicit: ``"strict"`` raises
:class:`~shoprec.exceptions.ValidationError` naming file, 1-based data row and field on the first
bad row; ``"lenient"`` sends bad rows to a rejects CSV (the original fields plus ``_row``,
``_field`` and ``_reason``) and counts them in an :class:`IngestReport`. Nothing is dropped
silently. RecBole atomic files (``.inter``, ``.item``) are handed to :mod:`shoprec.data.recbole`.
"""

from __future__ import annotations

import codecs
import gzip
import json
import logging
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shoprec.data.schema import (
    CATEGORY_SEPARATOR,
    DEFAULT_PLATFORM,
    EVENT_COLUMNS,
    ITEM_COLUMNS,
    Catalog,
    EventType,
    Interactions,
)
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
_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".inter": "recbole",
    ".item": "recbole",
}
_SURROGATES = "[\udc80-\udcff]"  # undecodable bytes, kept by the "surrogateescape" handler


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
# A problem found while reading: (field or None, row mask, kind, hint after the kind).
_Issue = tuple[str | None, np.ndarray, str, str]


@dataclass(frozen=True)
class _Chunk:
    """Records as parsed, their 1-based data rows, and what the rejects file should show."""

    frame: pd.DataFrame
    rows: np.ndarray
    original: pd.DataFrame | None = None
    issues: tuple[_Issue, ...] = ()


class _Problems:
    """The first problem of each row of a chunk; checks run in a fixed field order."""

    def __init__(self, n: int) -> None:
        self.bad = np.zeros(n, dtype=bool)
        self.field = np.full(n, "", dtype=object)
        self.kind = np.full(n, "", dtype=object)
        self.reason = np.full(n, "", dtype=object)

    def add(
        self, field: str | None, mask: Any, kind: str, values: Any = None, hint: Any = ""
    ) -> None:
        """Record ``kind`` for the rows in ``mask`` that have no problem yet.

        The row's reason is ``kind``, then the offending value from ``values`` (if given), then
        ``hint`` (a string or a per-row array).
        """
        new = np.asarray(mask, dtype=bool) & ~self.bad
        if not new.any():
            return
        self.bad |= new
        self.field[new] = field or ""
        self.kind[new] = f"{field}: {kind}" if field else kind
        shown = np.asarray(values, dtype=object)[new] if values is not None else None
        hints = np.asarray(hint, dtype=object)[new] if not isinstance(hint, str) else None
        reasons = []
        for i in range(int(new.sum())):  # only over bad rows
            value = f" {_cell_text(shown[i])!r}" if shown is not None else ""
            reasons.append(f"{kind}{value}{hints[i] if hints is not None else hint}")
        self.reason[new] = reasons


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


def _file_format(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    for suffix, kind in _FORMATS.items():
        if name.endswith(suffix):
            return kind
    raise ValidationError(
        f"unsupported file type; expected one of {sorted(_FORMATS)} (optionally .gz)",
        source=str(path),
    )


def _open_binary(path: Path) -> Any:
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else path.open("rb")


def _first_bad_byte(path: Path) -> int | None:
    """Offset of the first byte that is not valid UTF-8 (after gunzip), or None."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with _open_binary(path) as handle:
        while block := handle.read(1 << 20):
            pending = len(decoder.getstate()[0])  # bytes of a character split across blocks
            try:
                decoder.decode(block)
            except UnicodeDecodeError as error:
                return offset - pending + error.start
            offset += len(block)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as error:
        return offset + error.start - len(error.object)
    return None


def _encoding_issues(frame: pd.DataFrame, hint: str) -> tuple[_Issue, ...]:
    """Per text column, the rows holding undecodable bytes (run only when the file has some)."""
    issues = []
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.infer_dtype(values, skipna=True) == "string":
            mask = values.str.contains(_SURROGATES, regex=True, na=False).to_numpy(dtype=bool)
            issues.append((str(column), mask, "invalid UTF-8 bytes in text", hint))
    return tuple(issues)


def _csv_chunks(
    path: Path, chunksize: int, *, sep: str = ",", encoding_hint: str | None = None
) -> Iterator[_Chunk]:
    """CSV records as all-text frames; rows with no values (blank lines) are skipped.

    ``encoding_hint`` is set when the file holds invalid UTF-8; rows with it become problems.
    """
    reader = pd.read_csv(
        path,
        sep=sep,
        dtype=object,
        keep_default_na=False,
        na_filter=False,
        chunksize=chunksize,
        encoding="utf-8",
        encoding_errors="surrogateescape",
        skip_blank_lines=False,  # keeps row numbers equal to line numbers minus the header
    )
    start = 0
    with reader:
        for frame in reader:
            rows = np.arange(start + 1, start + 1 + len(frame), dtype=np.int64)
            start += len(frame)
            blank = (frame == "").all(axis=1).to_numpy(dtype=bool)
            if blank.any():
                logger.info("%s: skipped %d rows without values", path, int(blank.sum()))
                frame, rows = frame[~blank], rows[~blank]
            frame = frame.reset_index(drop=True)
            issues = _encoding_issues(frame, encoding_hint) if encoding_hint is not None else ()
            yield _Chunk(frame, rows, issues=issues)


def _jsonl_chunks(path: Path, chunksize: int, *, encoding_hint: str | None) -> Iterator[_Chunk]:
    """JSON Lines records; blank lines are skipped, rows are line numbers."""
    opener: Callable[..., Any] = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="surrogateescape") as handle:
        lines: list[str] = []
        rows: list[int] = []
        for number, line in enumerate(handle, 1):
            if line.strip():
                lines.append(line)
                rows.append(number)
            if len(lines) >= chunksize:
                yield _json_chunk(lines, rows, encoding_hint)
                lines, rows = [], []
        if lines:
            yield _json_chunk(lines, rows, encoding_hint)


def _json_chunk(lines: list[str], rows: list[int], encoding_hint: str | None) -> _Chunk:
    errors = np.full(len(lines), "", dtype=object)
    try:  # one parser call for the whole chunk on the happy path
        records = json.loads("[" + ",".join(lines) + "]")
    except json.JSONDecodeError:
        records = []
        for i, line in enumerate(lines):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as error:
                records.append({})
                errors[i] = f"invalid JSON ({error.msg} at column {error.colno})"
    for i in np.flatnonzero([type(r) is not dict for r in records]).tolist():
        if not errors[i]:
            records[i], errors[i] = {}, "a line must hold a JSON object"
    original = pd.DataFrame({"_record": [line.rstrip("\r\n") for line in lines]}, dtype=object)
    issues: list[_Issue] = []
    if encoding_hint is not None:
        bad_text = original["_record"].str.contains(_SURROGATES, regex=True).to_numpy(dtype=bool)
        issues.append((None, bad_text, "invalid UTF-8 bytes in text", encoding_hint))
    for reason in sorted(set(errors) - {""}):
        issues.append((None, errors == reason, reason, ""))
    frame = pd.DataFrame(records, dtype=object)  # object keeps undecodable text intact
    return _Chunk(frame, np.asarray(rows, dtype=np.int64), original, tuple(issues))


def _parquet_chunks(path: Path, chunksize: int) -> Iterator[_Chunk]:
    import pyarrow.parquet as pq

    start = 0
    with pq.ParquetFile(path) as handle:
        for batch in handle.iter_batches(batch_size=chunksize):
            frame = batch.to_pandas()
            yield _Chunk(frame, np.arange(start + 1, start + 1 + len(frame), dtype=np.int64))
            start += len(frame)


def _encoding_hint(path: Path) -> str | None:
    """None for valid UTF-8; else a note naming the first bad byte (a fast scan of the file)."""
    offset = _first_bad_byte(path)
    return None if offset is None else f"; the file's first invalid byte is at offset {offset}"


def _chunks(path: Path, kind: str, chunksize: int) -> Iterator[_Chunk]:
    """The records of ``path`` in chunks; a generator, so open errors surface in the guard."""
    if kind == "parquet":
        yield from _parquet_chunks(path, chunksize)
        return
    hint = _encoding_hint(path)
    if kind == "jsonl":
        yield from _jsonl_chunks(path, chunksize, encoding_hint=hint)
    else:
        sep = "\t" if kind == "tsv" else ","
        yield from _csv_chunks(path, chunksize, sep=sep, encoding_hint=hint)


def _guarded(chunks: Iterator[_Chunk], source: str) -> Iterator[_Chunk]:
    """Turn parser failures into ValidationErrors naming the file."""
    try:
        yield from chunks
    except ValidationError:
        raise
    except pd.errors.EmptyDataError:
        raise ValidationError("the file is empty (no header row)", source=source) from None
    except pd.errors.ParserError as error:
        raise ValidationError(f"malformed file: {error}".strip(), source=source) from None
    except (OSError, EOFError, ValueError) as error:  # bad gzip, pyarrow's ArrowInvalid, ...
        raise ValidationError(f"cannot read the file ({error})", source=source) from None


def _resolve(
    columns: Iterable[str], mapping: Mapping[str, str] | None, known: Iterable[str], source: str
) -> dict[str, str]:
    """Field -> file column: same-named columns, overridden by the mapping."""
    columns = [str(c) for c in columns]
    resolved = {name: name for name in known if name in columns}
    for name, column in (mapping or {}).items():
        if column not in columns:
            raise ValidationError(
                f"column {column!r} mapped to field {name!r} is not in the file; "
                f"available columns: {columns}",
                source=source,
                field=name,
            )
        resolved[name] = column
    return resolved


def _require(
    resolved: Mapping[str, str], required: Iterable[str], columns: Any, source: str
) -> None:
    for name in required:
        if name not in resolved:
            hint = " or pass default_event_type" if name == "event_type" else ""
            raise ValidationError(
                f"missing required column {name!r}; available columns: {list(columns)}; "
                f"map one with mapping={{{name!r}: COLUMN}}{hint}",
                source=source,
                field=name,
            )


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
    return _load_catalog(
        _chunks(path, kind, chunksize),
        source=str(path),
        mapping=mapping,
        platform=platform,
        policy=policy,
        rejects_path=rejects_path,
        progress=progress,
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


# --- Column parsing: vectorised over a chunk; Python loops only over bad or structured cells ---

_EVENT_TYPES = [t.value for t in EventType]
_PATH_SEPARATORS = r"\s*(?:>|\|)\s*"


def _isin(values: pd.Series, pool: np.ndarray) -> np.ndarray:
    """Membership through an object hash table (``isin`` on Arrow strings loops in Python)."""
    return pd.Index(values.to_numpy(dtype=object), dtype=object).isin(pool)


def _cell_text(value: Any) -> str:
    """One cell as text: missing -> "", whole floats without ".0", containers as JSON."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, ensure_ascii=False)
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float):
        return "" if np.isnan(value) else str(int(value)) if value.is_integer() else str(value)
    return str(value).strip()


def _text(values: pd.Series | None, n: int) -> pd.Series:
    """A column as stripped text, "" where missing or absent.

    Arrow-backed strings make the string operations fast; text holding undecodable bytes
    (which Arrow refuses) stays in object dtype.
    """
    if values is None:
        return pd.Series(np.full(n, "", dtype=object), dtype=object)
    if pd.api.types.infer_dtype(values, skipna=False) != "string":
        values = values.map(_cell_text)
    try:
        return values.astype("str").str.strip()
    except UnicodeEncodeError:
        return values.astype(object).str.strip()


def _numbers(values: pd.Series | None, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Floats, the mask of empty cells, and the mask of non-empty cells that are not numbers."""
    if values is None:
        return np.full(n, np.nan), np.ones(n, dtype=bool), np.zeros(n, dtype=bool)
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        number = values.to_numpy(dtype=float, na_value=np.nan)
        return number, np.isnan(number), np.zeros(n, dtype=bool)
    text = _text(values, n)
    missing = (text == "").to_numpy(dtype=bool)
    number = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return number, missing, ~missing & ~np.isfinite(number)


def _epoch_ms(number: np.ndarray, unit: str) -> np.ndarray:
    if unit == "s":
        return number * 1000.0
    if unit == "ms":
        return number.copy()
    size = np.abs(number)  # auto: the magnitude tells s, ms, us or ns for any recent date
    return number * np.select([size < 1e11, size < 1e14, size < 1e17], [1e3, 1.0, 1e-3], 1e-6)


def _datetime_ms(stamps: pd.Series) -> np.ndarray:
    if getattr(stamps.dt, "tz", None) is None:
        stamps = stamps.dt.tz_localize("UTC")  # naive times are taken as UTC
    elapsed = (stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(milliseconds=1)
    return elapsed.to_numpy(dtype=float, na_value=np.nan, copy=True)


def _parse_datetimes(text: pd.Series) -> np.ndarray:
    """Milliseconds of date/time strings (NaN where unparseable): ISO 8601 fast, others slower."""
    parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    rest = parsed.isna().to_numpy()
    ms = _datetime_ms(parsed)
    if rest.any():
        ms[rest] = _datetime_ms(
            pd.to_datetime(text[rest], utc=True, errors="coerce", format="mixed")
        )
    return ms


def _timestamps(values: pd.Series, n: int, unit: str) -> tuple[np.ndarray, ...]:
    """Milliseconds since the epoch (float), the empty mask and the unparseable mask."""
    if pd.api.types.is_datetime64_any_dtype(values):
        ms = _datetime_ms(values)
        return ms, np.isnan(ms), np.zeros(n, dtype=bool)
    number, missing, bad = _numbers(values, n)
    ms = _epoch_ms(number, unit)
    if bad.any():  # not numbers: date/time strings
        ms[bad] = _parse_datetimes(_text(values, n)[bad])
        bad[bad] = np.isnan(ms[bad])
    return ms, missing, bad


def _event_frame(
    fields: Mapping[str, pd.Series | None],
    problems: _Problems,
    *,
    default_event_type: str | None,
    platform: str | None,
    unit: str,
    known_items: np.ndarray | None,
) -> pd.DataFrame:
    """One chunk's events in :data:`EVENT_COLUMNS` form; problems recorded in field order."""
    n = len(problems.bad)
    user = _text(fields.get("user_id"), n)
    problems.add("user_id", user == "", "missing user id")
    event_type = _text(fields.get("event_type"), n).str.lower()
    if default_event_type:
        event_type = event_type.mask(event_type == "", str(default_event_type))
    item = _text(fields.get("item_id"), n)
    problems.add("item_id", (item == "") & (event_type != "search"), "missing item id")
    if known_items is not None:
        unknown = (item != "").to_numpy(dtype=bool) & ~_isin(item, known_items)
        problems.add("item_id", unknown, "item not in the catalog:", item)
    problems.add("event_type", event_type == "", "missing event type")
    expected = f" (expected one of {', '.join(_EVENT_TYPES)})"
    unknown_type = ~event_type.isin(_EVENT_TYPES)
    problems.add("event_type", unknown_type, "unknown event type", event_type, expected)
    timestamp = np.zeros(n, dtype=np.int64)  # order-only data: positions are set later
    if fields.get("timestamp") is not None:
        ms, missing, bad = _timestamps(fields["timestamp"], n, unit)
        problems.add("timestamp", missing, "missing timestamp")
        problems.add("timestamp", bad, "unparseable timestamp", fields["timestamp"])
        timestamp = np.where(missing | bad, 0, np.round(ms)).astype(np.int64)
    rating, _, bad = _numbers(fields.get("rating"), n)
    problems.add("rating", bad, "rating is not a number", fields.get("rating"))
    problems.add("rating", (rating < 0) | (rating > 5), "rating outside 0-5", fields.get("rating"))
    quantity, missing, bad = _numbers(fields.get("quantity"), n)
    raw = fields.get("quantity")
    problems.add("quantity", bad, "quantity is not a number", raw)
    problems.add("quantity", quantity <= 0, "non-positive quantity", raw)
    problems.add(
        "quantity", np.isfinite(quantity) & (quantity % 1 != 0), "fractional quantity", raw
    )
    return pd.DataFrame(
        {
            "user_id": user,
            "item_id": item,
            "event_type": event_type,
            "timestamp": timestamp,
            "platform": _platforms(fields.get("platform"), n, platform),
            "rating": rating,
            "review": _text(fields.get("review"), n),
            "query": _text(fields.get("query"), n),
            "quantity": np.where(problems.bad | missing, 1, quantity).astype(np.int64),
        }
    )


def _platforms(values: pd.Series | None, n: int, default: str | None) -> pd.Series:
    platform = _text(values, n)
    return platform.mask(platform == "", default or DEFAULT_PLATFORM)


def _categories(values: pd.Series | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Category paths joined by " > " from "A > B", "A|B" or JSON lists; and the bad mask."""
    text = _text(values, n)
    path = text.str.replace(_PATH_SEPARATORS, CATEGORY_SEPARATOR, regex=True)
    path = path.str.strip(" >").to_numpy(dtype=object, copy=True)
    bad = np.zeros(n, dtype=bool)
    is_json = text.str.startswith("[").to_numpy(dtype=bool)
    if is_json.any():
        parsed = [_json_path(cell) for cell in text[is_json]]
        bad[is_json] = [p is None for p in parsed]
        path[is_json] = [p or "" for p in parsed]
    return path, bad


def _json_path(text: str) -> str | None:
    try:
        parts = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(parts, list):
        return None
    return CATEGORY_SEPARATOR.join(p for p in (_cell_text(part) for part in parts) if p)


def _attributes(
    values: pd.Series | None, extras: Mapping[str, pd.Series | None], n: int
) -> tuple[np.ndarray, np.ndarray]:
    """JSON object text per row from an attributes column and extra mapped columns."""
    out = np.full(n, "{}", dtype=object)
    bad = np.zeros(n, dtype=bool)
    merged: dict[int, dict[str, str]] = {}
    text = _text(values, n).to_numpy(dtype=object)
    for i in np.flatnonzero(text != "").tolist():
        try:
            parsed = json.loads(text[i])
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            merged[i] = {str(k): _cell_text(x) for k, x in parsed.items()}
        else:
            bad[i] = True
    for name, column in extras.items():
        cells = _text(column, n).to_numpy(dtype=object)
        for i in np.flatnonzero(cells != "").tolist():
            merged.setdefault(i, {})[name] = cells[i]
    for i, attributes in merged.items():
        out[i] = json.dumps(attributes, sort_keys=True, ensure_ascii=False)
    return out, bad


def _item_frame(
    fields: Mapping[str, pd.Series | None],
    extras: list[str],
    problems: _Problems,
    rows: np.ndarray,
    seen: pd.Series,
    *,
    platform: str | None,
) -> tuple[pd.DataFrame, pd.Series]:
    """One chunk's items in :data:`ITEM_COLUMNS` form, and the first row of each new item id.

    ``seen`` maps item ids of earlier chunks to their first row, for duplicates across chunks.
    """
    n = len(rows)
    item = _text(fields.get("item_id"), n)
    problems.add("item_id", item == "", "missing item id")
    present = (item != "").to_numpy(dtype=bool)
    earlier = _isin(item, seen.index.to_numpy(dtype=object))
    repeated = item.duplicated().to_numpy(dtype=bool) | earlier
    new = present & ~repeated
    firsts = pd.Series(rows[new], index=pd.Index(item.to_numpy(dtype=object)[new], dtype=object))
    duplicate = present & repeated
    hints = np.full(n, "", dtype=object)
    if duplicate.any():
        first_row = pd.concat([seen, firsts])
        hints[duplicate] = [f" (first at row {first_row[i]})" for i in item[duplicate]]
    problems.add("item_id", duplicate, "duplicate item id", item, hints)
    price, _, bad = _numbers(fields.get("price"), n)
    problems.add("price", bad, "price is not a number", fields.get("price"))
    problems.add("price", price < 0, "negative price", fields.get("price"))
    category, bad = _categories(fields.get("category"), n)
    problems.add("category", bad, "category is not a JSON list", fields.get("category"))
    extra_fields = {name: fields.get(name) for name in extras}
    attributes, bad = _attributes(fields.get("attributes"), extra_fields, n)
    problems.add("attributes", bad, "attributes is not a JSON object", fields.get("attributes"))
    frame = pd.DataFrame(
        {
            "item_id": item,
            "title": _text(fields.get("title"), n),
            "description": _text(fields.get("description"), n),
            "brand": _text(fields.get("brand"), n),
            "category": category,
            "price": price,
            "attributes": attributes,
            "platform": _platforms(fields.get("platform"), n, platform),
        }
    )
    return frame, firsts
