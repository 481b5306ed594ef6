"""Chunk readers for a shop's files: CSV/TSV, JSON Lines and Parquet, optionally gzipped.

Each reader yields :class:`_Chunk` records with their 1-based data rows; rows holding undecodable
bytes (kept by the ``"surrogateescape"`` handler) become issues rather than errors. Used by
:mod:`shoprec.data._readers` and :mod:`shoprec.data._recbole`.
"""

from __future__ import annotations

import codecs
import gzip
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shoprec.exceptions import ValidationError

logger = logging.getLogger(__name__)

_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".inter": "recbole",
    ".item": "recbole",
    ".text": "recbole",  # UniSRec / VQ-Rec item texts: item_id:token text:token_seq
}
_SURROGATES = "[\udc80-\udcff]"  # undecodable bytes, kept by the "surrogateescape" handler

# A problem found while reading: (field or None, row mask, kind, hint after the kind).
_Issue = tuple[str | None, np.ndarray, str, str]


@dataclass(frozen=True)
class _Chunk:
    """Records as parsed, their 1-based data rows, and what the rejects file should show."""

    frame: pd.DataFrame
    rows: np.ndarray
    original: pd.DataFrame | None = None
    issues: tuple[_Issue, ...] = ()


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
