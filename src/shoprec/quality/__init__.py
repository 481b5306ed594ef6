"""Data quality and abuse: bot and shilling detection, quarantine, attack simulation."""

from __future__ import annotations

from shoprec.quality._attacks import ATTACK_KINDS, Attack, AttackConfig, simulate_attack
from shoprec.quality._detector import AbuseDetector, DetectorConfig, robust_z
from shoprec.quality._features import ITEM_FEATURES, USER_FEATURES, item_features, user_features
from shoprec.quality._quarantine import Quarantined, quarantine

__all__ = [
    "ATTACK_KINDS",
    "ITEM_FEATURES",
    "USER_FEATURES",
    "AbuseDetector",
    "Attack",
    "AttackConfig",
    "DetectorConfig",
    "Quarantined",
    "item_features",
    "quarantine",
    "robust_z",
    "simulate_attack",
    "user_features",
]
