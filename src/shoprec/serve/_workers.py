"""Several service processes on one store: each follows the others' writes.

A worker caches users' recent histories and portraits. Another worker's ingest commits events
to the shared store without touching this worker's caches, so every worker tails the store's
event sequence (:class:`StoreTail`): before it reads a user's state it fetches the events
committed since the last sequence it saw (one indexed range query, usually empty) and drops
the cached state of their users. The stores assign sequences in commit order (PostgreSQL holds
the counter's row lock until commit), so a tail never skips an event that commits late: an
event acknowledged to a client is visible to the next read on any worker (read-your-writes).

The worker's own events are skipped (its caches were updated when it wrote them).

Each worker also needs its own impression journal: :func:`claim_journal` hands out
``worker-<i>`` directories under a flock, so a restarted worker takes over (and replays) the
journal its predecessor left.
"""

from __future__ import annotations

import fcntl
import logging
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from shoprec.data import Event
from shoprec.exceptions import ValidationError
from shoprec.store import EventStore

__all__ = ["StoreTail", "claim_journal"]

logger = logging.getLogger(__name__)

_PAGE = 1000
_LOCK_FILE = ".lock"
_claimed: list[IO[str]] = []  # open lock files: a claim lasts as long as the process


class StoreTail:
    """The events other writers committed to ``store`` since the last call.

    Parameters
    ----------
    store
        The shared store.
    """

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._seen = store.last_sequence()
        self._own: set[int] = set()
        self._lock = threading.Lock()

    @property
    def seen(self) -> int:
        """The last sequence read."""
        return self._seen

    def mark_own(self, sequences: Iterable[int]) -> None:
        """Events this worker just wrote: the tail skips them."""
        with self._lock:
            self._own.update(s for s in sequences if s > self._seen)

    def catch_up(self) -> list[Event]:
        """Events committed by others since the last call, in sequence order."""
        with self._lock:
            foreign: list[Event] = []
            while rows := self.store.events_since(self._seen, limit=_PAGE):
                for sequence, event in rows:
                    if sequence in self._own:
                        self._own.discard(sequence)
                    else:
                        foreign.append(event)
                self._seen = rows[-1][0]
                if len(rows) < _PAGE:
                    break
            return foreign


def claim_journal(root: Path, workers: int) -> Path:
    """A ``root/worker-<i>`` directory no other live process holds (``i < workers``).

    Raises
    ------
    ValidationError
        When all ``workers`` slots are taken (more processes than ``--workers`` on one root).
    """
    for slot in range(workers):
        path = root / f"worker-{slot}"
        path.mkdir(parents=True, exist_ok=True)
        handle = open(path / _LOCK_FILE, "a", encoding="utf-8")  # noqa: SIM115 - held open
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        _claimed.append(handle)
        logger.info("impression journal %s", path)
        return path
    raise ValidationError(
        f"all {workers} impression journals under {root} are in use by other processes",
        field="workers",
    )
