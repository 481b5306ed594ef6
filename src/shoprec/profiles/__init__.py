"""Profiles: per-item features and interpretable user portraits updated per event in O(1)."""

from __future__ import annotations

from shoprec.profiles._config import MS_PER_DAY, Intent, PortraitConfig
from shoprec.profiles._context import user_context_text
from shoprec.profiles._item_features import (
    PRICE_BAND_QUANTILES,
    ItemFeature,
    ItemFeatures,
    PriceBand,
)
from shoprec.profiles._portrait import UserPortrait, build_portraits

__all__ = [
    "MS_PER_DAY",
    "PRICE_BAND_QUANTILES",
    "Intent",
    "ItemFeature",
    "ItemFeatures",
    "PortraitConfig",
    "PriceBand",
    "UserPortrait",
    "build_portraits",
    "user_context_text",
]
