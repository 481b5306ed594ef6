"""The one exception tree of shoprec: every deliberate error derives from here.

::

    ShoprecError
    ├── ValidationError (ValueError)        malformed input data: names source, row and field
    │   └── IdempotencyConflictError        a user's client event id reused for another event
    ├── ParameterError (ValueError)         a bad hyper-parameter or option value
    ├── NotFittedError (RuntimeError)       inference before ``fit``
    ├── DatasetNotFoundError (FileNotFoundError)
    ├── ConfigError (ValueError)            a shoprec.toml is malformed; names file and key
    ├── ArtifactError                       a saved model or pipeline is missing or corrupt
    ├── OutsideArtifactsError (PermissionError)  a path outside the artifacts directory (403)
    ├── StoreUnavailableError               the event store cannot answer now (HTTP 503)
    ├── ServiceError                        the HTTP service refused a client's request
    ├── NotFoundError (LookupError)         a user or item a request names does not exist
    ├── StateConflictError                  the request does not fit the current state
    └── OverloadedError                     more work waits than is admitted; retry later
"""

from __future__ import annotations

__all__ = [
    "ArtifactError",
    "ConfigError",
    "DatasetNotFoundError",
    "IdempotencyConflictError",
    "NotFittedError",
    "NotFoundError",
    "OutsideArtifactsError",
    "OverloadedError",
    "ParameterError",
    "ServiceError",
    "ShoprecError",
    "StateConflictError",
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


class ParameterError(ShoprecError, ValueError):
    """A hyper-parameter or option has a value the component cannot use; names it and why."""


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


class NotFoundError(ShoprecError, LookupError):
    """The user or item a request names does not exist (HTTP 404)."""


class StateConflictError(ShoprecError):
    """The request cannot apply to the current state, e.g. no version to roll back to."""


class OverloadedError(ShoprecError):
    """More requests wait than the service admits; the caller should retry later (HTTP 503)."""


class ServiceError(ShoprecError):
    """The shoprec HTTP service refused a request or could not be reached (raised by
    :mod:`shoprec.client`).

    Attributes
    ----------
    status_code
        The HTTP status, or ``None`` when no answer came (connection refused, timeout).
    detail
        The answer's ``detail`` (a message, or for 422 a list of ``{"loc", "msg", ...}``).
    """

    def __init__(self, message: str, *, status_code: int | None = None, detail: object = None):
        super().__init__(message)
        self.status_code = status_code
        self.detail = detail

    @classmethod
    def from_response(cls, status_code: int, body: object, what: str) -> ServiceError:
        """The error for a non-2xx answer to ``what`` (``"POST /v1/events"``), naming the
        fields at fault for a 422."""
        detail = body.get("detail", body) if isinstance(body, dict) else body
        if isinstance(detail, list):
            parts = [
                f"{'.'.join(str(p) for p in entry.get('loc', []))}: {entry.get('msg')}"
                + (f" (row {entry['row']})" if "row" in entry else "")
                for entry in detail
                if isinstance(entry, dict)
            ]
            text = "; ".join(parts) or str(detail)
        else:
            text = str(detail)
        return cls(f"{what} -> {status_code}: {text}", status_code=status_code, detail=detail)

    @classmethod
    def unreachable(cls, what: str, error: Exception) -> ServiceError:
        """The error when no answer came."""
        return cls(f"{what}: no answer from the service ({type(error).__name__}: {error})")


class IdempotencyConflictError(ValidationError):
    """An event reuses a client event id its user already gave another event (HTTP 409); the
    message names the fields that differ. Nothing of the batch was stored."""


class OutsideArtifactsError(ShoprecError, PermissionError):
    """A path given to the service leads outside its artifacts directory (HTTP 403); the
    message does not say whether anything exists there."""
