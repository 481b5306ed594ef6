"""Most-popular items, optionally recency-weighted: the baseline every model must beat."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np

from shoprec.data import Catalog, EncodedInteractions
from shoprec.models._base import Recommender

__all__ = ["Popularity"]

_DAY_MS = 86_400_000


class Popularity(Recommender):
    """Scores every item by its (decayed) event count; the same list for every user.

    Parameters
    ----------
    half_life_days
        With a value, an event's weight halves every ``half_life_days`` before the last training
        event (recency-weighted "trending" popularity). ``None`` counts all events equally.
        Ignored for order-only data, whose timestamps are positions.
    """

    name: ClassVar[str] = "popularity"

    def __init__(self, *, half_life_days: float | None = None) -> None:
        self.half_life_days = half_life_days

    def _fit(
        self,
        data: EncodedInteractions,
        catalog: Catalog | None,
        validation: EncodedInteractions | None,
    ) -> None:
        weights = np.ones(len(data.items))
        if self.half_life_days is not None:
            if self.half_life_days <= 0:
                raise ValueError(f"half_life_days must be positive, got {self.half_life_days}")
            age_days = (data.timestamps.max() - data.timestamps) / _DAY_MS
            weights = 0.5 ** (age_days / self.half_life_days)
        counts = np.bincount(data.items, weights=weights, minlength=data.n_items)
        self.item_scores_ = counts.astype(np.float32)

    def _score(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        return np.broadcast_to(self.item_scores_, (len(histories), len(self.item_scores_))).copy()

    def _get_state(self) -> dict[str, np.ndarray]:
        return {"item_scores": self.item_scores_}

    def _set_state(self, state: Mapping[str, np.ndarray]) -> None:
        self.item_scores_ = state["item_scores"]
