"""Interpretable user portraits, updated per event in constant time.

A portrait sums, per user, what the items they touched say about them: an interest embedding,
leaf categories, brands, keywords, price band, their own review sentiment and whether they are
browsing or buying. Each event counts with its type's weight (view < click < cart < purchase)
times ``2 ** (-age / half_life)``, its age measured from the latest event time the portrait has
seen.

Decay is lazy: every accumulator keeps its value as of its own last update time and is decayed
only when it is next updated or read, so an event touches a fixed number of accumulators however
long the history is. Out-of-order events are exact under the same rule: an event older than an
accumulator's time adds ``weight * 2 ** (-(time - t_event) / half_life)`` without moving the
time, so arrival order does not change the result (up to float rounding); :meth:`UserPortrait.build`
replays events sorted by time and equals the incremental portrait.
"""

from __future__ import annotations

import bisect
import json
import logging
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

import numpy as np

from shoprec.data import Event, EventType, Interactions
from shoprec.exceptions import ValidationError
from shoprec.profiles._config import MS_PER_DAY, Intent, PortraitConfig, _Decayed
from shoprec.profiles._item_features import ItemFeature, ItemFeatures, PriceBand
from shoprec.text import query_terms, rating_to_sentiment, sentiment_score

__all__ = ["MS_PER_DAY", "Intent", "PortraitConfig", "UserPortrait", "build_portraits"]

logger = logging.getLogger(__name__)

_ACTIVITY = (EventType.VIEW, EventType.CLICK, EventType.SEARCH, EventType.CART, EventType.PURCHASE)
_BUYING = (EventType.CART, EventType.PURCHASE)
_FORMAT_VERSION = 1
_STORES = ("activity", "brands", "categories", "keywords", "vectors")


class UserPortrait:
    """One user's interpretable portrait; build with :meth:`build`, keep fresh with :meth:`update`.

    Parameters
    ----------
    user_id
        Whose portrait; ``""`` adopts the user of the first event.
    config
        Event weights and decay; defaults to :class:`PortraitConfig()`.
    dim
        Embedding dimension (set from the item features on the first item event if 0).

    Attributes
    ----------
    event_counts
        Plain (undecayed) number of events per event type value.
    unknown_items
        Events skipped because their item has no features.
    last_event_time
        The latest event timestamp seen; reads decay everything to this time.
    touches
        Accumulator updates made so far (a diagnostic: constant per event, whatever the history).
    """

    def __init__(
        self, user_id: str = "", *, config: PortraitConfig | None = None, dim: int = 0
    ) -> None:
        self.user_id = user_id
        self.config = config or PortraitConfig()
        self.dim = dim
        self.event_counts: Counter[str] = Counter()
        self.unknown_items = 0
        self.last_event_time: int | None = None
        self.touches = 0
        # "interest": sum of weighted item embeddings; "price": [W, sum w*log p, sum w*(log p)^2,
        # sum w*band score] (one time for all four, so their ratios need no decay)
        self._vectors: dict[str, _Decayed] = {}
        self._categories: dict[str, _Decayed] = {}
        self._brands: dict[str, _Decayed] = {}
        self._keywords: dict[str, _Decayed] = {}
        self._activity: dict[str, _Decayed] = {}  # decayed event counts, for intent
        self._sentiment = [0.0, 0, 0.0, 0]  # review sum, review count, rating sum, rating count
        self._recent: list[tuple[int, str]] = []  # (time, item id), oldest first, distinct ids

    def __repr__(self) -> str:
        return f"UserPortrait({self.user_id!r}, {sum(self.event_counts.values())} events)"

    @classmethod
    def build(
        cls,
        events: Iterable[Event],
        features: ItemFeatures,
        config: PortraitConfig | None = None,
        *,
        user_id: str = "",
    ) -> UserPortrait:
        """The portrait of one user from all their events (replayed in time order, stable).

        Raises
        ------
        ValidationError
            If the events belong to more than one user (or not to ``user_id``).
        """
        ordered = sorted(events, key=lambda e: e.timestamp)
        portrait = cls(user_id, config=config, dim=features.dim)
        for event in ordered:
            portrait.update(event, features)
        return portrait

    def update(self, event: Event, features: ItemFeatures) -> None:
        """Fold one event into the portrait in time independent of the history length.

        Events whose item is unknown to ``features`` are skipped and counted in
        :attr:`unknown_items`. Searches add the query's words to the keywords.
        """
        if not self.user_id:
            self.user_id = event.user_id
        elif event.user_id != self.user_id:
            raise ValidationError(
                f"event of user {event.user_id!r} given to the portrait of {self.user_id!r}",
                field="user_id",
            )
        item = features.get(event.item_id) if event.item_id else None
        if event.item_id and item is None:
            self.unknown_items += 1
            logger.debug("portrait %s: unknown item %r skipped", self.user_id, event.item_id)
            return
        event_type, t = EventType(event.event_type), int(event.timestamp)
        self.last_event_time = t if self.last_event_time is None else max(self.last_event_time, t)
        self.event_counts[event_type.value] += 1
        weight = self.config.weight(event_type)
        if event_type in _ACTIVITY:
            self._add(self._activity, event_type.value, 1.0, t)
        terms = query_terms(event.query) if event.query else []
        for term in terms:
            self._add(self._keywords, term, weight / len(terms), t)
        if item is not None:
            self._update_item(item, weight, t, features.dim)
            self._remember(item.item_id, t)
        self._update_sentiment(event)

    def _add(self, store: dict[str, _Decayed], key: str, amount: Any, t: int) -> None:
        self.touches += 1
        entry = store.get(key)
        if entry is None:
            store[key] = _Decayed(amount, t)
        else:
            entry.add(amount, t, self.config.half_life)

    def _update_item(self, item: ItemFeature, weight: float, t: int, dim: int) -> None:
        self.dim = self.dim or dim
        self._add(self._vectors, "interest", weight * item.embedding.astype(np.float64), t)
        if item.leaf_category:
            self._add(self._categories, item.leaf_category, weight, t)
        if item.brand:
            self._add(self._brands, item.brand, weight, t)
        for term, score in item.keywords:
            self._add(self._keywords, term, weight * score, t)
        if item.price is not None and item.price > 0 and item.price_band is not None:
            log_price = math.log(item.price)
            stats = [1.0, log_price, log_price**2, item.price_band.score]
            self._add(self._vectors, "price", weight * np.array(stats), t)

    def _remember(self, item_id: str, t: int) -> None:
        """Keep the ``max_recent_items`` distinct items with the latest times (ties: arrival)."""
        recent = self._recent
        for position, (seen, known) in enumerate(recent):  # bounded by max_recent_items
            if known == item_id:
                if seen >= t:
                    return
                del recent[position]
                break
        if len(recent) >= self.config.max_recent_items and t <= recent[0][0]:
            return
        bisect.insort_right(recent, (t, item_id), key=lambda entry: entry[0])
        if len(recent) > self.config.max_recent_items:
            del recent[0]

    def _update_sentiment(self, event: Event) -> None:
        if event.review.strip():
            self._sentiment[0] += sentiment_score(event.review)
            self._sentiment[1] += 1
        elif event.rating is not None and not math.isnan(event.rating):
            self._sentiment[2] += float(
                rating_to_sentiment(event.rating, scale=self.config.rating_scale)
            )
            self._sentiment[3] += 1

    # -- reading ---------------------------------------------------------------------------------
    def _shares(self, store: dict[str, _Decayed], n: int) -> list[tuple[str, float]]:
        """The ``n`` heaviest keys with their share of the total decayed weight."""
        if not store or self.last_event_time is None:
            return []
        now, half_life = self.last_event_time, self.config.half_life
        weights = {key: float(entry.at(now, half_life)) for key, entry in store.items()}
        total = sum(weights.values())
        if total <= 0:
            return []
        ranked = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
        return [(key, weight / total) for key, weight in ranked]

    def top_categories(self, n: int = 3) -> list[tuple[str, float]]:
        """The ``n`` leaf categories with the largest share of decayed interest weight."""
        return self._shares(self._categories, n)

    def top_brands(self, n: int = 3) -> list[tuple[str, float]]:
        """The ``n`` brands with the largest share of decayed interest weight."""
        return self._shares(self._brands, n)

    def top_keywords(self, n: int = 10) -> list[tuple[str, float]]:
        """The ``n`` keywords (item TF-IDF terms and search words) with the largest share."""
        return self._shares(self._keywords, n)

    def interest_vector(self) -> np.ndarray:
        """The decayed, weighted sum of item embeddings, L2-normalised; zeros when empty.

        Returns
        -------
        np.ndarray
            Shape ``(dim,)``, float32.
        """
        if "interest" not in self._vectors or self.last_event_time is None:
            return np.zeros(self.dim, dtype=np.float32)
        vector = self._vectors["interest"].at(self.last_event_time, self.config.half_life)
        norm = float(np.linalg.norm(vector))
        if norm == 0.0:
            return np.zeros(self.dim, dtype=np.float32)
        return (vector / norm).astype(np.float32)

    def intent(self) -> tuple[Intent, float]:
        """Browsing or buying, and the decayed share of carts and purchases among activity."""
        if not self._activity or self.last_event_time is None:
            return Intent.UNKNOWN, 0.0
        now, half_life = self.last_event_time, self.config.half_life
        counts = {key: float(entry.at(now, half_life)) for key, entry in self._activity.items()}
        ratio = sum(counts.get(t.value, 0.0) for t in _BUYING) / sum(counts.values())
        return (Intent.BUYING if ratio >= self.config.buying_threshold else Intent.BROWSING), ratio

    def price_band(self) -> PriceBand | None:
        """The band nearest to the decayed mean band of priced items; ``None`` without prices.

        Bands are relative to each item's leaf category, so cheap televisions and cheap cables
        both count as budget.
        """
        if "price" not in self._vectors:
            return None
        weight, _, _, band_sum = self._vectors["price"].value  # ratios: no decay needed
        score = band_sum / weight
        if score < 0.5:
            return PriceBand.BUDGET
        return PriceBand.PREMIUM if score > 1.5 else PriceBand.MID_RANGE

    def price_stats(self) -> tuple[float, float] | None:
        """``(typical price, std of log price)``: the decayed weighted geometric mean price and
        the spread of log prices; ``None`` without prices."""
        if "price" not in self._vectors:
            return None
        weight, log_sum, square_sum, _ = self._vectors["price"].value
        mean = log_sum / weight
        return math.exp(mean), math.sqrt(max(square_sum / weight - mean**2, 0.0))

    def sentiment(self) -> float | None:
        """Mean sentiment of the user's reviews and (text-less) ratings; ``None`` without any."""
        review_sum, n_reviews, rating_sum, n_ratings = self._sentiment
        n = n_reviews + n_ratings
        return (review_sum + rating_sum) / n if n else None

    @property
    def sentiment_counts(self) -> dict[str, int]:
        """How many events the sentiment rests on: ``{"review": n, "rating": n}``."""
        return {"review": int(self._sentiment[1]), "rating": int(self._sentiment[3])}

    @property
    def recent_items(self) -> list[str]:
        """Distinct recently touched item ids, most recent first."""
        return [item_id for _, item_id in reversed(self._recent)]

    def summary(self) -> str:
        """One short sentence, e.g. "Mostly buys Headphones and Speakers from Sony, mid-range,
        recently browsing."."""
        if not self.event_counts:
            return "No activity yet."
        verb = "buys" if self.event_counts[EventType.PURCHASE.value] else "browses"
        categories = _leading(self.top_categories(2))
        if categories:
            text = f"Mostly {verb} {_join(categories)}"
        else:
            keywords = _leading(self.top_keywords(2))
            text = f"Interested in {_join(keywords)}" if keywords else "Active"
        brands = _leading(self.top_brands(2))
        if brands:
            text += f" from {_join(brands)}"
        band = self.price_band()
        if band is not None:
            text += f", {band.value}"
        intent, _ = self.intent()
        if intent is not Intent.UNKNOWN:
            text += f", recently {intent.value}"
        return text + "."

    # -- persistence -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The portrait's full state as JSON-safe values (floats to 7 significant digits)."""

        def store(entries: dict[str, _Decayed]) -> dict[str, list[Any]]:
            return {key: [_round(e.value), e.time] for key, e in entries.items()}

        config = asdict(self.config)
        config["rating_scale"] = list(self.config.rating_scale)
        return {
            "version": _FORMAT_VERSION,
            "user_id": self.user_id,
            "config": config,
            "dim": self.dim,
            "event_counts": dict(self.event_counts),
            "unknown_items": self.unknown_items,
            "last_event_time": self.last_event_time,
            **{name: store(getattr(self, f"_{name}")) for name in _STORES},
            "sentiment": [_round(float(v)) for v in self._sentiment],
            "recent": [[t, item_id] for t, item_id in self._recent],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UserPortrait:
        """The portrait saved by :meth:`to_dict`."""
        if data.get("version") != _FORMAT_VERSION:
            raise ValidationError(
                f"portrait format version {data.get('version')!r} is not {_FORMAT_VERSION}",
                field="version",
            )
        config = dict(data["config"])
        config["rating_scale"] = tuple(config["rating_scale"])
        portrait = cls(data["user_id"], config=PortraitConfig(**config), dim=int(data["dim"]))
        portrait.event_counts = Counter(data["event_counts"])
        portrait.unknown_items = int(data["unknown_items"])
        portrait.last_event_time = data["last_event_time"]
        for name in _STORES:
            entries = {key: _Decayed(_restore(v), int(t)) for key, (v, t) in data[name].items()}
            setattr(portrait, f"_{name}", entries)
        review_sum, n_reviews, rating_sum, n_ratings = data["sentiment"]
        portrait._sentiment = [review_sum, int(n_reviews), rating_sum, int(n_ratings)]
        portrait._recent = [(int(t), str(item_id)) for t, item_id in data["recent"]]
        return portrait

    def to_json(self) -> str:
        """:meth:`to_dict` as compact JSON text."""
        return json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> UserPortrait:
        """The portrait saved by :meth:`to_json`."""
        return cls.from_dict(json.loads(text))


def build_portraits(
    interactions: Interactions, features: ItemFeatures, config: PortraitConfig | None = None
) -> dict[str, UserPortrait]:
    """The portrait of every user in ``interactions`` (events replayed in time order).

    Returns
    -------
    dict of str to UserPortrait
        Keyed by user id, in order of first appearance.
    """
    portraits: dict[str, UserPortrait] = {}
    for event in interactions.to_events():  # already sorted by time, stable
        portrait = portraits.get(event.user_id)
        if portrait is None:
            portrait = portraits[event.user_id] = UserPortrait(
                event.user_id, config=config, dim=features.dim
            )
        portrait.update(event, features)
    return portraits


def _round(value: Any) -> Any:
    """Floats, or arrays as lists of floats, to 7 significant digits (float32 precision)."""
    if isinstance(value, np.ndarray):
        return [float(f"{v:.7g}") for v in value.tolist()]
    return float(f"{value:.7g}")


def _restore(value: Any) -> Any:
    return np.array(value, dtype=np.float64) if isinstance(value, list) else float(value)


def _leading(shares: list[tuple[str, float]], min_share: float = 0.2) -> list[str]:
    """The first name, and the following ones that hold at least ``min_share``."""
    return [name for i, (name, share) in enumerate(shares) if i == 0 or share >= min_share]


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
