from __future__ import annotations

import pandas as pd
import pytest

from shoprec.data import Interactions, leave_one_out, temporal_split, temporal_split_at
from shoprec.exceptions import ValidationError


def test_leave_one_out_holds_out_last_two(tiny_interactions: Interactions) -> None:
    split = leave_one_out(tiny_interactions)
    test = dict(zip(split.test.frame["user_id"], split.test.frame["item_id"], strict=True))
    valid = dict(zip(split.valid.frame["user_id"], split.valid.frame["item_id"], strict=True))
    assert test == {"u1": "d", "u2": "e", "u3": "b"}
    assert valid == {"u1": "c", "u2": "c", "u3": "a"}
    assert len(split.train) == 6
    assert split.protocol == "loo"
    assert len(split.train_valid) == 9


def test_leave_one_out_keeps_short_users_in_train() -> None:
    frame = pd.DataFrame(
        {"user_id": ["s", "s", "l", "l", "l"], "item_id": list("abcde"), "event_type": "view"}
    )
    split = leave_one_out(Interactions(frame))
    assert set(split.train.frame["user_id"]) == {"s", "l"}
    assert list(split.test.frame["user_id"]) == ["l"]


def test_leave_one_out_ignores_searches_as_targets() -> None:
    frame = pd.DataFrame(
        {
            "user_id": ["u"] * 4,
            "item_id": ["a", "b", "c", ""],
            "event_type": ["view", "view", "view", "search"],
            "query": ["", "", "", "shoes"],
        }
    )
    split = leave_one_out(Interactions(frame))
    assert list(split.test.frame["item_id"]) == ["c"]
    assert "" in set(split.train.frame["item_id"])


def test_leave_one_out_is_deterministic(random_interactions: Interactions) -> None:
    first, second = leave_one_out(random_interactions), leave_one_out(random_interactions)
    pd.testing.assert_frame_equal(first.test.frame, second.test.frame)


def test_temporal_split_cuts_globally(tiny_interactions: Interactions) -> None:
    split = temporal_split_at(tiny_interactions, valid_start=9, test_start=11)
    assert split.train.frame["timestamp"].max() < 9
    assert list(split.valid.frame["timestamp"]) == [9, 10]
    assert list(split.test.frame["timestamp"]) == [11, 12]
    by_fraction = temporal_split(tiny_interactions, valid_fraction=0.2, test_fraction=0.2)
    assert len(by_fraction.train) + len(by_fraction.valid) + len(by_fraction.test) == 12
    assert by_fraction.train.frame["timestamp"].max() < by_fraction.test.frame["timestamp"].min()


def test_temporal_split_refuses_order_only_data() -> None:
    frame = pd.DataFrame({"user_id": ["u"] * 3, "item_id": list("abc"), "event_type": "view"})
    with pytest.raises(ValidationError, match="order-only"):
        temporal_split(Interactions(frame))
