"""Content-based recommendation, semantic search, similar items and text cold start."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shoprec.data import Catalog, Interactions
from shoprec.exceptions import NotFittedError, ValidationError
from shoprec.index import SemanticSearch
from shoprec.models import ContentBased, load_recommender

TITLES = {
    "h1": ("Sony wireless noise cancelling headphones", "Sony", "Audio > Headphones"),
    "h2": ("Bose wireless over-ear headphones", "Bose", "Audio > Headphones"),
    "h3": ("Sony wired studio headphones", "Sony", "Audio > Headphones"),
    "s1": ("JBL portable bluetooth speaker", "JBL", "Audio > Speakers"),
    "g1": ("Garden hose with brass nozzle", "Gardena", "Garden > Watering"),
    "g2": ("Garden hose reel cart", "Suncast", "Garden > Watering"),
    "g3": ("Garden watering can", "Gardena", "Garden > Watering"),
}


@pytest.fixture
def catalog() -> Catalog:
    rows = [
        {"item_id": i, "title": t, "brand": b, "category": c} for i, (t, b, c) in TITLES.items()
    ]
    return Catalog(pd.DataFrame(rows))


@pytest.fixture
def events() -> Interactions:
    rows = [("u1", "h1", 1), ("u1", "h2", 2), ("u2", "g1", 3), ("u2", "g2", 4), ("u3", "h1", 5)]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    frame["event_type"] = "purchase"
    return Interactions(frame)


def content(catalog: Catalog, events: Interactions) -> ContentBased:
    return ContentBased(encoder="hashing", popularity_weight=0.0).fit(events, catalog)


def test_content_recommends_items_like_the_history(catalog: Catalog, events: Interactions) -> None:
    model = content(catalog, events)
    ids, _ = model.recommend(["u1", "u2"], k=2)
    assert ids[0][0] == "h3"  # the remaining headphones
    assert ids[1][0] == "g3"  # the remaining garden item


def test_one_event_user_gets_related_items(catalog: Catalog, events: Interactions) -> None:
    ids, _ = content(catalog, events).recommend_user("u3", k=2)
    assert set(ids) <= {"h2", "h3"}


def test_user_with_only_a_search_query_gets_matching_items(
    catalog: Catalog, events: Interactions
) -> None:
    ids, scores = content(catalog, events).recommend_text(["garden hose", "headphones"], k=2)
    assert set(ids[0]) == {"g1", "g2"}
    assert set(ids[1]) <= {"h1", "h2", "h3"}
    assert scores.shape == (2, 2)


def test_new_item_with_only_text_is_recommendable_at_once(
    catalog: Catalog, events: Interactions
) -> None:
    model = content(catalog, events)
    row = {"item_id": "g4", "title": "Garden hose splitter", "brand": "Gardena",
           "category": "Garden > Watering"}  # fmt: skip
    new = Catalog(pd.DataFrame([row]))
    model.add_items(new)
    assert "g4" in model.item_index_
    ids, _ = model.recommend_user("u2", k=2)
    assert "g4" in ids


def test_recency_weighting_favours_the_latest_interest(
    catalog: Catalog, events: Interactions
) -> None:
    # half-life of one event: the latest item weighs 1, the two before it 0.5 + 0.25
    model = ContentBased(encoder="hashing", recency_half_life=1.0).fit(events, catalog)
    index = model.item_index_
    garden_then_audio = np.array([index["g1"], index["g2"], index["h1"]])
    audio_then_garden = np.array([index["h1"], index["g1"], index["g2"]])
    ids, _ = model.recommend_histories([garden_then_audio, audio_then_garden], k=1)
    assert ids[0][0].startswith("h") and ids[1][0].startswith("g")


def test_content_save_load(catalog: Catalog, events: Interactions, tmp_path: Path) -> None:
    model = content(catalog, events)
    loaded = load_recommender(model.save(tmp_path / "m"))
    np.testing.assert_allclose(loaded.score([np.array([0])]), model.score([np.array([0])]))


def search(catalog: Catalog) -> SemanticSearch:
    return SemanticSearch(encoder="hashing").fit(catalog)


def test_search_finds_items_by_meaning_of_words(catalog: Catalog) -> None:
    ids, scores = search(catalog).search(["garden hose", "wireless headphones"], k=2)
    assert set(ids[0]) == {"g1", "g2"}
    assert set(ids[1]) == {"h1", "h2"}
    assert (np.diff(scores, axis=1) <= 0).all()


def test_personalised_search_prefers_the_users_brand(
    catalog: Catalog, events: Interactions
) -> None:
    engine = search(catalog)
    model = content(catalog, events)
    sony_fan = model.user_vectors([np.array([model.item_index_["h3"]])])
    plain, _ = engine.search(["headphones"], k=3)
    personal, _ = engine.search(["headphones"], k=3, user_vectors=sony_fan, personalization=0.5)
    assert set(plain[0]) == set(personal[0]) == {"h1", "h2", "h3"}
    assert personal[0][0] in {"h1", "h3"}
    no_profile, _ = engine.search(["headphones"], k=3, user_vectors=np.zeros_like(sony_fan))
    np.testing.assert_array_equal(no_profile, plain)


def test_similar_items_exclude_the_item_itself(catalog: Catalog) -> None:
    ids, _ = search(catalog).similar_items(["g1", "h1"], k=2)
    assert "g1" not in ids[0] and set(ids[0]) <= {"g2", "g3"}
    assert "h1" not in ids[1] and set(ids[1]) <= {"h2", "h3"}
    with pytest.raises(ValidationError, match="unknown item"):
        search(catalog).similar_items(["nope"])


def test_search_upsert_remove_and_persistence(catalog: Catalog, tmp_path: Path) -> None:
    engine = search(catalog)
    engine.add_items(Catalog(pd.DataFrame([{"item_id": "x", "title": "Espresso machine"}])))
    assert engine.search(["espresso machine"], k=1)[0][0][0] == "x"
    engine.remove_items(["x"])
    assert "x" not in engine.search(["espresso machine"], k=3)[0][0]
    loaded = SemanticSearch.load(engine.save(tmp_path / "search"))
    np.testing.assert_array_equal(
        loaded.search(["garden hose"], k=3)[0], engine.search(["garden hose"], k=3)[0]
    )
    with pytest.raises(NotFittedError):
        SemanticSearch(encoder="hashing").search(["x"])
