"""The service's configuration, read from the environment (``SHOPREC_*``) at the service edge."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEFAULT_STATE_DIR", "ServiceSettings"]

DEFAULT_STATE_DIR = Path.home() / ".local" / "share" / "shoprec"
"""Where the default SQLite event store lives when no store URL is given."""


class ServiceSettings(BaseSettings):
    """Settings of the recommendation service; every field can be set as ``SHOPREC_<NAME>``.

    Parameters
    ----------
    pipeline
        The pipeline artifact directory to serve (``None`` only when an app is given a
        pipeline object directly, as tests do).
    store_url
        Event store URL (see :func:`shoprec.store.open_store`); ``None``: a SQLite file
        ``events.db`` under ``state_dir``.
    state_dir
        Directory of the default SQLite store.
    api_key
        The admin key: when set, every route but the health checks needs a key, and writes and
        admin routes need this one (``X-API-Key`` header or ``Authorization: Bearer``).
    read_key
        The read key for shop front-ends: recommendations, search, items, portraits, metrics.
        Needs ``api_key`` too (a read key alone would leave the writes open).
    api_key_file, read_key_file, store_url_file
        Files holding those secrets (first line), so that they stay off the command line and
        out of the environment a process listing shows; the setting itself must then be unset.
    public_docs
        Serve ``/docs``, ``/redoc`` and ``/openapi.json`` to anyone; when false, only
        ``/openapi.json`` is served, to holders of a key.
    max_body_bytes
        Larger request bodies are refused with 413 before they are parsed.
    max_batch_events
        Most events (and items) one batch request may carry.
    history_limit
        Most recent events of a user that recommendations are computed from.
    cache_users
        Users whose recent history is kept in memory (least recently used are dropped).
    max_batch_requests
        Most concurrent recommendation requests computed in one pipeline call.
    max_waiting_requests
        Most recommendation requests waiting for a batch; more get 503 at once (load shedding).
    max_concurrency
        Most open connections or requests in progress for ``shoprec serve``; beyond it uvicorn
        answers 503 at once, before parsing, so an overloaded process keeps serving what it
        admits instead of slowing down for everyone.
    access_log
        Log one line per request (logger ``shoprec.serve.access``): method, route template,
        status and time, never the raw path or query, so never a user id.
    artifacts_dir
        Reloads (and experiment variants) load pipelines only from inside this directory;
        relative paths are resolved in it. Default: the parent of ``pipeline``.
    keep_versions
        How many replaced versions a rollback can return to (the last one stays in memory,
        older ones are loaded again from their artifact).
    reload_timeout_s
        Longest wait for an artifact to be read; a slower reload is refused (422).
    max_future_skew_s
        Events timestamped more than this ahead of the service's clock are refused (422);
        times before 2000-01-01 always are.
    max_inflight_reads, max_inflight_writes, max_queue_wait_s
        Bounded queueing (see :mod:`shoprec.serve._admission`): reads and writes in progress at
        once; a request that finds its pool full waits at most ``max_queue_wait_s`` for a
        slot, else gets 503 with ``Retry-After`` at once.
    store_retry_after_s
        The ``Retry-After`` of a 503 while the event store is unavailable (a PostgreSQL
        restart takes a few seconds).
    log_impressions
        Record every served list (request id, user, version, variant, items) in the store.
    impression_journal
        Directory of the impression crash journal (see :mod:`shoprec.serve._impressions`);
        ``None``: beside a SQLite file (``events.db.journal``), ``state_dir/journal`` for
        PostgreSQL, none for an in-memory store or one handed to the app. One per process.
    impression_flush_s
        Seconds between batched impression writes.
    workers
        Processes serving on the same store (``shoprec serve --workers N``). Above 1, each
        follows the others' events before every read (read-your-writes on any worker) and
        takes its own ``worker-<i>`` impression journal; the store must be shared (not in
        memory).
    attribution_window_hours
        Default window of ``GET /v1/metrics/online``: how long after a list was served an
        event on one of its items counts for it.
    """

    model_config = SettingsConfigDict(env_prefix="SHOPREC_", extra="ignore")

    pipeline: Path | None = None
    store_url: str | None = None
    state_dir: Path = DEFAULT_STATE_DIR
    api_key: SecretStr | None = None
    read_key: SecretStr | None = None
    api_key_file: Path | None = None
    read_key_file: Path | None = None
    store_url_file: Path | None = None
    public_docs: bool = True
    max_body_bytes: int = Field(default=1_048_576, ge=1)
    max_batch_events: int = Field(default=1000, ge=1)
    history_limit: int = Field(default=200, ge=1)
    cache_users: int = Field(default=10_000, ge=0)
    max_batch_requests: int = Field(default=16, ge=1)
    max_waiting_requests: int = Field(default=64, ge=1)
    max_concurrency: int = Field(default=128, ge=1)
    store_retry_after_s: int = Field(default=5, ge=1)
    max_inflight_reads: int = Field(default=64, ge=1)
    max_inflight_writes: int = Field(default=16, ge=1)
    max_queue_wait_s: float = Field(default=0.5, gt=0)
    max_future_skew_s: float = Field(default=86_400.0, ge=0)
    artifacts_dir: Path | None = None
    access_log: bool = True
    keep_versions: int = Field(default=3, ge=1, le=100)
    reload_timeout_s: float = Field(default=120.0, gt=0)
    log_impressions: bool = True
    impression_journal: Path | None = None
    impression_flush_s: float = Field(default=0.25, gt=0, le=60)
    attribution_window_hours: float = Field(default=24.0, gt=0)
    workers: int = Field(default=1, ge=1, le=64)

    @model_validator(mode="after")
    def _read_secret_files(self) -> Self:
        for name in ("api_key", "read_key", "store_url"):
            file = getattr(self, f"{name}_file")
            if file is None:
                continue
            if getattr(self, name) is not None:
                raise ValueError(f"set {name} or {name}_file, not both")
            value = _first_line(file, f"{name}_file")
            setattr(self, name, value if name == "store_url" else SecretStr(value))
        url = self.resolved_store_url()
        if self.workers > 1 and (url == "sqlite://" or url.startswith(("memory:", "sqlite://:"))):
            raise ValueError("several workers need a shared store: PostgreSQL or a SQLite file")
        if self.read_key is not None and self.api_key is None:
            raise ValueError("read_key needs api_key: without an admin key writes would be open")
        return self

    def resolved_journal(self, *, owned_store: bool) -> Path | None:
        """Where the impression journal goes (see :attr:`impression_journal`)."""
        if self.impression_journal is not None:
            return self.impression_journal
        url = self.resolved_store_url()
        if (
            not owned_store
            or url.startswith("memory:")
            or url in ("sqlite://", "sqlite://:memory:")
        ):
            return None
        if url.startswith("sqlite:///"):  # beside the database file
            return Path(url[len("sqlite:///") :] + ".journal")
        return (self.state_dir / "journal").expanduser()

    def resolved_store_url(self) -> str:
        """The store URL to open: :attr:`store_url`, else SQLite under :attr:`state_dir`."""
        if self.store_url:
            return self.store_url
        return f"sqlite:///{(self.state_dir / 'events.db').expanduser().resolve()}"


def _first_line(file: Path, field: str) -> str:
    try:
        lines = file.expanduser().read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{field}: cannot read {file}: {error.__class__.__name__}") from None
    value = lines[0].strip() if lines else ""
    if not value:
        raise ValueError(f"{field}: {file} is empty")
    return value
