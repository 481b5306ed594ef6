"""The synthetic shop: deterministic, fast, realistic, and with signal a recommender can learn."""

from __future__ import annotations

import time
from collections import Counter, defaultdict

import numpy as np
import pandas as pd
import pytest

from shoprec.data import Dataset
from shoprec.datasets import make_synthetic_shop

START_MS = 1_704_067_200_000  # 2024-01-01 UTC
DAY_MS = 86_400_000


@pytest.fixture(scope="module")
def shop() -> Dataset:
    return make_synthetic_shop()


def events(dataset: Dataset) -> pd.DataFrame:
    split = dataset.split
    return pd.concat([split.train.frame, split.valid.frame, split.test.frame], ignore_index=True)


def test_same_seed_same_data_other_seed_other_data(shop: Dataset) -> None:
    again = make_synthetic_shop()
    pd.testing.assert_frame_equal(shop.catalog.frame, again.catalog.frame)
    for part in ("train", "valid", "test"):
        pd.testing.assert_frame_equal(
            getattr(shop.split, part).frame, getattr(again.split, part).frame
        )
    other = make_synthetic_shop(random_state=1)
    assert not shop.catalog.frame.equals(other.catalog.frame)
    assert not events(shop).equals(events(other))


def test_fast() -> None:
    start = time.process_time()  # CPU time: robust to other jobs on the machine
    make_synthetic_shop(random_state=3)
    assert time.process_time() - start < 2.0


def test_shape_and_protocol(shop: Dataset) -> None:
    assert shop.name == "synthetic" and "800 users" in shop.description
    assert shop.split.protocol == "temporal"
    assert len(shop.catalog) == 400
    frame = events(shop)
    assert frame["user_id"].nunique() == 800
    assert set(frame.loc[frame["item_id"] != "", "item_id"]) <= set(shop.catalog.item_ids)
    assert set(frame["platform"]) == set(shop.catalog.frame["platform"]) == {"synthetic_shop"}
    small = make_synthetic_shop(n_users=30, n_items=40, platform="tiny", random_state=2)
    assert len(small.catalog) == 40 and events(small)["user_id"].nunique() == 30


def test_event_mix(shop: Dataset) -> None:
    kinds = events(shop)["event_type"].value_counts()
    assert kinds["view"] > kinds["click"] > kinds["cart"] > kinds["purchase"] > kinds["rating"] > 0
    assert kinds["search"] > 0
    frame = events(shop)
    searches = frame[frame["event_type"] == "search"]
    assert (searches["item_id"] == "").all() and (searches["query"] != "").all()
    others = frame[frame["event_type"] != "search"]
    assert (others["item_id"] != "").all() and (others["query"] == "").all()
    ratings = frame.loc[frame["event_type"] == "rating", "rating"]
    assert set(ratings) <= {1.0, 2.0, 3.0, 4.0, 5.0} and ratings.nunique() >= 3
    assert frame.loc[frame["event_type"] != "rating", "rating"].isna().all()


def test_timestamps_span_a_few_months_in_ms(shop: Dataset) -> None:
    ts = events(shop)["timestamp"]
    assert ts.min() >= START_MS and ts.max() < START_MS + 121 * DAY_MS
    assert ts.max() - ts.min() > 100 * DAY_MS
    split = shop.split
    assert split.train.frame["timestamp"].max() <= split.test.frame["timestamp"].min()


def test_catalog_looks_like_a_shop(shop: Dataset) -> None:
    items = shop.catalog.frame
    paths = items["category"].str.split(" > ")
    assert (paths.map(len) == 3).all() and items["category"].nunique() == 18
    assert "Electronics > Audio > Headphones" in set(items["category"])
    titled = zip(items["title"], items["brand"], strict=True)
    assert all(title.startswith(brand + " ") for title, brand in titled)
    assert items["title"].nunique() > 0.75 * len(items)
    assert (items["price"] > 0).all()
    medians = items.groupby("category")["price"].median()
    assert (
        medians["Sports > Running > Running Shoes"]
        > 3 * medians["Sports > Running > Running Socks"]
    )
    # Brands belong to a parent category (two leaves), not to the whole shop.
    parents = items.groupby("brand")["category"].agg(
        lambda c: c.str.rsplit(" > ", n=1).str[0].nunique()
    )
    assert (parents == 1).all()
    attributes = [shop.catalog.item(i).attributes for i in items["item_id"][:20]]
    assert all("color" in a and len(a) == 2 for a in attributes)


def test_new_items_appear_only_late() -> None:
    def late_items(fraction: float) -> int:
        dataset = make_synthetic_shop(n_users=400, new_item_fraction=fraction, random_state=5)
        frame = events(dataset)
        first = frame[frame["item_id"] != ""].groupby("item_id")["timestamp"].min()
        return int((first >= START_MS + 0.55 * 120 * DAY_MS).sum())

    assert late_items(0.2) >= 50  # ~80 new items of 400
    assert late_items(0.0) <= 15


def test_users_have_concentrated_tastes(shop: Dataset) -> None:
    frame = events(shop)
    frame = frame[frame["item_id"] != ""].merge(
        shop.catalog.frame[["item_id", "category"]], on="item_id"
    )
    top_two = frame.groupby("user_id")["category"].agg(
        lambda c: c.value_counts().iloc[:2].sum() / len(c)
    )
    assert top_two.median() > 0.6  # 18 leaves: uniform taste would give ~0.11


def hit_rate(
    recommend: dict[str, list[str]], history: dict[str, list[str]], future: dict[str, list[str]]
) -> float:
    hits = [bool(set(recommend[u]) & (set(future[u]) - set(history[u]))) for u in recommend]
    return float(np.mean(hits))


def test_cooccurrence_clearly_beats_popularity(shop: Dataset) -> None:
    """An 8-line item-to-item model must beat global popularity: the data has learnable signal."""
    history = shop.split.train.histories()
    future = shop.split.test.histories()
    co: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for items in history.values():
        distinct = [a for a, b in zip(items, [None, *items[:-1]], strict=True) if a != b]
        for i, a in enumerate(distinct):
            for b in distinct[i + 1 : i + 4]:  # items within three steps of each other
                if a != b:
                    co[a][b] += 1
                    co[b][a] += 1
    popular = [item for item, _ in Counter(np.concatenate(list(history.values()))).most_common()]
    users = [
        u for u in future if u in history and set(future[u]) - set(history[u])
    ]  # warm users with something new to find
    assert len(users) > 100
    by_popularity, by_cooccurrence = {}, {}
    for user in users:
        seen = set(history[user])
        by_popularity[user] = [i for i in popular if i not in seen][:10]
        scores: Counter[str] = Counter()
        recent = list(dict.fromkeys(history[user][::-1]))[:5]
        for weight, anchor in zip((1.0, 0.8, 0.6, 0.4, 0.2), recent, strict=False):
            for item, count in co[anchor].items():
                scores[item] += weight * count
        ranked = [i for i, _ in scores.most_common() if i not in seen]
        by_cooccurrence[user] = (ranked + [i for i in by_popularity[user] if i not in ranked])[:10]
    popularity_hr = hit_rate(by_popularity, history, future)
    cooccurrence_hr = hit_rate(by_cooccurrence, history, future)
    assert popularity_hr > 0.05  # popularity is a real baseline, not a strawman
    assert cooccurrence_hr > 1.8 * popularity_hr


@pytest.mark.parametrize(
    "kwargs",
    [{"n_users": 0}, {"n_items": 1}, {"n_days": 0}, {"new_item_fraction": 1.0}],
)
def test_invalid_arguments(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        make_synthetic_shop(**kwargs)  # type: ignore[arg-type]
