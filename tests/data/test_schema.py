from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shoprec.data import Catalog, Event, EventType, Interactions, Item
from shoprec.exceptions import ValidationError


def test_catalog_round_trips_items() -> None:
    item = Item(
        item_id="sku-1",
        title="Trail shoe",
        brand="Acme",
        category=("Sports", "Running"),
        price=89.5,
        attributes={"colour": "red"},
    )
    catalog = Catalog.from_items([item, Item(item_id="sku-2", title="Sock")])
    assert len(catalog) == 2 and "sku-1" in catalog and "nope" not in catalog
    assert catalog.item("sku-1") == item
    assert catalog.item("sku-2").price is None
    assert list(catalog.subset(["sku-2", "unknown"]).item_ids) == ["sku-2"]


def test_catalog_rejects_duplicate_ids_naming_row() -> None:
    frame = pd.DataFrame({"item_id": ["a", "b", "a"], "title": ["x", "y", "z"]})
    with pytest.raises(ValidationError, match=r"row 3, field 'item_id': duplicate item id 'a'"):
        Catalog(frame)


def test_catalog_requires_item_id_column() -> None:
    with pytest.raises(ValidationError, match="missing required column"):
        Catalog(pd.DataFrame({"title": ["x"]}))


def test_interactions_sort_by_time_stably_and_fill_defaults() -> None:
    frame = pd.DataFrame(
        {
            "user_id": ["u", "u", "v"],
            "item_id": ["b", "a", "c"],
            "event_type": ["view", "purchase", "cart"],
            "timestamp": [5, 5, 1],
        }
    )
    interactions = Interactions(frame)
    assert list(interactions.frame["item_id"]) == ["c", "b", "a"]
    assert list(interactions.frame["platform"]) == ["default"] * 3
    assert interactions.frame["quantity"].tolist() == [1, 1, 1]
    assert np.isnan(interactions.frame["rating"]).all()
    assert {u: list(h) for u, h in interactions.histories().items()} == {
        "v": ["c"],
        "u": ["b", "a"],
    }


def test_interactions_reject_unknown_event_type() -> None:
    frame = pd.DataFrame({"user_id": ["u"], "item_id": ["a"], "event_type": ["like"]})
    with pytest.raises(
        ValidationError, match=r"row 1, field 'event_type': unknown event type 'like'"
    ):
        Interactions(frame)


def test_interactions_without_timestamps_keep_row_order() -> None:
    frame = pd.DataFrame({"user_id": ["u", "u"], "item_id": ["z", "a"], "event_type": ["view"] * 2})
    interactions = Interactions(frame)
    assert not interactions.has_timestamps
    assert list(interactions.frame["item_id"]) == ["z", "a"]


def test_events_round_trip() -> None:
    events = [
        Event("u", "a", EventType.RATING, 10, rating=4.0, review="great"),
        Event("u", "", EventType.SEARCH, 11, query="red shoes"),
    ]
    interactions = Interactions.from_events(events)
    assert interactions.to_events() == events
    assert list(interactions.item_ids) == ["a"]


def test_catalog_upsert_replaces_in_place_and_appends() -> None:
    catalog = Catalog.from_items([Item("a", "A"), Item("b", "B")])
    merged = catalog.upsert(Catalog.from_items([Item("c", "C"), Item("a", "A v2")]))
    assert merged.item_ids.tolist() == ["a", "b", "c"]
    assert merged.item("a").title == "A v2" and len(catalog) == 2  # the original is unchanged
