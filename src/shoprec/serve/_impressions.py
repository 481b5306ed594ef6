"""Impression logging off the request path: a journal line per list, store writes in batches.

A request hands its served list to :meth:`ImpressionLog.record`, which appends one JSON line to
a journal file (a buffered ``write`` into the page cache, ~10 us, no fsync) and queues the
record; a writer thread stores queued impressions and event contexts in one transaction per
``flush_interval`` (or sooner, at ``max_batch`` records). A record survives the process being
killed before its batch is stored: the journal is replayed into the store at the next start
(writes are idempotent, so a replayed record that was already stored is not stored twice).
Only an OS crash or power cut in the last seconds can lose impressions; events themselves are
committed synchronously by the store.

The journal is rotated before each batch is written: records appended while a batch is being
stored go to the new file, and the rotated file is deleted once its batch has committed.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from shoprec.store import EventContext, EventStore, Impression

__all__ = ["ImpressionLog"]

logger = logging.getLogger(__name__)

_JOURNAL = "impressions.journal"


class ImpressionLog:
    """Durable, batched writes of impressions and event contexts to a store.

    Parameters
    ----------
    store
        Where the records go.
    journal_dir
        Directory of the crash journal (``None``: no journal; an in-memory store needs none).
    flush_interval
        Seconds between batch writes.
    max_batch
        Records that trigger a write before the interval ends.
    """

    def __init__(
        self,
        store: EventStore,
        *,
        journal_dir: str | Path | None = None,
        flush_interval: float = 0.25,
        max_batch: int = 2000,
    ) -> None:
        self.store = store
        self.flush_interval = flush_interval
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._impressions: list[Impression] = []
        self._contexts: list[EventContext] = []
        self._closed = False
        self._written = 0
        self._rotations = 0
        self._dir = None if journal_dir is None else Path(journal_dir)
        self._journal = None
        if self._dir is not None:
            self._dir.mkdir(parents=True, exist_ok=True)
            self.replay()
            self._journal = open(self._dir / _JOURNAL, "a", encoding="utf-8")  # noqa: SIM115
        self._thread = threading.Thread(target=self._run, name="impression-log", daemon=True)
        self._thread.start()

    @property
    def written(self) -> int:
        """Records (impressions and contexts) stored so far by this log."""
        return self._written

    def record(self, impression: Impression) -> None:
        """Queue one served list (journaled at once, stored with the next batch)."""
        self._put([impression], [])

    def record_contexts(self, contexts: Sequence[EventContext]) -> None:
        """Queue the contexts of stored events (request id, position, dwell)."""
        if contexts:
            self._put([], list(contexts))

    def _put(self, impressions: list[Impression], contexts: list[EventContext]) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the impression log is closed")
            if self._journal is not None:
                lines = [_line("i", imp.__dict__) for imp in impressions]
                lines += [_line("c", ctx.__dict__) for ctx in contexts]
                self._journal.write("".join(lines))
                self._journal.flush()  # into the OS page cache: survives kill -9
            self._impressions += impressions
            self._contexts += contexts
            if len(self._impressions) + len(self._contexts) >= self.max_batch:
                self._wake.notify()

    def flush(self) -> int:
        """Store everything queued now; returns the records stored."""
        with self._lock:
            impressions, contexts = self._impressions, self._contexts
            self._impressions, self._contexts = [], []
            rotated = self._rotate()
        try:
            if impressions:
                self.store.append_impressions(impressions)
            if contexts:
                self.store.append_contexts(contexts)
        except BaseException:
            with self._lock:  # retried with the next batch; the rotated journal stays
                self._impressions[:0], self._contexts[:0] = impressions, contexts
            raise
        if rotated is not None:
            rotated.unlink(missing_ok=True)
        self._written += len(impressions) + len(contexts)
        return len(impressions) + len(contexts)

    def _rotate(self) -> Path | None:
        if self._journal is None or self._dir is None or self._journal.tell() == 0:
            return None
        self._journal.close()
        self._rotations += 1
        rotated = self._dir / f"{_JOURNAL}.{self._rotations:08d}"
        (self._dir / _JOURNAL).rename(rotated)
        self._journal = open(self._dir / _JOURNAL, "a", encoding="utf-8")  # noqa: SIM115
        return rotated

    def replay(self) -> int:
        """Store the records of journals a killed process left behind; returns them."""
        if self._dir is None:
            return 0
        files = sorted(self._dir.glob(f"{_JOURNAL}*"))
        impressions: list[Impression] = []
        contexts: list[EventContext] = []
        for file in files:
            for line in file.read_text(encoding="utf-8").splitlines():
                try:
                    kind, fields = json.loads(line)
                except (ValueError, TypeError):
                    continue  # a line cut short by the kill
                if kind == "i":
                    impressions.append(Impression(**{**fields, "items": tuple(fields["items"])}))
                elif kind == "c":
                    contexts.append(EventContext(**fields))
        if impressions:
            self.store.append_impressions(impressions)
        if contexts:
            self.store.append_contexts(contexts)
        for file in files:
            file.unlink()
        if impressions or contexts:
            logger.info("replayed %d impressions and %d contexts", len(impressions), len(contexts))
        return len(impressions) + len(contexts)

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._closed:
                    self._wake.wait(self.flush_interval)
                closing = self._closed
            try:
                self.flush()
            except Exception:  # the store is down: keep the records journaled, retry later
                logger.exception("storing impressions failed; they stay in the journal")
            if closing:
                return

    def close(self) -> None:
        """Store what is queued and stop the writer (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._wake.notify()
        self._thread.join()
        with self._lock:
            if self._journal is not None:
                self._journal.close()
                self._journal = None


def _line(kind: str, fields: dict[str, object]) -> str:
    return json.dumps([kind, fields], separators=(",", ":")) + "\n"
