"""The field types of the request bodies: ids and texts any store can hold, integers as JSON
Schema counts them, event times within sane bounds; each documents in the OpenAPI schema what
it enforces, so a client (and a schema-driven fuzzer) knows the rules."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

__all__ = [
    "JSON_INT",
    "KEYS",
    "MAX_ID_LENGTH",
    "YEAR_2000_MS",
    "YEAR_2100_MS",
    "CategoryName",
    "Id",
    "ItemRef",
    "Key",
    "LongText",
    "PathText",
    "QueryText",
    "ShortText",
    "StrictFloat",
    "StrictInt",
    "Timestamp",
]

MAX_ID_LENGTH = 256


def _storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    return value


_Storable = AfterValidator(_storable)
_NO_NUL = {"pattern": "^[^\\u0000]*$"}  # documents the NUL rule; _storable enforces it


def _text(min_length: int, max_length: int) -> Any:
    return Field(
        strict=True, min_length=min_length, max_length=max_length, json_schema_extra=_NO_NUL
    )


Id = Annotated[str, _text(1, MAX_ID_LENGTH), _Storable]
# A mapping key: pydantic would turn a key's pattern into patternProperties (leaving other keys
# open); the mapping fields state propertyNames themselves (see _KEYS).
Key = Annotated[str, Field(strict=True, min_length=1, max_length=MAX_ID_LENGTH), _Storable]
KEYS = {"propertyNames": {"minLength": 1, "maxLength": MAX_ID_LENGTH, **_NO_NUL}}
ItemRef = Annotated[str, _text(0, MAX_ID_LENGTH), _Storable]
ShortText = Annotated[str, _text(0, 1000), _Storable]
QueryText = Annotated[str, _text(1, 1000), _Storable]
LongText = Annotated[str, _text(0, 20_000), _Storable]
CategoryName = Annotated[str, _text(1, 200), _Storable]
PathText = Annotated[str, _text(1, 4096), _Storable]
StrictFloat = Annotated[float, Field(strict=True)]  # ints are accepted, strings are not


def _json_integer(value: object) -> object:
    # JSON Schema counts 5.0 as an integer, so a client may send it; "5" and true are refused
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("Input should be a valid integer")
    return value


JSON_INT = BeforeValidator(_json_integer)
StrictInt = Annotated[int, JSON_INT]
"""An integer as JSON Schema defines one: ``5`` or ``5.0``; not ``"5"``, ``5.5`` or ``true``."""

YEAR_2000_MS = 946_684_800_000
"""Event times before 2000-01-01 are refused: they are seconds sent as milliseconds, or junk."""
YEAR_2100_MS = 4_102_444_800_000
"""The schema's upper bound; the service's clock skew allowance is the tighter runtime one."""


def _sane_time(value: int) -> int:
    if value < YEAR_2000_MS:
        hint = ""
        if YEAR_2000_MS // 1000 <= value < YEAR_2000_MS // 10:
            hint = f"; {value} looks like seconds: send milliseconds ({value * 1000})"
        raise ValueError(f"timestamp {value} is before 2000-01-01 in ms since the epoch{hint}")
    if value > YEAR_2100_MS:
        hint = ""
        if value > YEAR_2100_MS * 100:  # 1e3 x now would be microseconds, 1e6 x nanoseconds
            hint = "; it looks like micro- or nanoseconds: send milliseconds since the epoch"
        raise ValueError(f"timestamp {value} is after 2100-01-01 in ms since the epoch{hint}")
    return value


Timestamp = Annotated[
    StrictInt,
    Field(json_schema_extra={"minimum": YEAR_2000_MS, "maximum": YEAR_2100_MS}),
    AfterValidator(_sane_time),
]
