"""Columns for the readers: which file column is which field, and parsing them into shoprec form.

Parsing is vectorised over a chunk; Python loops only over bad or structured cells. Each check
records the first problem of a row in a :class:`_Problems`, in a fixed field order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from shoprec.data._cleaning import CleaningConfig, normalise_ids
from shoprec.data._schema import CATEGORY_SEPARATOR, DEFAULT_PLATFORM, EventType
from shoprec.exceptions import ValidationError

_EVENT_TYPES = [t.value for t in EventType]
_PATH_SEPARATORS = r"\s*(?:>|\|)\s*"


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
    resolved: Mapping[str, str],
    required: Iterable[str],
    columns: Any,
    source: str,
    *,
    flag: str = "--map",
) -> None:
    """Raise naming the first required field that no file column provides, and how to provide
    it on the command line and in Python."""
    for name in required:
        if name not in resolved:
            hint = (
                "; or give every row one type with --event-type TYPE (default_event_type= in "
                "Python, event_type in shoprec.toml)"
                if name == "event_type"
                else ""
            )
            raise ValidationError(
                f"missing required column {name!r}; available columns: {list(columns)}; map one "
                f"with {flag} {name}=COLUMN (mapping={{{name!r}: COLUMN}} in Python){hint}",
                source=source,
                field=name,
            )


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
    cleaning: CleaningConfig | None = None,
) -> pd.DataFrame:
    """One chunk's events in :data:`EVENT_COLUMNS` form; problems recorded in field order.

    With ``cleaning``, ids are normalised, negative quantities (returns) are kept for
    :func:`~shoprec.data._cleaning.clean_event_frame`, and the auxiliary fields come along as
    ``_``-prefixed columns.
    """
    n = len(problems.bad)
    user = _text(fields.get("user_id"), n)
    item = _text(fields.get("item_id"), n)
    fixed = np.zeros(n, dtype=bool)
    if cleaning is not None:
        user, fixed_users = normalise_ids(user, cleaning)
        item, fixed_items = normalise_ids(item, cleaning)
        fixed = fixed_users | fixed_items
    problems.add("user_id", user == "", "missing user id")
    event_type = _text(fields.get("event_type"), n).str.lower()
    if default_event_type:
        event_type = event_type.mask(event_type == "", str(default_event_type))
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
    if cleaning is not None and cleaning.handle_returns:  # returns are netted by cleaning
        problems.add("quantity", quantity == 0, "zero quantity", raw)
    else:
        problems.add("quantity", quantity <= 0, "non-positive quantity", raw)
    problems.add(
        "quantity", np.isfinite(quantity) & (quantity % 1 != 0), "fractional quantity", raw
    )
    frame = pd.DataFrame(
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
    if cleaning is None:
        return frame
    frame["_ids_fixed"] = fixed
    for name in ("order_id", "title"):
        if fields.get(name) is not None:
            frame[f"_{name}"] = _text(fields[name], n).to_numpy(dtype=object)
    if fields.get("price") is not None:
        frame["_price"] = _numbers(fields["price"], n)[0]
    return frame


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
