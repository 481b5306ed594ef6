"""Item features and user portraits: known answers, O(1) updates, incremental == batch, JSON."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from shoprec.data import Catalog, Event, EventType, Interactions, Item
from shoprec.exceptions import ValidationError
from shoprec.profiles import (
    MS_PER_DAY,
    Intent,
    ItemFeatures,
    PortraitConfig,
    UserPortrait,
    build_portraits,
)
from shoprec.text import PriceBand, price_bands, sentiment_score

DAY = MS_PER_DAY
# Five headphones priced 10..50 give their category its own terciles (23.3, 36.7); the speakers
# (fewer than five) fall back to the catalog's terciles over all seven prices.
ITEMS = [
    ("h1", "Sony", "Headphones", 10.0),
    ("h2", "Sony", "Headphones", 20.0),
    ("h3", "Bose", "Headphones", 30.0),
    ("h4", "Sony", "Headphones", 40.0),
    ("h5", "Bose", "Headphones", 50.0),
    ("s1", "Sony", "Speakers", 5.0),
    ("s2", "JBL", "Speakers", 300.0),
    ("c1", "", "", None),
]


def _catalog(rows: list[tuple[str, str, str, float | None]]) -> Catalog:
    return Catalog.from_items(
        Item(
            item_id,
            f"{leaf} {item_id}",
            brand=brand,
            category=("Electronics", leaf) if leaf else (),
            price=price,
        )
        for item_id, brand, leaf, price in rows
    )


@pytest.fixture
def features() -> ItemFeatures:
    """One-hot embeddings (item i is unit vector i) and one keyword per item."""
    keywords = [[(f"kw-{row[0]}", 1.0)] for row in ITEMS]
    return ItemFeatures.from_catalog(
        _catalog(ITEMS), np.eye(len(ITEMS)), keywords=keywords, sentiment={"h1": 0.5}
    )


def _event(item: str, kind: str, day: float, **kwargs: object) -> Event:
    return Event("u", item, EventType(kind), int(day * DAY), **kwargs)  # type: ignore[arg-type]


# -- item features ---------------------------------------------------------------------------
def test_item_features_lookup_and_price_bands(features: ItemFeatures) -> None:
    h1 = features["h1"]
    assert (h1.index, h1.brand, h1.category, h1.leaf_category) == (
        0,
        "Sony",
        ("Electronics", "Headphones"),
        "Headphones",
    )
    assert h1.keywords == (("kw-h1", 1.0),) and h1.sentiment == 0.5
    np.testing.assert_array_equal(h1.embedding, np.eye(len(ITEMS))[0])
    bands = [features[i].price_band for i in ("h1", "h2", "h3", "h4", "h5")]
    assert bands == ["budget", "budget", "mid-range", "premium", "premium"]
    assert features.price_thresholds(("Electronics", "Headphones")) == pytest.approx(
        (70 / 3, 110 / 3)
    )
    assert features.price_thresholds("Electronics > Headphones") == pytest.approx((70 / 3, 110 / 3))
    low, high = np.quantile([10, 20, 30, 40, 50, 5, 300], [1 / 3, 2 / 3])
    assert features.price_thresholds(("Electronics", "Speakers")) == pytest.approx((low, high))
    assert features["s1"].price_band is PriceBand.BUDGET
    assert features["s2"].price_band is PriceBand.PREMIUM
    assert features["c1"].price is None and features["c1"].price_band is None
    assert features.get("nope") is None and features.index_of("s2") == 6
    # one rule for features and item texts
    assert [band or "" for band in features.price_bands] == price_bands(_catalog(ITEMS))
    with pytest.raises(KeyError):
        features["nope"]


def test_add_items_appends_rows_with_existing_thresholds(features: ItemFeatures) -> None:
    new = _catalog([("h6", "Sony", "Headphones", 45.0), ("t1", "LG", "TVs", 1.0)])
    features.add_items(new, np.ones((2, len(ITEMS))) / math.sqrt(len(ITEMS)))
    assert len(features) == len(ITEMS) + 2 and features.index_of("t1") == len(ITEMS) + 1
    assert features["h6"].price_band is PriceBand.PREMIUM
    assert features["t1"].price_band is PriceBand.BUDGET  # unseen leaf: global terciles
    assert features["h6"].keywords == () and features["h6"].sentiment is None
    with pytest.raises(ValidationError, match="already has features"):
        features.add_items(new, np.ones((2, len(ITEMS))))
    with pytest.raises(ValidationError, match="dim"):
        features.add_items(_catalog([("x", "", "", None)]), np.ones((1, 3)))


def test_from_catalog_validates_embeddings_and_fits_keywords() -> None:
    catalog = Catalog.from_items(
        [Item("a", "usb cable"), Item("b", "usb charger"), Item("c", "hdmi cable")]
    )
    with pytest.raises(ValidationError, match="shape"):
        ItemFeatures.from_catalog(catalog, np.ones((2, 4)))
    features = ItemFeatures.from_catalog(catalog, np.eye(3))
    assert [term for term, _ in features["a"].keywords] == ["cable", "usb"]
    features.add_items(Catalog.from_items([Item("d", "usb hub")]), np.ones((1, 3)))
    assert [term for term, _ in features["d"].keywords] == ["usb"]  # the fitted vocabulary


# -- portraits: known answers ----------------------------------------------------------------
def test_event_type_weights(features: ItemFeatures) -> None:
    portrait = UserPortrait.build([_event("h1", "view", 0), _event("s1", "purchase", 0)], features)
    assert portrait.top_categories() == [
        ("Speakers", pytest.approx(8 / 9)),
        ("Headphones", pytest.approx(1 / 9)),
    ]
    assert portrait.top_brands() == [("Sony", pytest.approx(1.0))]
    expected = np.zeros(len(ITEMS))
    expected[[0, 5]] = [1, 8]
    np.testing.assert_allclose(portrait.interest_vector(), expected / np.linalg.norm(expected))


def test_recency_halves_weight_after_one_half_life(features: ItemFeatures) -> None:
    config = PortraitConfig(half_life_days=1.0)
    portrait = UserPortrait.build(
        [_event("h1", "view", 0), _event("s2", "view", 1)], features, config
    )
    shares = dict(portrait.top_categories())
    assert shares["Headphones"] / shares["Speakers"] == pytest.approx(0.5)
    assert dict(portrait.top_keywords())["kw-h1"] == pytest.approx(1 / 3)
    expected = np.zeros(len(ITEMS))
    expected[[0, 6]] = [0.5, 1.0]
    np.testing.assert_allclose(portrait.interest_vector(), expected / np.linalg.norm(expected))


def test_intent_flips_to_buying_after_purchases(features: ItemFeatures) -> None:
    portrait = UserPortrait(config=PortraitConfig(half_life_days=None))
    assert portrait.intent() == (Intent.UNKNOWN, 0.0)
    for day, item in enumerate(["h1", "h2", "h3", "h4"]):
        portrait.update(_event(item, "view", day), features)
    assert portrait.intent() == (Intent.BROWSING, 0.0)
    portrait.update(_event("h1", "purchase", 5), features)
    assert portrait.intent() == (Intent.BROWSING, pytest.approx(1 / 5))
    portrait.update(_event("h2", "cart", 6), features)
    assert portrait.intent() == (Intent.BUYING, pytest.approx(2 / 6))


def test_price_band_and_log_price_statistics(features: ItemFeatures) -> None:
    cheap = UserPortrait.build([_event("h1", "purchase", 0), _event("h2", "purchase", 0)], features)
    assert cheap.price_band() is PriceBand.BUDGET
    typical, spread = cheap.price_stats()  # type: ignore[misc]
    assert typical == pytest.approx(math.sqrt(10 * 20))
    assert spread == pytest.approx(math.log(2) / 2)
    # premium headphones and a premium speaker; the unpriced item does not count
    dear = UserPortrait.build([_event(i, "view", 0) for i in ("h4", "h5", "s2", "c1")], features)
    assert dear.price_band() is PriceBand.PREMIUM
    mixed = UserPortrait.build([_event(i, "view", 0) for i in ("h1", "h5", "h3")], features)
    assert mixed.price_band() is PriceBand.MID_RANGE
    assert UserPortrait.build([_event("c1", "view", 0)], features).price_band() is None


def test_search_queries_feed_keywords(features: ItemFeatures) -> None:
    portrait = UserPortrait.build([_event("", "search", 0, query="Wireless earbuds")], features)
    assert portrait.top_keywords() == [
        ("earbuds", pytest.approx(0.5)),
        ("wireless", pytest.approx(0.5)),
    ]
    assert portrait.top_categories() == [] and portrait.event_counts["search"] == 1
    assert portrait.summary() == "Interested in earbuds and wireless, recently browsing."


def test_sentiment_uses_review_text_and_rating_fallback(features: ItemFeatures) -> None:
    portrait = UserPortrait.build(
        [
            _event("h1", "review", 0, review="Excellent, I love it", rating=5.0),
            _event("h2", "rating", 1, rating=2.0),
            _event("h3", "view", 2),
        ],
        features,
    )
    assert portrait.sentiment() == pytest.approx(
        (sentiment_score("Excellent, I love it") - 0.5) / 2
    )
    assert portrait.sentiment_counts == {"review": 1, "rating": 1}
    assert UserPortrait().sentiment() is None


def test_summary_sentence(features: ItemFeatures) -> None:
    events = [
        _event("h3", "purchase", 0),  # Bose, mid-range
        _event("h4", "purchase", 1),  # Sony, premium
        _event("s1", "purchase", 2),  # Sony, budget
        _event("h3", "view", 3),
    ]
    portrait = UserPortrait.build(events, features)
    assert portrait.summary() == (
        "Mostly buys Headphones and Speakers from Sony and Bose, mid-range, recently buying."
    )
    assert UserPortrait().summary() == "No activity yet."


def test_recent_items_are_distinct_bounded_and_newest_first(features: ItemFeatures) -> None:
    portrait = UserPortrait(config=PortraitConfig(max_recent_items=3))
    for day, item in enumerate(["h1", "h2", "h1", "h3", "h4"]):
        portrait.update(_event(item, "view", day), features)
    assert portrait.recent_items == ["h4", "h3", "h1"]
    portrait.update(_event("h5", "view", 0.5), features)  # late and older than all kept: dropped
    assert portrait.recent_items == ["h4", "h3", "h1"]
    portrait.update(_event("h2", "view", 2.5), features)  # late but newer than h1's 2
    assert portrait.recent_items == ["h4", "h3", "h2"]


def test_unknown_items_are_skipped_and_counted(features: ItemFeatures) -> None:
    portrait = UserPortrait.build(
        [_event("h1", "view", 0), _event("ghost", "purchase", 1)], features
    )
    assert portrait.unknown_items == 1
    assert dict(portrait.event_counts) == {"view": 1}
    assert portrait.last_event_time == 0 and portrait.recent_items == ["h1"]


def test_empty_portrait_reads_are_neutral(features: ItemFeatures) -> None:
    portrait = UserPortrait(dim=features.dim)
    np.testing.assert_array_equal(portrait.interest_vector(), np.zeros(features.dim))
    assert portrait.top_categories() == [] and portrait.price_band() is None
    assert portrait.price_stats() is None and portrait.recent_items == []


def test_events_of_another_user_are_refused(features: ItemFeatures) -> None:
    portrait = UserPortrait.build([_event("h1", "view", 0)], features)
    with pytest.raises(ValidationError, match="user"):
        portrait.update(Event("other", "h1", EventType.VIEW, 1), features)


def test_config_is_validated_and_frozen() -> None:
    with pytest.raises(ValidationError):
        PortraitConfig(half_life_days=0)
    with pytest.raises(ValidationError):
        PortraitConfig(view_weight=-1)
    config = PortraitConfig()
    with pytest.raises(AttributeError):
        config.view_weight = 3.0  # type: ignore[misc]
    weights = [config.weight(t) for t in ("view", "click", "cart", "purchase")]
    assert weights == sorted(weights) and len(set(weights)) == 4


# -- O(1) updates, incremental == batch, persistence ------------------------------------------
def _many_features(n: int) -> ItemFeatures:
    """``n`` items, each with its own leaf category, brand and keywords."""
    rows = [(f"i{k}", f"brand{k}", f"cat{k}", float(k + 1)) for k in range(n)]
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(n, 16))
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    keywords = [[(f"kw{k}", 0.8), (f"kw{k}b", 0.6)] for k in range(n)]
    return ItemFeatures.from_catalog(_catalog(rows), embeddings, keywords=keywords)


def test_update_work_does_not_grow_with_history() -> None:
    features = _many_features(400)
    kinds = ["view", "click", "cart", "purchase", "search"]
    next_event = Event("u", "i0", EventType.PURCHASE, 10**9, query="red shoes")
    touches = []
    for n_history in (1, 10, 300):
        portrait = UserPortrait()
        for k in range(n_history):
            kind = EventType(kinds[k % len(kinds)])
            query = f"word{k} other{k}" if kind is EventType.SEARCH else ""
            item = "" if kind is EventType.SEARCH else f"i{k + 1}"
            portrait.update(Event("u", item, kind, k * 1000, query=query), features)
        assert len(portrait.top_keywords(10**6)) > n_history  # many keys to loop over, if we did
        before, stored = portrait.touches, _stored_times(portrait)
        portrait.update(next_event, features)
        touches.append(portrait.touches - before)
        changed = {k for k, t in _stored_times(portrait).items() if stored.get(k) != t}
        assert len(changed) == 6  # no eager decay of the other keys: their times stay put
    # intent, 2 query words, embedding, category, brand, 2 keywords, price: 9 accumulators
    assert touches == [9, 9, 9]


def _stored_times(portrait: UserPortrait) -> dict[tuple[str, str], int]:
    """The last-update time of every keyed accumulator (white-box, for the O(1) test)."""
    stores = {
        "categories": portrait._categories,
        "brands": portrait._brands,
        "keywords": portrait._keywords,
    }
    return {(name, key): e.time for name, store in stores.items() for key, e in store.items()}


def _random_events(features: ItemFeatures, n: int, seed: int) -> list[Event]:
    rng = np.random.default_rng(seed)
    kinds = ["view", "view", "click", "cart", "purchase", "search", "rating"]
    times = rng.choice(60 * DAY, size=n, replace=False)  # distinct times: no tie ambiguity
    events = []
    for t in times:
        kind = EventType(kinds[rng.integers(len(kinds))])
        item = "" if kind is EventType.SEARCH else features.item_ids[rng.integers(len(features))]
        events.append(
            Event(
                "u",
                item,
                kind,
                int(t),
                rating=float(rng.integers(1, 6)) if kind is EventType.RATING else None,
                query=f"term{rng.integers(5)} shoes" if kind is EventType.SEARCH else "",
            )
        )
    return events


def _assert_same(a: UserPortrait, b: UserPortrait, rel: float = 1e-9) -> None:
    def check(x: list[tuple[str, float]], y: list[tuple[str, float]]) -> None:
        assert dict(x) == pytest.approx(dict(y), rel=rel, abs=1e-12)

    check(a.top_categories(10**6), b.top_categories(10**6))
    check(a.top_brands(10**6), b.top_brands(10**6))
    check(a.top_keywords(10**6), b.top_keywords(10**6))
    np.testing.assert_allclose(a.interest_vector(), b.interest_vector(), rtol=1e-5, atol=1e-6)
    assert a.intent()[0] is b.intent()[0]
    assert a.intent()[1] == pytest.approx(b.intent()[1], rel=rel)
    assert a.price_band() is b.price_band()
    assert a.price_stats() == pytest.approx(b.price_stats(), rel=rel)
    if b.sentiment() is None:
        assert a.sentiment() is None
    else:
        assert a.sentiment() == pytest.approx(b.sentiment(), rel=rel)
    assert a.event_counts == b.event_counts and a.last_event_time == b.last_event_time
    assert a.recent_items == b.recent_items


def test_incremental_updates_in_any_order_equal_the_batch_rebuild() -> None:
    features = _many_features(30)
    config = PortraitConfig(half_life_days=7.0, max_recent_items=5)
    events = _random_events(features, 200, seed=1)
    batch = UserPortrait.build(events, features, config)
    for seed in range(3):
        shuffled = [events[i] for i in np.random.default_rng(seed).permutation(len(events))]
        incremental = UserPortrait(config=config)
        for event in shuffled:
            incremental.update(event, features)
        _assert_same(incremental, batch)
    assert batch.top_categories(1)[0][1] > 0  # the comparison was not over empty portraits


def test_json_round_trip_is_exact_to_the_stored_precision() -> None:
    features = _many_features(30)
    events = _random_events(features, 80, seed=2)
    portrait = UserPortrait.build(events, features, PortraitConfig(half_life_days=3.0))
    text = portrait.to_json()
    data = json.loads(text)
    embedding, _ = data["vectors"]["interest"]
    assert len(embedding) == 16 and all(isinstance(v, float) for v in embedding)
    restored = UserPortrait.from_json(text)
    assert restored.to_json() == text
    assert restored.config == portrait.config and restored.user_id == "u"
    _assert_same(restored, portrait, rel=1e-5)
    assert restored.summary() == portrait.summary()
    late = Event("u", "i3", EventType.PURCHASE, 61 * DAY)
    restored.update(late, features)
    portrait.update(late, features)
    _assert_same(restored, portrait, rel=1e-5)  # a restored portrait keeps updating
    with pytest.raises(ValidationError, match="version"):
        UserPortrait.from_dict({**data, "version": 99})


def test_build_portraits_groups_interactions_by_user(features: ItemFeatures) -> None:
    events = [
        Event("a", "h1", EventType.VIEW, 1),
        Event("b", "s2", EventType.PURCHASE, 2),
        Event("a", "h2", EventType.PURCHASE, 3),
    ]
    portraits = build_portraits(Interactions.from_events(events), features)
    assert list(portraits) == ["a", "b"]
    assert portraits["a"].recent_items == ["h2", "h1"]
    assert portraits["b"].top_brands() == [("JBL", pytest.approx(1.0))]
    _assert_same(portraits["a"], UserPortrait.build(events[::2], features))
