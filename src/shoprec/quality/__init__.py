"""Data quality and abuse: bot and shilling detection, quarantine, attack simulation."""

from __future__ import annotations

from shoprec.quality._attacks import ATTACK_KINDS, Attack, AttackConfig, simulate_attack
from shoprec.quality._detector import FLAG_KINDS, AbuseDetector, DetectorConfig, robust_z
from shoprec.quality._features import ITEM_FEATURES, USER_FEATURES, item_features, user_features
from shoprec.quality._quarantine import Quarantined, quarantine
from shoprec.quality._scan import ScanSummary, latest_scan, release_user, scan_store
from shoprec.quality._validation import ValidationReport, validate_data

__all__ = [
    "ATTACK_KINDS",
    "FLAG_KINDS",
    "ITEM_FEATURES",
    "USER_FEATURES",
    "AbuseDetector",
    "Attack",
    "AttackConfig",
    "DetectorConfig",
    "Quarantined",
    "ScanSummary",
    "ValidationReport",
    "item_features",
    "latest_scan",
    "quarantine",
    "release_user",
    "robust_z",
    "scan_store",
    "simulate_attack",
    "user_features",
    "validate_data",
]
