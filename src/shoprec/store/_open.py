"""Opening a store from its URL."""

from __future__ import annotations

from urllib.parse import urlsplit

from shoprec.exceptions import ValidationError
from shoprec.store._base import EventStore
from shoprec.store._memory import MemoryStore
from shoprec.store._postgres import PostgresStore
from shoprec.store._sqlite import SQLiteStore

__all__ = ["STORE_SCHEMES", "open_store"]

STORE_SCHEMES = ("memory", "sqlite", "postgresql", "postgres")


def open_store(url: str) -> EventStore:
    """Open (creating tables if needed) the store that ``url`` names.

    Parameters
    ----------
    url
        - ``memory://``: a new :class:`MemoryStore`.
        - ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db`` (SQLAlchemy's
          convention: the path is what follows the third slash); ``sqlite://`` or
          ``sqlite://:memory:`` for a private in-memory SQLite database.
        - ``postgresql://user[:password]@host:port/dbname[?options]`` (or ``postgres://``):
          a :class:`PostgresStore`; the URL goes to libpq unchanged.

    Raises
    ------
    ValidationError
        For an unknown scheme or a malformed URL.
    """
    if not isinstance(url, str):
        raise ValidationError(f"store URL must be a string, got {type(url).__name__}", field="url")
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        return MemoryStore()
    if scheme == "sqlite":
        rest = url[len("sqlite:") :]
        if rest in ("//", "//:memory:", "///:memory:"):
            return SQLiteStore(":memory:")
        if not rest.startswith("///") or len(rest) == 3:
            raise ValidationError(
                f"malformed SQLite URL {url!r}; use sqlite:///relative.db or sqlite:////abs.db",
                field="url",
            )
        return SQLiteStore(rest[3:])
    if scheme in ("postgresql", "postgres"):
        return PostgresStore(url)
    raise ValidationError(
        f"unknown store URL scheme {scheme!r}; expected one of {list(STORE_SCHEMES)}",
        field="url",
    )
