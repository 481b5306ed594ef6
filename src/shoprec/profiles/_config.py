"""How portraits weigh and decay events: :class:`PortraitConfig` (timestamps in units of
:data:`MS_PER_DAY` for order-only data), the :class:`Intent` labels portraits report, and the
lazily decayed sum each portrait accumulator is kept in.

See :mod:`shoprec.profiles._portrait` for how the decay is applied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from shoprec.data import EventType
from shoprec.exceptions import ValidationError

__all__ = ["MS_PER_DAY", "Intent", "PortraitConfig"]

MS_PER_DAY = 86_400_000


class Intent(StrEnum):
    """What the user's recent activity looks like."""

    BROWSING = "browsing"
    BUYING = "buying"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class PortraitConfig:
    """How portraits weigh events.

    Attributes
    ----------
    view_weight, click_weight, search_weight, cart_weight, purchase_weight, rating_weight,
    review_weight
        Interest weight of one event of each type. Searches feed only the keywords.
    half_life_days
        An event's weight halves every this many days; ``None`` disables decay.
    timestamp_unit_ms
        Milliseconds per timestamp unit: 1 for millisecond timestamps; for order-only data
        (timestamps are positions) ``MS_PER_DAY`` makes one position count as one day.
    buying_threshold
        Intent is buying when carts and purchases make at least this share of the decayed
        activity events (views, clicks, searches, carts, purchases).
    max_recent_items
        Distinct recent item ids kept.
    rating_scale
        ``(min, max)`` star rating, for the rating fallback of sentiment.
    """

    view_weight: float = 1.0
    click_weight: float = 2.0
    search_weight: float = 1.0
    cart_weight: float = 4.0
    purchase_weight: float = 8.0
    rating_weight: float = 2.0
    review_weight: float = 2.0
    half_life_days: float | None = 30.0
    timestamp_unit_ms: float = 1.0
    buying_threshold: float = 0.25
    max_recent_items: int = 20
    rating_scale: tuple[float, float] = (1.0, 5.0)

    def __post_init__(self) -> None:
        weights = [self.weight(t) for t in EventType]
        if min(weights) < 0 or not all(math.isfinite(w) for w in weights):
            raise ValidationError("event weights must be finite and >= 0", field="weights")
        if self.half_life_days is not None and not self.half_life_days > 0:
            raise ValidationError("half_life_days must be > 0 or None", field="half_life_days")
        if not self.timestamp_unit_ms > 0:
            raise ValidationError("timestamp_unit_ms must be > 0", field="timestamp_unit_ms")
        if not 0 < self.buying_threshold <= 1:
            raise ValidationError("buying_threshold must be in (0, 1]", field="buying_threshold")
        if self.max_recent_items < 1:
            raise ValidationError("max_recent_items must be >= 1", field="max_recent_items")

    def weight(self, event_type: EventType) -> float:
        """The interest weight of one event of ``event_type``."""
        return {
            EventType.VIEW: self.view_weight,
            EventType.CLICK: self.click_weight,
            EventType.SEARCH: self.search_weight,
            EventType.CART: self.cart_weight,
            EventType.PURCHASE: self.purchase_weight,
            EventType.RATING: self.rating_weight,
            EventType.REVIEW: self.review_weight,
        }[EventType(event_type)]

    @property
    def half_life(self) -> float:
        """The half-life in timestamp units (infinite without decay)."""
        if self.half_life_days is None:
            return math.inf
        return self.half_life_days * MS_PER_DAY / self.timestamp_unit_ms


class _Decayed:
    """A float or vector sum whose terms decay by half every ``half_life``, as of ``time``."""

    __slots__ = ("time", "value")

    def __init__(self, value: Any, time: int) -> None:
        self.value = value
        self.time = time

    def add(self, amount: Any, time: int, half_life: float) -> None:
        if time >= self.time:
            self.value = self.value * 2.0 ** ((self.time - time) / half_life) + amount
            self.time = time
        else:  # a late event: decay it to our time instead of moving the time back
            self.value = self.value + amount * 2.0 ** ((time - self.time) / half_life)

    def at(self, now: int, half_life: float) -> Any:
        return self.value * 2.0 ** ((self.time - now) / half_life)
