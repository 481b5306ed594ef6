"""The one exception tree of shoprec: every deliberate error derives from here."""

from __future__ import annotations

__all__ = [
    "ArtifactError",
    "ConfigError",
    "DatasetNotFoundError",
    "NotFittedError",
    "ShoprecError",
    "StoreUnavailableError",
    "ValidationError",
]


class ShoprecError(Exception):
    """Base class of every error shoprec raises deliberately."""


class ValidationError(ShoprecError, ValueError):
    """Input data is malformed; the message names the source, row and field at fault.

    Parameters
    ----------
    message
        What is wrong, in words a shop engineer can act on.
    source
        The file (or other origin) the bad record came from, if known.
    row
        1-based data row number within ``source`` (the header is not counted), if known.
    field
        The column or attribute at fault, if known.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        self.reason = message
        self.source = source
        self.row = row
        self.field = field
        where = ", ".join(
            part
            for part in (
                source and f"file {source}",
                row is not None and f"row {row}",
                field and f"field {field!r}",
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)


class NotFittedError(ShoprecError, RuntimeError):
    """A learnable component was used for inference before ``fit``."""


class DatasetNotFoundError(ShoprecError, FileNotFoundError):
    """A named dataset is neither in the data directory nor fetchable; says where to put it."""


class ArtifactError(ShoprecError):
    """A saved model or pipeline directory is missing, incomplete or incompatible."""


class StoreUnavailableError(ShoprecError):
    """The event store cannot answer now (server down, database locked, disk read-only or
    full); nothing was written. Retrying later may succeed (HTTP 503 with ``Retry-After``)."""


class ConfigError(ShoprecError, ValueError):
    """A ``shoprec.toml`` is missing, malformed, or has an unknown or mistyped key; the message
    names the file and the key."""
