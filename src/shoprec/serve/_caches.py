"""Per-user caches of the serving state: recent histories and portraits.

:class:`HistoryCache` keeps users' recent events, dropped on every write of the user; a read
that overlaps any write is returned but not cached, so the cache never holds a history older
than an acknowledged event.

:class:`PortraitCache` keeps portraits fresh on ingest, an LRU over documents in the store. A
changed portrait is saved to the store (:meth:`~shoprec.store.EventStore.save_profiles`) when it
leaves the cache, when the pipeline changes and at shutdown (not per event: serialising a
portrait costs more than folding an event into it), as a document that records the pipeline
version it was built with and how many events it has folded. A document that disagrees with the
store (another pipeline version, or events stored after it was saved, e.g. before a crash) is
rebuilt from the user's events, so a portrait never misses or double-counts a stored event.

The portrait cache is not thread-safe by itself: the serving state calls it under its user lock.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence

from shoprec.data import Event
from shoprec.profiles import ItemFeatures, PortraitConfig, UserPortrait
from shoprec.store import EventStore

__all__ = ["HistoryCache", "PortraitCache"]

logger = logging.getLogger(__name__)

_FORMAT = 1


class HistoryCache:
    """The ``limit`` most recent events of recently active users, per platform filter.

    Parameters
    ----------
    store
        Where histories are read from.
    limit
        Most recent events kept per user.
    capacity
        Users kept (least recently used dropped first); 0 turns caching off.
    """

    def __init__(self, store: EventStore, *, limit: int, capacity: int) -> None:
        self.store = store
        self.limit = limit
        self.capacity = capacity
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, dict[str | None, tuple[Event, ...]]] = OrderedDict()
        self._epoch = 0  # bumped by every invalidation

    def get(self, user_id: str, platform: str | None = None) -> tuple[Event, ...]:
        """The user's recent events (of ``platform`` only, if given), oldest first."""
        with self._lock:
            cached = self._entries.get(user_id)
            if cached is not None and platform in cached:
                self._entries.move_to_end(user_id)
                return cached[platform]
            epoch = self._epoch
        events = tuple(self.store.history(user_id, limit=self.limit, platform=platform))
        with self._lock:
            if epoch == self._epoch and self.capacity:  # no write since the read began
                self._entries.setdefault(user_id, {})[platform] = events
                self._entries.move_to_end(user_id)
                while len(self._entries) > self.capacity:
                    self._entries.popitem(last=False)
        return events

    def invalidate(self, user_ids: Iterable[str]) -> None:
        """Drop the users' entries; call after their events were written or deleted."""
        with self._lock:
            self._epoch += 1
            for user in user_ids:
                self._entries.pop(user, None)


class PortraitCache:
    """Portraits of recently active users, backed by documents in ``store``.

    Parameters
    ----------
    store
        Where documents are saved and events are read for rebuilds.
    config
        How portraits weigh events.
    capacity
        Portraits kept in memory (least recently used dropped first).
    """

    def __init__(self, store: EventStore, config: PortraitConfig, *, capacity: int) -> None:
        self.store = store
        self.config = config
        self.capacity = capacity
        self._portraits: OrderedDict[str, UserPortrait] = OrderedDict()
        self._dirty: set[str] = set()  # changed since their document was saved
        self._evicted: dict[str, str] = {}  # documents of changed portraits that left the cache
        self._version = ""  # the pipeline version of the cached portraits

    def fold(self, events: Sequence[Event], features: ItemFeatures, version: str) -> None:
        """Fold newly committed ``events`` into their users' portraits."""
        self._version = version
        new: dict[str, list[Event]] = {}
        for event in events:
            new.setdefault(event.user_id, []).append(event)
        cached = {user: self._portraits[user] for user in new if user in self._portraits}
        missing = [user for user in new if user not in cached]
        pending = {user: len(new[user]) for user in missing}
        loaded = self._load(missing, pending, features, version)
        for user, user_events in new.items():
            portrait, current = loaded.get(user) or (cached[user], False)
            if not current:
                for event in sorted(user_events, key=lambda e: e.timestamp):
                    portrait.update(event, features)
            self._dirty.add(user)
            self._keep(user, portrait)
        self._save_evicted()

    def get(self, user_id: str, features: ItemFeatures, version: str) -> UserPortrait | None:
        """A snapshot (a copy) of the user's portrait; ``None`` for a user without events."""
        self._version = version
        portrait = self._portraits.get(user_id)
        if portrait is None:
            loaded = self._load([user_id], {}, features, version)
            if user_id not in loaded:
                return None
            portrait = loaded[user_id][0]
        self._keep(user_id, portrait)
        self._save_evicted()
        return UserPortrait.from_dict(portrait.to_dict())

    def drop(self, user_id: str) -> None:
        """Forget the user's portrait without saving it (the user is being deleted)."""
        self._portraits.pop(user_id, None)
        self._dirty.discard(user_id)
        self._evicted.pop(user_id, None)

    def flush(self) -> int:
        """Save every changed portrait; returns how many were saved."""
        for user in self._dirty:
            self._evicted[user] = _document(self._portraits[user], self._version)
        self._dirty.clear()
        return self._save_evicted()

    def clear(self) -> None:
        """Save the changed portraits and forget them all (e.g. the item features changed)."""
        self.flush()
        self._portraits.clear()

    def _keep(self, user: str, portrait: UserPortrait) -> None:
        self._portraits[user] = portrait
        self._portraits.move_to_end(user)
        while len(self._portraits) > self.capacity:
            old, evicted = self._portraits.popitem(last=False)
            if old in self._dirty:
                self._dirty.discard(old)
                self._evicted[old] = _document(evicted, self._version)

    def _save_evicted(self) -> int:
        saved = len(self._evicted)
        if saved:
            self.store.save_profiles(self._evicted)
            self._evicted = {}
        return saved

    def _load(
        self,
        users: list[str],
        pending: Mapping[str, int],
        features: ItemFeatures,
        version: str,
    ) -> dict[str, tuple[UserPortrait, bool]]:
        """Each user's portrait from its document, or rebuilt from the user's events.

        ``pending`` counts each user's events committed but not yet folded; the flag says
        whether the portrait already includes them (it was rebuilt). Users without events are
        left out.
        """
        if not users:
            return {}
        documents = self.store.load_profiles(users)
        histories = self.store.histories(users)
        out: dict[str, tuple[UserPortrait, bool]] = {}
        for user in users:
            events = histories[user]
            if not events:
                continue
            expected = len(events) - pending.get(user, 0)
            portrait = _from_document(documents.get(user), version, expected)
            if portrait is not None:
                out[user] = (portrait, False)
            else:
                rebuilt = UserPortrait.build(events, features, self.config, user_id=user)
                out[user] = (rebuilt, True)
        return out


def _document(portrait: UserPortrait, version: str) -> str:
    data = {
        "format": _FORMAT,
        "version": version,
        "events": _folded(portrait),
        "portrait": portrait.to_dict(),
    }
    return json.dumps(data, separators=(",", ":"), allow_nan=False)


def _from_document(document: str | None, version: str, events: int) -> UserPortrait | None:
    """The stored portrait if ``version`` built it from exactly ``events`` events."""
    if document is None:
        return None
    try:
        data = json.loads(document)
        if data.get("format") != _FORMAT or data.get("version") != version:
            return None
        if data.get("events") != events:
            return None
        return UserPortrait.from_dict(data["portrait"])
    except (ValueError, KeyError, TypeError, AttributeError):
        logger.warning("unreadable portrait document; rebuilding it from the events")
        return None


def _folded(portrait: UserPortrait) -> int:
    """Events a portrait has taken in (those with unknown items included)."""
    return sum(portrait.event_counts.values()) + portrait.unknown_items
