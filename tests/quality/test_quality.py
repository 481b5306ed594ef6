"""Bot and shilling detection: features with known answers, attack simulation, the detector."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shoprec.data import Catalog, Interactions
from shoprec.datasets import make_synthetic_shop
from shoprec.exceptions import NotFittedError
from shoprec.quality import (
    ATTACK_KINDS,
    AbuseDetector,
    AttackConfig,
    item_features,
    quarantine,
    simulate_attack,
    user_features,
)

MINUTE = 60_000
DAY = 86_400_000


def events(rows: list[tuple[str, str, str, int]], *, timed: bool = True) -> Interactions:
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "event_type", "timestamp"])
    return Interactions(frame, has_timestamps=timed)


@pytest.fixture(scope="module")
def shop():
    return make_synthetic_shop(n_users=600, n_items=200, random_state=3)


def test_user_features_known_answers() -> None:
    catalog = Catalog(pd.DataFrame({"item_id": [f"i{k}" for k in range(20)]}))
    bot = [("bot", f"i{k}", "view", k * MINUTE) for k in range(12)]  # catalog order, 1/min
    buyer = [
        ("buyer", "i3", "view", 0),
        ("buyer", "i3", "purchase", 5 * MINUTE),
        ("buyer", "i9", "view", 2 * DAY),
    ]
    features = user_features(events(bot + buyer), catalog)
    assert features.loc["bot", "n_events"] == 12
    assert features.loc["bot", "rate"] == pytest.approx(12 / (11 / 60))
    assert features.loc["bot", "gap_cv"] == pytest.approx(0.0)
    assert features.loc["bot", "session_events"] == 12
    assert features.loc["bot", "scan_share"] == 1.0
    assert features.loc["bot", "view_only_share"] == 1.0
    assert features.loc["buyer", "view_only_share"] == 0.5  # i3 bought, i9 only viewed
    assert features.loc["buyer", "repeat_share"] == pytest.approx(1 / 3)
    assert np.isnan(features.loc["buyer", "rate"])  # fewer than 10 actions
    assert features.loc["buyer", "tenure_days"] == pytest.approx(2.0)  # first event to data end


def test_coherence_separates_related_baskets_from_random_ones() -> None:
    rows = []
    for u in range(30):  # two communities: a-items together, b-items together
        group = "a" if u % 2 else "b"
        rows += [(f"u{u}", f"{group}{k}", "purchase", u * 10 + k) for k in range(3)]
    rows += [("mixed", "a0", "purchase", 500), ("mixed", "b1", "purchase", 501)]
    coherence = user_features(events(rows)).loc[:, "coherence"]
    assert coherence["u1"] > 1.5  # its pairs occur together in 14 other baskets
    assert coherence["mixed"] == 0.0  # a0 and b1 never occur together elsewhere


def test_item_features_see_a_burst_of_new_accounts() -> None:
    rows = [(f"old{u}", "steady", "purchase", u * DAY) for u in range(60)]
    rows += [(f"old{u}", "target", "purchase", u * DAY + 1) for u in range(0, 60, 3)]
    rows += [(f"new{u}", "target", "purchase", 59 * DAY + u * MINUTE) for u in range(30)]
    rows += [(f"new{u}", "filler", "purchase", 59 * DAY + u * MINUTE + 1) for u in range(30)]
    items = item_features(events(rows))
    assert items.loc["target", "new_account_spike"] > 10
    assert items.loc["steady", "new_account_spike"] == pytest.approx(0.0, abs=1e-9)
    assert items.loc["target", "new_account_share"] > 0.5
    assert items.loc["steady", "cooccurrence_burst"] == pytest.approx(1 / 20)  # a pair a day
    assert items.loc["target", "cooccurrence_burst"] == pytest.approx(30 / 50)  # 30 of 20 + 30
    assert np.isnan(item_features(events(rows, timed=False)).loc["target", "spike"])


@pytest.mark.parametrize("kind", ATTACK_KINDS)
def test_simulate_attack_profiles(shop, kind: str) -> None:
    train = shop.split.train
    attack = simulate_attack(train, AttackConfig(kind, fraction=0.05), random_state=0)
    n_real = len(train.user_ids)
    assert len(attack.fake_users) == round(0.05 * n_real)
    frame = attack.interactions.frame
    fake = frame[frame["user_id"].isin(attack.fake_users)]
    assert set(fake["user_id"]) == set(attack.fake_users)
    assert len(frame) - len(fake) == len(train)  # real events untouched
    assert (fake.groupby("user_id")["item_id"].apply(lambda s: attack.targets[0] in set(s))).all()
    end = train.frame["timestamp"].max()
    assert fake["timestamp"].between(end - 7 * DAY, end).all()
    again = simulate_attack(train, AttackConfig(kind, fraction=0.05), random_state=0)
    pd.testing.assert_frame_equal(again.interactions.frame, attack.interactions.frame)


def test_simulate_attack_on_order_only_data_uses_positions(shop) -> None:
    frame = shop.split.train.frame.copy()
    frame["timestamp"] = frame.groupby("user_id").cumcount()
    train = Interactions(frame, has_timestamps=False)
    attack = simulate_attack(train, AttackConfig("average", fraction=0.05), random_state=0)
    assert not attack.interactions.has_timestamps
    fake = attack.interactions.frame
    fake = fake[fake["user_id"].isin(attack.fake_users)]
    positions = fake.groupby("user_id")["timestamp"].agg(["min", "max", "size"])
    assert (positions["min"] == 0).all() and (positions["max"] == positions["size"] - 1).all()


def test_attack_config_is_validated() -> None:
    with pytest.raises(ValueError, match="unknown attack kind"):
        AttackConfig("ddos")
    with pytest.raises(ValueError, match="fraction"):
        AttackConfig("average", fraction=1.5)


@pytest.mark.parametrize("kind", ["click_bot", "purchase_burst", "average"])
def test_detector_finds_attacks_and_spares_real_users(shop, kind: str) -> None:
    train = shop.split.train
    config = AttackConfig(kind, fraction=0.05, window_days=1.0)
    attack = simulate_attack(train, config, random_state=1)
    detector = AbuseDetector(random_state=0).fit(attack.interactions, shop.catalog)
    flagged = detector.flagged_users_
    users = attack.interactions.user_ids
    real = ~np.isin(users, attack.fake_users)
    assert np.isin(attack.fake_users, flagged).mean() >= 0.9
    assert np.isin(users[real], flagged).mean() <= 0.03
    flags = detector.flags()
    assert flags["reason"].str.len().gt(0).all()
    if kind != "click_bot":
        assert attack.targets[0] in detector.suspicious_items_.index


def test_detector_is_reproducible_and_needs_fit(shop) -> None:
    with pytest.raises(NotFittedError):
        AbuseDetector().flags()
    train = shop.split.train
    first = AbuseDetector(random_state=4).fit(train).user_scores_
    second = AbuseDetector(random_state=4).fit(train).user_scores_
    pd.testing.assert_frame_equal(first, second)


def test_quarantine_holds_flagged_events_apart(shop) -> None:
    train = shop.split.train
    users = [*train.user_ids[:5], "nobody"]
    result = quarantine(train, users)
    assert len(result.interactions) + len(result.held) == len(train)
    assert set(result.held.frame["user_id"]) == set(users[:5])
    assert not result.interactions.frame["user_id"].isin(users).any()
    assert list(result.users) == sorted(users)
