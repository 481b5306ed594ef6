"""Online measurement: attribution with known answers, experiments, and the statistics."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shoprec.data import Catalog, Event, EventType
from shoprec.exceptions import ValidationError
from shoprec.online import (
    AttributionConfig,
    ExperimentConflictError,
    ExperimentNotFoundError,
    Variant,
    attributed_impressions,
    compare_variants,
    get_experiment,
    list_experiments,
    online_metrics,
    running_experiment,
    start_experiment,
    stop_experiment,
)
from shoprec.online._measurement import _ratio
from shoprec.store import EventContext, Impression, MemoryStore

MIN = 60_000
T0 = 1_704_067_200_000  # 2024-01-01


def ev(user: str, item: str, t: int, kind: str, quantity: int = 1) -> Event:
    return Event(user, item, EventType(kind), T0 + t, quantity=quantity)


@pytest.fixture
def shop() -> MemoryStore:
    """u1 is shown a,b,c (r1) then b,d (r2); u2 is shown a,b (r3). Prices: a 10, b 20."""
    store = MemoryStore()
    catalog = Catalog(pd.DataFrame({"item_id": list("abcd"), "title": list("ABCD"),
                                    "price": [10.0, 20.0, 5.0, 1.0]}))  # fmt: skip
    store.upsert_items([catalog.item(i) for i in "abcd"])
    store.append_impressions([
        Impression("r1", "u1", ("a", "b", "c"), T0, "v1", "e", "A"),
        Impression("r2", "u1", ("b", "d"), T0 + 10 * MIN, "v2", "e", "B"),
        Impression("r3", "u2", ("a", "b"), T0 + 1 * MIN, "v1", "e", "A"),
    ])  # fmt: skip
    seqs = store.append([
        ev("u1", "a", 2 * MIN, "click"),  # r1 pos 0 by the window
        ev("u1", "a", 3 * MIN, "purchase", quantity=2),  # r1, revenue 20
        ev("u1", "b", 11 * MIN, "click"),  # explicit r1 below, though r2 showed b later
        ev("u1", "d", 12 * MIN, "click"),  # r2 pos 1
        ev("u1", "d", 13 * MIN, "cart"),
        ev("u2", "b", 2 * MIN, "click"),  # r3 pos 1, dwell reported 5 s
        ev("u2", "c", 3 * MIN, "click"),  # c was never shown to u2: unattributed
        ev("u3", "a", 4 * MIN, "click"),  # another user
        ev("u1", "a", 3 * 86_400_000, "click"),  # after the 24 h window
    ]).sequences  # fmt: skip
    store.append_contexts([EventContext(seqs[2], "r1", 1), EventContext(seqs[5], "", -1, 5000)])
    return store


def test_attribution_by_request_id_and_by_latest_impression_in_window(shop: MemoryStore) -> None:
    frame = attributed_impressions(shop).set_index(["request_id", "position"])
    clicked = frame.index[frame["clicked"]].tolist()
    assert sorted(clicked) == [("r1", 0), ("r1", 1), ("r2", 1), ("r3", 1)]
    assert frame.index[frame["purchased"]].tolist() == [("r1", 0)]
    assert frame.index[frame["carted"]].tolist() == [("r2", 1)]
    assert frame.loc[("r1", 0), "revenue"] == 20.0
    assert frame["revenue"].sum() == 20.0
    # dwell: reported 5 s for r3; else the gap to the user's next event (1 min), capped
    assert frame.loc[("r3", 1), "dwell_ms"] == 5000
    assert frame.loc[("r1", 0), "dwell_ms"] == MIN
    assert frame.loc[("r2", 1), "dwell_ms"] == MIN
    capped = attributed_impressions(shop, config=AttributionConfig(dwell_cap_ms=30_000))
    assert capped.set_index(["request_id", "position"]).loc[("r1", 0), "dwell_ms"] == 30_000
    assert math.isnan(frame.loc[("r1", 2), "dwell_ms"])  # not clicked


def test_online_metrics_per_version_variant_and_day(shop: MemoryStore) -> None:
    table = online_metrics(shop, by=("version", "variant", "day"))
    v1 = table[table["version"] == "v1"].iloc[0]
    assert (v1["impressions"], v1["lists"], v1["users"], v1["clicks"]) == (5, 2, 2, 3)
    assert v1["ctr"] == pytest.approx(3 / 5)
    assert v1["conversion"] == pytest.approx(1 / 5)
    assert v1["revenue_per_impression"] == pytest.approx(20 / 5)
    assert v1["day"] == "2024-01-01" and v1["variant"] == "A"
    v2 = table[table["version"] == "v2"].iloc[0]
    assert (v2["ctr"], v2["add_to_cart"]) == (0.5, 0.5)
    assert online_metrics(MemoryStore()).empty


def test_attribution_config_refuses_non_positive_windows() -> None:
    with pytest.raises(ValidationError):
        AttributionConfig(window_ms=0)


def test_experiments_assign_deterministically_and_survive_a_new_store_object(
    tmp_path: Path,
) -> None:
    from shoprec.store import SQLiteStore

    path = tmp_path / "s.db"
    with SQLiteStore(path) as store:
        exp = start_experiment(store, "rank-v2", [Variant("A", "p1"), Variant("B", "p2", 3.0)])
        with pytest.raises(ExperimentConflictError, match="running"):
            start_experiment(store, "other", [Variant("A"), Variant("B")])
        with pytest.raises(ValidationError, match="two variants"):
            start_experiment(store, "x", [Variant("A")])
    with SQLiteStore(path) as store:  # a restart
        again = running_experiment(store)
        assert again == exp
        users = [f"u{i}" for i in range(4000)]
        first = [exp.assign(u).name for u in users]
        assert first == [again.assign(u).name for u in users]
        share_b = first.count("B") / len(first)
        assert abs(share_b - 0.75) < 0.03  # weights 1:3
        stopped = stop_experiment(store, "rank-v2")
        assert not stopped.running and running_experiment(store) is None
        with pytest.raises(ExperimentConflictError, match="not running"):
            stop_experiment(store, "rank-v2")
        with pytest.raises(ExperimentConflictError, match="exists"):
            start_experiment(store, "rank-v2", [Variant("A"), Variant("B")])
        with pytest.raises(ExperimentNotFoundError):
            get_experiment(store, "nope")
        assert [e.name for e in list_experiments(store)] == ["rank-v2"]


def test_delta_method_ratio_matches_a_bootstrap() -> None:
    rng = np.random.default_rng(0)
    den = rng.integers(1, 30, 400).astype(float)
    num = rng.binomial(den.astype(int), rng.beta(2, 20, 400)).astype(float)
    estimate = _ratio(num, den)
    boot = []
    for _ in range(2000):
        pick = rng.integers(0, 400, 400)
        boot.append(num[pick].sum() / den[pick].sum())
    assert estimate.se == pytest.approx(np.std(boot), rel=0.1)
    assert estimate.value == pytest.approx(num.sum() / den.sum())


def _rows(variant: str, users: int, rate: float, rng: np.random.Generator) -> pd.DataFrame:
    shown = rng.integers(5, 40, users)
    user_rate = rng.beta(rate * 20, (1 - rate) * 20, users)  # users differ: clustered clicks
    rows = []
    for u in range(users):
        clicks = rng.random(shown[u]) < user_rate[u]
        rows += [(f"{variant}{u}", f"r{variant}{u}", bool(c), variant) for c in clicks]
    frame = pd.DataFrame(rows, columns=["user_id", "request_id", "clicked", "variant"])
    return frame.assign(carted=False, purchased=False, revenue=0.0)


def test_aa_tests_reject_at_the_nominal_rate_and_a_real_difference_is_found() -> None:
    rng = np.random.default_rng(1)
    rejections = 0
    for _ in range(100):
        frame = pd.concat([_rows("A", 150, 0.1, rng), _rows("B", 150, 0.1, rng)])
        result = compare_variants(frame, ("A", "B"), metrics=("ctr",))
        rejections += result[1].p_value < 0.05
    assert rejections <= 11  # 5% nominal; 11 is beyond 99% of Binomial(100, .05)
    frame = pd.concat([_rows("A", 300, 0.10, rng), _rows("B", 300, 0.13, rng)])
    control, treatment = compare_variants(frame, ("A", "B"), metrics=("ctr",))
    assert treatment.p_value < 0.05 and treatment.lift > 0
    assert control.estimate.low < control.estimate.value < control.estimate.high
