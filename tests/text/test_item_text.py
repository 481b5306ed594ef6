"""The item text template, price bands, and catalog encoding through the vector cache."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shoprec.data import Catalog, Item
from shoprec.exceptions import NotFittedError, ValidationError
from shoprec.text import (
    HashingEncoder,
    PriceBand,
    PriceBands,
    TextEncoder,
    encode_cached,
    encode_catalog,
    item_text,
    item_texts,
    price_bands,
)

SONY = Item(
    item_id="sony",
    title="Sony WH-1000XM4 Wireless Headphones",
    brand="Sony",
    category=("Electronics", "Audio", "Headphones"),
    price=349.0,
    attributes={"colour": "black"},
)


# -- the template ----------------------------------------------------------------------------------
def test_template_known_answer() -> None:
    assert item_text(SONY) == (
        "Sony WH-1000XM4 Wireless Headphones. Brand: Sony. "
        "Category: Electronics > Audio > Headphones. Colour: black. Price: premium."
    )


def test_missing_fields_are_omitted_cleanly() -> None:
    assert item_text(Item(item_id="a", title="Plain mug")) == "Plain mug."
    assert item_text(Item(item_id="b", title="", brand="Acme")) == "Brand: Acme."
    assert item_text(Item(item_id="c", title="  ")) == ""
    assert item_text(SONY, price_band="") == item_text(SONY).removesuffix(" Price: premium.")


def test_title_punctuation_whitespace_and_attributes() -> None:
    item = Item(
        item_id="x",
        title="  Best   kettle ever!\n",
        attributes={"screen_size": " 15 in ", "empty": "", "a": "1", "b": "2", "c": "3"},
        price=10.0,
    )
    assert item_text(item, max_attributes=3) == (
        "Best kettle ever! A: 1. B: 2. C: 3. Price: budget."
    )
    assert "Screen size: 15 in." in item_text(item)
    assert "Empty" not in item_text(item)


def test_absolute_bands_for_a_lone_item() -> None:
    def band(price: float | None) -> str:
        return item_text(Item(item_id="i", title="t", price=price))

    assert band(24.99).endswith("Price: budget.")
    assert band(25.0).endswith("Price: mid-range.")
    assert band(100.0).endswith("Price: premium.")
    assert band(None) == "t."
    assert item_text(Item(item_id="i", title="t", price=30.0), absolute_edges=(50, 60)).endswith(
        "Price: budget."
    )


# -- price bands over a catalog --------------------------------------------------------------------
def _catalog(rows: list[dict[str, object]]) -> Catalog:
    return Catalog(pd.DataFrame(rows))


def test_price_bands_use_category_tertiles_then_catalog_tertiles() -> None:
    rows = [  # six mugs: tertiles 26.67 / 43.33
        {"item_id": f"m{p}", "title": "mug", "category": "Home > Mugs", "price": float(p)}
        for p in (10, 20, 30, 40, 50, 60)
    ]
    rows += [
        {"item_id": "tv", "title": "tv", "category": "TV", "price": 500.0},  # too few peers
        {"item_id": "nocat", "title": "x", "category": "", "price": 60.0},
        {"item_id": "noprice", "title": "y", "category": "Home > Mugs"},
    ]
    # the catalog's eight prices (10..60, 500, 60) have tertiles 33.33 / 56.67
    bands = price_bands(_catalog(rows))
    assert bands == [
        "budget", "budget", "mid-range", "mid-range", "premium", "premium",
        "premium", "premium", "",
    ]  # fmt: skip
    assert price_bands(_catalog(rows), min_group=7)[:6] == [
        "budget", "budget", "budget", "mid-range", "mid-range", "premium",
    ]  # fmt: skip


def test_equal_prices_in_a_category_are_mid_range() -> None:
    rows = [{"item_id": str(i), "category": "Pens", "price": 2.0} for i in range(5)]
    assert price_bands(_catalog(rows)) == ["mid-range"] * 5


def test_price_bands_class_fallbacks_and_validation() -> None:
    with pytest.raises(NotFittedError):
        PriceBands().band(10.0)
    lone = PriceBands(absolute_edges=(50, 60)).fit(None)  # no catalog: absolute edges
    assert lone.thresholds() is None
    assert [lone.band(p) for p in (49.0, 50.0, 60.0)] == ["budget", "mid-range", "premium"]
    unpriced = PriceBands().fit(_catalog([{"item_id": "a", "category": "Pens"}]))
    assert unpriced.thresholds("Pens") is None
    assert unpriced.band(30.0, "Pens") is PriceBand.MID_RANGE
    pens = PriceBands().fit(
        _catalog([{"item_id": str(p), "category": "Pens", "price": float(p)} for p in range(5)])
    )
    assert pens.thresholds(("Pens",)) == pytest.approx((4 / 3, 8 / 3))
    assert pens.band(3.0, ("Pens",)) is PriceBand.PREMIUM and pens.band(3.0, "Ink") == "premium"
    assert pens.band(None) is None and pens.band(-1.0) is None and pens.band(math.inf) is None
    with pytest.raises(ValueError, match="min_group"):
        PriceBands(min_group=0).fit(None)
    with pytest.raises(ValueError, match="increasing"):
        item_text(SONY, absolute_edges=(100, 25))


def test_item_texts_follow_catalog_order_and_the_one_template() -> None:
    other = Item(item_id="mug", title="Mug", category=("Home",), price=5.0)
    catalog = Catalog.from_items([SONY, other])
    assert item_texts(catalog) == [item_text(SONY), item_text(other)]


def test_bad_attributes_name_row_and_field() -> None:
    catalog = _catalog([{"item_id": "a", "title": "ok"}, {"item_id": "b", "attributes": "{oops"}])
    with pytest.raises(ValidationError, match="row 2") as error:
        item_texts(catalog)
    assert error.value.field == "attributes"
    catalog = _catalog([{"item_id": "a", "attributes": "[1, 2]"}])
    with pytest.raises(ValidationError, match="JSON object"):
        item_texts(catalog)


# -- catalog encoding with the cache ---------------------------------------------------------------
class CountingEncoder(HashingEncoder):
    """HashingEncoder that records every text it actually encodes."""

    def __init__(self, *, dim: int = 32) -> None:
        super().__init__(dim=dim)
        self.seen: list[str] = []

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        self.seen.extend(texts)
        return super()._encode_batch(texts)


def _shop(titles: list[str]) -> Catalog:
    return Catalog(
        pd.DataFrame({"item_id": [f"i{n}" for n in range(len(titles))], "title": titles})
    )


def test_cache_encodes_only_new_or_changed_items(tmp_path: Path) -> None:
    encoder = CountingEncoder()
    titles = ["red scarf", "blue scarf", "green hat", "red scarf"]  # one duplicate text
    first = encode_catalog(_shop(titles), encoder, cache_dir=tmp_path)
    assert sorted(encoder.seen) == ["blue scarf.", "green hat.", "red scarf."]
    np.testing.assert_array_equal(first, HashingEncoder(dim=32).encode(item_texts(_shop(titles))))

    encoder.seen.clear()
    again = encode_catalog(_shop(titles), CountingEncoder(), cache_dir=tmp_path)
    np.testing.assert_array_equal(again, first)

    fresh = CountingEncoder()
    changed = encode_catalog(_shop([*titles[:2], "yellow hat", *titles[3:], "wool socks"]), fresh,
                             cache_dir=tmp_path)  # fmt: skip
    assert sorted(fresh.seen) == ["wool socks.", "yellow hat."]
    assert changed.shape == (5, 32)
    np.testing.assert_array_equal(changed[[0, 1, 3]], first[[0, 1, 3]])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_cache_is_keyed_by_encoder_fingerprint(tmp_path: Path) -> None:
    catalog = _shop(["red scarf", "green hat"])
    encode_catalog(catalog, CountingEncoder(dim=32), cache_dir=tmp_path)
    other = CountingEncoder(dim=64)
    vectors = encode_catalog(catalog, other, cache_dir=tmp_path)
    assert len(other.seen) == 2 and vectors.shape == (2, 64)
    indexes = sorted(tmp_path.glob("*.json"))
    assert len(indexes) == 2 and len(list(tmp_path.glob("*.npz"))) == 2
    index = json.loads(indexes[0].read_text())
    assert index["count"] == 2 and index["fingerprint"].startswith("hashing/")


def test_corrupt_cache_is_ignored_and_rewritten(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    catalog = _shop(["red scarf", "green hat"])
    expected = encode_catalog(catalog, CountingEncoder(), cache_dir=tmp_path)
    (vectors_file,) = tmp_path.glob("*.npz")
    vectors_file.write_bytes(b"garbage")
    encoder = CountingEncoder()
    with caplog.at_level(logging.WARNING):
        vectors = encode_catalog(catalog, encoder, cache_dir=tmp_path)
    assert "ignoring unreadable text cache" in caplog.text
    assert len(encoder.seen) == 2
    np.testing.assert_array_equal(vectors, expected)
    reused = CountingEncoder()
    encode_catalog(catalog, reused, cache_dir=tmp_path)
    assert reused.seen == []


def test_without_cache_dir_and_with_empty_input(tmp_path: Path) -> None:
    encoder = CountingEncoder()
    vectors = encode_cached(["a b", "a b", "c"], encoder)
    assert encoder.seen.count("a b") == 1
    np.testing.assert_array_equal(vectors[0], vectors[1])
    assert encode_cached([], encoder, cache_dir=tmp_path).shape == (0, 32)
    assert isinstance(encoder, TextEncoder)
