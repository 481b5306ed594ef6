"""RecBole atomic files: ``.inter`` (events, plain or sequence form) and ``.item`` (catalog).

Atomic files are tab-separated with a header of ``name:type`` fields (RecBole's data format,
https://recbole.io/docs/user_guide/data/atomic_files.html), e.g.
``user_id:token item_id:token rating:float timestamp:float``. The sequence form
``user_id:token item_id_list:token_seq item_id:token`` is expanded into one event per item, in
order. ``token_seq`` fields are space-separated tokens, or a quoted list as in the Amazon
``.item`` files (``'Beauty', 'Makeup', 'Face'``). Rows go through the same validation and reject
policy as :mod:`shoprec.data._readers`.
"""

from __future__ import annotations

import ast
import gzip
import html
import json
import logging
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shoprec.data._formats import _Chunk, _csv_chunks, _encoding_hint
from shoprec.data._ingest import IngestReport, check_options, load_catalog, load_events
from shoprec.data._schema import Catalog, Interactions
from shoprec.exceptions import ValidationError

__all__ = [
    "RECBOLE_ITEM_FIELDS",
    "parse_token_seq",
    "read_index_map",
    "read_recbole_inter",
    "read_recbole_item",
]

logger = logging.getLogger(__name__)

# RecBole item field -> shoprec item field; every other field becomes an attribute.
RECBOLE_ITEM_FIELDS = {
    "item_id": "item_id",
    "title": "title",
    "description": "description",
    "brand": "brand",
    "categories": "category",
    "category": "category",
    "price": "price",
}
_INTER_FIELDS = ("user_id", "item_id", "rating", "timestamp", "review", "quantity")


def parse_token_seq(text: str) -> list[str]:
    """The tokens of a ``token_seq`` cell: a quoted (Python or JSON) list, else space-separated.

    >>> parse_token_seq("'Beauty', \"Women's\", 'Eau de Parfum'")
    ['Beauty', "Women's", 'Eau de Parfum']
    >>> parse_token_seq("12 7 9")
    ['12', '7', '9']
    """
    text = text.strip()
    if text[:1] in ("'", '"', "["):
        literal = text if text.startswith("[") else f"[{text}]"
        try:
            parsed = ast.literal_eval(literal)
        except (ValueError, SyntaxError):
            parsed = None
        if isinstance(parsed, list | tuple):
            return [str(token).strip() for token in parsed if str(token).strip()]
    return text.split()


def _header(path: Path) -> dict[str, str]:
    """``name:type`` column -> name, checked for the RecBole header form."""
    opener: Callable[..., Any] = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
        columns = handle.readline().rstrip("\r\n").split("\t")
    names = {}
    for column in columns:
        name, sep, kind = column.partition(":")
        if not sep or not name or not kind:
            raise ValidationError(
                f"not a RecBole atomic file: header field {column!r} is not NAME:TYPE",
                source=str(path),
            )
        names[column] = name
    return names


def _renamed(path: Path, chunksize: int) -> Iterator[_Chunk]:
    """Chunks with ``name:type`` columns renamed to plain names (the rejects keep the header)."""
    names = _header(path)
    for chunk in _csv_chunks(path, chunksize, sep="\t", encoding_hint=_encoding_hint(path)):
        yield _Chunk(chunk.frame.rename(columns=names), chunk.rows, chunk.frame, chunk.issues)


def _expand_sequences(path: Path) -> Iterator[_Chunk]:
    """One event per item of ``item_id_list`` then ``item_id``; each keeps its line's row.

    RecBole often writes one line per prefix of a user's sequence; when every line of a user is a
    prefix of the user's longest line, only the longest is expanded (no repeated events).
    """
    for chunk in _renamed(path, 1 << 62):  # one chunk: a user's lines may be far apart
        frame = chunk.frame
        target = frame["item_id"] if "item_id" in frame else pd.Series("", index=frame.index)
        sequence = (frame["item_id_list"].str.strip() + " " + target.str.strip()).str.strip()
        keep = np.flatnonzero(_longest_per_user(frame["user_id"], sequence))
        tokens = sequence.iloc[keep].map(parse_token_seq)
        source = np.repeat(keep, tokens.map(len).to_numpy())  # the line of each event
        items = [token for line in tokens for token in line]
        expanded = pd.DataFrame(
            {"user_id": frame["user_id"].to_numpy(dtype=object)[source], "item_id": items},
            dtype=object,
        )
        issues = tuple((f, mask[source], kind, hint) for f, mask, kind, hint in chunk.issues)
        original = chunk.original if chunk.original is not None else frame
        yield _Chunk(expanded, chunk.rows[source], original.iloc[source], issues)


def _longest_per_user(users: pd.Series, sequence: pd.Series) -> np.ndarray:
    """Mask of lines to expand: all, unless each user's lines are prefixes of their longest."""
    if not users.duplicated().any():
        return np.ones(len(users), dtype=bool)
    length = sequence.str.len()
    longest_index = length.groupby(users, sort=False).idxmax()
    longest = sequence[longest_index.to_numpy()].set_axis(longest_index.index)
    theirs = longest.reindex(users.to_numpy()).to_numpy(dtype=object)
    pairs = zip(theirs, sequence, strict=True)
    if not all(full == own or full.startswith(own + " ") for full, own in pairs):
        logger.info("sequence lines are not prefixes of one another: expanding every line")
        return np.ones(len(users), dtype=bool)
    keep = np.zeros(len(users), dtype=bool)
    keep[longest_index.to_numpy()] = True
    logger.info("collapsed %d prefix lines into %d sequences", len(users), int(keep.sum()))
    return keep


def read_index_map(path: str | Path) -> dict[str, str]:
    """An ``item2index`` (or ``user2index``) file of UniSRec-style data: ``ORIGINAL_ID\tINDEX``
    per line, no header. Returns index -> original id.

    Raises
    ------
    ValidationError
        A line without two tab-separated fields, or an index given twice; names file and row.
    """
    path = Path(path)
    mapping: dict[str, str] = {}
    opener: Callable[..., Any] = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for row, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                parts = line.rstrip("\r\n").split("\t")
                if len(parts) != 2 or not parts[0] or not parts[1]:
                    raise ValidationError(
                        "expected ORIGINAL_ID<tab>INDEX", source=str(path), row=row
                    )
                original, index = parts
                if index in mapping:
                    raise ValidationError(
                        f"index {index!r} is given twice", source=str(path), row=row
                    )
                mapping[index] = original
    except OSError as error:
        raise ValidationError(f"cannot read the index map: {error}", source=str(path)) from None
    return mapping


def _translated(chunks: Iterator[_Chunk], index: dict[str, str], source: str) -> Iterator[_Chunk]:
    """Chunks whose ``item_id`` indexes are replaced by the original ids of ``index``; an index
    missing from the map is a bad row."""
    for chunk in chunks:
        frame = chunk.frame.copy()
        ids = frame["item_id"].astype(str).str.strip()
        mapped = ids.map(index)
        missing = (mapped.isna() & (ids != "")).to_numpy(dtype=bool)
        frame["item_id"] = mapped.where(~mapped.isna(), ids)
        issue = ("item_id", missing, "item index not in the item2index map", f" ({source})")
        yield _Chunk(frame, chunk.rows, chunk.original, (*chunk.issues, issue))


def read_recbole_inter(
    path: str | Path,
    *,
    item_index: str | Path | None = None,
    default_event_type: str | None = None,
    platform: str | None = None,
    policy: str = "strict",
    rejects_path: str | Path | None = None,
    chunksize: int = 100_000,
    progress: bool = False,
    known_items: Collection[str] | None = None,
) -> tuple[Interactions, IngestReport]:
    """Read a RecBole ``.inter`` file, plain (one event per line) or in sequence form.

    Parameters
    ----------
    path
        The ``.inter`` file (optionally ``.gz``).
    item_index
        An ``item2index`` file (``ORIGINAL_ID<tab>INDEX`` lines, as UniSRec ships beside its
        ``.inter`` files keyed by index): item indexes are translated to the original ids, so
        the events join a catalog keyed by those (e.g. ASINs).
    default_event_type
        Event type of every row; by default ``"rating"`` when there is a rating field, else
        ``"purchase"``.
    platform, policy, rejects_path, chunksize, progress, known_items
        As for :func:`shoprec.data._readers.read_events`. Timestamps (RecBole's are usually
        seconds) are converted to milliseconds; without them, file order is time. In the
        sequence form the report counts events, and each event's row is its line's.

    Returns
    -------
    tuple[Interactions, IngestReport]
    """
    path = Path(path)
    check_options(policy, chunksize)
    names = set(_header(path).values())
    if "user_id" not in names or not names & {"item_id", "item_id_list"}:
        raise ValidationError(
            f"a RecBole .inter file needs user_id and item_id (or item_id_list) fields; "
            f"found {sorted(names)}",
            source=str(path),
        )
    if "item_id_list" in names:
        chunks = _expand_sequences(path)
        names = {"user_id", "item_id"}
    else:
        chunks = _renamed(path, chunksize)
    if item_index is not None:
        chunks = _translated(chunks, read_index_map(item_index), str(item_index))
    if default_event_type is None:
        default_event_type = "rating" if "rating" in names else "purchase"
    ignored = sorted(names - set(_INTER_FIELDS) - {"item_id_list"})
    if ignored:
        logger.info("%s: RecBole fields without a shoprec counterpart ignored: %s", path, ignored)
    return load_events(
        chunks,
        source=str(path),
        mapping={name: name for name in _INTER_FIELDS if name in names},
        default_event_type=default_event_type,
        platform=platform,
        timestamp_unit="auto",
        policy=policy,
        rejects_path=rejects_path,
        progress=progress,
        known_items=known_items,
    )


def _item_chunks(path: Path, chunksize: int) -> Iterator[_Chunk]:
    """Item chunks with shoprec field names, categories as JSON lists, HTML entities decoded."""
    for chunk in _renamed(path, chunksize):
        frame = chunk.frame.rename(columns=RECBOLE_ITEM_FIELDS)
        if "text" in frame:
            frame = frame.rename(columns={"text": "description" if "title" in frame else "title"})
        if "category" in frame:
            frame["category"] = frame["category"].map(lambda s: json.dumps(parse_token_seq(s)))
        for name in frame.columns.difference(["item_id", "category", "price"]):
            if pd.api.types.infer_dtype(frame[name]) == "string":  # Amazon's "&" is "&amp;"
                escaped = frame[name].str.contains("&", regex=False).to_numpy(dtype=bool)
                frame.loc[escaped, name] = frame.loc[escaped, name].map(html.unescape)
        yield _Chunk(frame, chunk.rows, chunk.original, chunk.issues)


def read_recbole_item(
    path: str | Path,
    *,
    platform: str | None = None,
    policy: str = "strict",
    rejects_path: str | Path | None = None,
    chunksize: int = 100_000,
    progress: bool = False,
) -> tuple[Catalog, IngestReport]:
    """Read a RecBole ``.item`` file, or a UniSRec / VQ-Rec ``.text`` file, into a
    :class:`~shoprec.data.Catalog`.

    ``item_id``, ``title``, ``description``, ``brand``, ``price`` and ``categories`` (a
    ``token_seq``, into the category path) map to item fields (:data:`RECBOLE_ITEM_FIELDS`);
    ``text`` (the ``.text`` form) is the title, or the description when there is a title;
    every other field (``sales_rank``, ``sales_type``, ...) becomes an attribute.

    Parameters
    ----------
    path
        The ``.item`` file (optionally ``.gz``).
    platform, policy, rejects_path, chunksize, progress
        As for :func:`shoprec.data._readers.read_catalog`.

    Returns
    -------
    tuple[Catalog, IngestReport]
    """
    path = Path(path)
    check_options(policy, chunksize)
    found = list(_header(path).values())
    # UniSRec's .text files carry an item's whole text in "text": the title when there is none
    text_field = "description" if "title" in found else "title"
    names = [RECBOLE_ITEM_FIELDS.get(name, name) for name in found]
    names = [text_field if name == "text" else name for name in names]
    if "title" not in names:
        logger.warning("%s has no title or text field: its items have no text", path)
    return load_catalog(
        _item_chunks(path, chunksize),
        source=str(path),
        mapping={name: name for name in names},
        platform=platform,
        policy=policy,
        rejects_path=rejects_path,
        progress=progress,
    )
