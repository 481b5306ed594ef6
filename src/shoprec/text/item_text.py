"""The one template that turns a catalog item into the text a TextEncoder reads.

Template (each part omitted cleanly when its field is empty)::

    {title}. Brand: {brand}. Category: {A > B > C}. {Attribute}: {value}. ... Price: {band}.

for example ``"Sony WH-1000XM4 Wireless Headphones. Brand: Sony. Category: Electronics > Audio >
Headphones. Colour: black. Price: premium."``

- Whitespace is collapsed; a title already ending in ``.``, ``!`` or ``?`` gets no extra period.
- Attributes come in key order, at most ``max_attributes`` of them; keys are shown with ``_``
  as spaces and the first letter upper-cased.
- The price is a band word rather than a number (sentence encoders read numbers poorly):
  ``budget`` / ``mid-range`` / ``premium`` by the item's price against the tertiles of the prices
  in its own category path when that category has at least ``min_group`` priced items, otherwise
  against absolute edges (default: below 25 budget, below 100 mid-range, else premium, in the
  shop's currency). Unknown or negative prices give no price part.

Because bands depend on the other items of a category, adding items can change an item's text;
:func:`shoprec.text.encode_catalog` keys its cache by the text, so that stays correct.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from shoprec.data.schema import CATEGORY_SEPARATOR, Catalog, Item
from shoprec.exceptions import ValidationError

__all__ = [
    "ABSOLUTE_PRICE_EDGES",
    "PRICE_BANDS",
    "item_text",
    "item_texts",
    "price_bands",
]

PRICE_BANDS = ("budget", "mid-range", "premium")
ABSOLUTE_PRICE_EDGES = (25.0, 100.0)
_SPACE = re.compile(r"\s+")


def item_text(
    item: Item,
    *,
    price_band: str | None = None,
    max_attributes: int = 6,
    absolute_edges: tuple[float, float] = ABSOLUTE_PRICE_EDGES,
) -> str:
    """The text of one :class:`~shoprec.data.Item` (see the module docstring for the template).

    Parameters
    ----------
    item
        The item.
    price_band
        The band word to show; ``None`` derives it from the price with ``absolute_edges`` (a
        single item has no category peers), ``""`` shows no price.
    max_attributes
        At most this many attributes are shown.
    absolute_edges
        ``(budget_below, mid_range_below)`` used when ``price_band`` is ``None``.
    """
    if price_band is None:
        price = np.nan if item.price is None else float(item.price)
        price_band = _absolute_bands(np.array([price]), absolute_edges)[0]
    return _render(
        item.title,
        item.brand,
        CATEGORY_SEPARATOR.join(item.category),
        item.attributes,
        price_band,
        max_attributes,
    )


def item_texts(
    catalog: Catalog,
    *,
    max_attributes: int = 6,
    min_group: int = 5,
    absolute_edges: tuple[float, float] = ABSOLUTE_PRICE_EDGES,
) -> list[str]:
    """The text of every catalog item, in catalog order.

    Parameters
    ----------
    catalog
        The items.
    max_attributes
        At most this many attributes per item are shown.
    min_group, absolute_edges
        Price banding, see :func:`price_bands`.

    Raises
    ------
    shoprec.exceptions.ValidationError
        When an item's ``attributes`` is not a JSON object (names the row and field).
    """
    frame = catalog.frame
    bands = price_bands(catalog, min_group=min_group, absolute_edges=absolute_edges)
    texts = []
    for row, (title, brand, category, attributes, band) in enumerate(
        zip(
            frame["title"],
            frame["brand"],
            frame["category"],
            frame["attributes"],
            bands,
            strict=True,
        )
    ):
        attrs = _parse_attributes(attributes, row)
        texts.append(_render(title, brand, category, attrs, band, max_attributes))
    return texts


def price_bands(
    catalog: Catalog,
    *,
    min_group: int = 5,
    absolute_edges: tuple[float, float] = ABSOLUTE_PRICE_EDGES,
) -> list[str]:
    """Each item's price band word (one of :data:`PRICE_BANDS`, ``""`` when the price is unknown).

    Items in a category path with at least ``min_group`` priced items are banded by that
    category's price tertiles ``q1, q2``: below ``q1`` budget, above ``q2`` premium, otherwise
    mid-range (so a category of equal prices is all mid-range). Other items use
    ``absolute_edges = (budget_below, mid_range_below)``.
    """
    if min_group < 1:
        raise ValueError(f"min_group must be >= 1, got {min_group}")
    prices = catalog.frame["price"].to_numpy(dtype=np.float64)
    bands = _absolute_bands(prices, absolute_edges)
    priced = np.flatnonzero(np.isfinite(prices) & (prices >= 0))
    groups = pd.Series(priced).groupby(catalog.frame["category"].to_numpy()[priced])
    for category, rows in groups:
        if category == "" or len(rows) < min_group:
            continue
        index = rows.to_numpy()
        group = prices[index]
        low, high = np.quantile(group, [1 / 3, 2 / 3])
        bands[index] = np.where(
            group < low, "budget", np.where(group > high, "premium", "mid-range")
        )
    return bands.tolist()


def _absolute_bands(prices: np.ndarray, edges: tuple[float, float]) -> np.ndarray:
    budget_below, mid_below = edges
    if not budget_below <= mid_below:
        raise ValueError(f"absolute_edges must be increasing, got {edges}")
    known = np.isfinite(prices) & (prices >= 0)
    with np.errstate(invalid="ignore"):  # NaN prices compare false; masked below
        band = np.where(
            prices < budget_below, "budget", np.where(prices < mid_below, "mid-range", "premium")
        )
    return np.where(known, band, "").astype(object)


def _render(
    title: str,
    brand: str,
    category: str,
    attributes: Mapping[str, object],
    price_band: str,
    max_attributes: int,
) -> str:
    """THE template: every text the encoders see for an item comes from here."""
    parts = []
    title = _clean(title)
    if title:
        parts.append(title if title[-1] in ".!?" else title + ".")
    if brand := _clean(brand):
        parts.append(f"Brand: {brand}.")
    if category := _clean(category):
        parts.append(f"Category: {category}.")
    shown = 0
    for key, value in sorted(attributes.items(), key=lambda kv: str(kv[0])):
        label, text = _clean(str(key).replace("_", " ")), _clean(str(value))
        if shown >= max_attributes or not label or not text:
            continue
        parts.append(f"{label[0].upper()}{label[1:]}: {text}.")
        shown += 1
    if price_band:
        parts.append(f"Price: {price_band}.")
    return " ".join(parts)


def _clean(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _parse_attributes(text: str, row: int) -> Mapping[str, object]:
    if not text:
        return {}
    try:
        attributes = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValidationError(
            f"attributes are not valid JSON: {error}", row=row + 1, field="attributes"
        ) from error
    if not isinstance(attributes, dict):
        raise ValidationError("attributes must be a JSON object", row=row + 1, field="attributes")
    return attributes
