"""The one template that turns a catalog item into the text a TextEncoder reads, and the one
price-band rule (:class:`PriceBands`) behind both that text and the item features.

Template (each part omitted cleanly when its field is empty)::

    {title}. Brand: {brand}. Category: {A > B > C}. {Attribute}: {value}. ... Price: {band}.

for example ``"Sony WH-1000XM4 Wireless Headphones. Brand: Sony. Category: Electronics > Audio >
Headphones. Colour: black. Price: premium."``

- Whitespace is collapsed; a title already ending in ``.``, ``!`` or ``?`` gets no extra period.
- Attributes come in key order, at most ``max_attributes`` of them; keys are shown with ``_``
  as spaces and the first letter upper-cased.
- The price is a band word rather than a number (sentence encoders read numbers poorly):
  ``budget`` / ``mid-range`` / ``premium`` by the item's price against the tertiles of the prices
  in its own category path when that path has at least ``min_group`` priced items, otherwise
  against the tertiles of the whole catalog; a lone item (no catalog) is banded by absolute edges
  (default: below 25 budget, below 100 mid-range, else premium, in the shop's currency). Unknown
  or negative prices give no price part. See :class:`PriceBands`.

Because bands depend on the other items of the catalog, adding items can change an item's text;
:func:`shoprec.text.encode_catalog` keys its cache by the text, so that stays correct.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Self

import numpy as np
import pandas as pd

from shoprec.data import CATEGORY_SEPARATOR, Catalog, Item
from shoprec.exceptions import NotFittedError, ValidationError

__all__ = [
    "ABSOLUTE_PRICE_EDGES",
    "PRICE_BANDS",
    "PRICE_BAND_QUANTILES",
    "PriceBand",
    "PriceBands",
    "item_text",
    "item_texts",
    "price_bands",
]


class PriceBand(StrEnum):
    """Where a price sits among the prices it is compared with (see :class:`PriceBands`)."""

    BUDGET = "budget"
    MID_RANGE = "mid-range"
    PREMIUM = "premium"

    @property
    def score(self) -> int:
        """0 for budget, 1 for mid-range, 2 for premium (for averaging bands)."""
        return list(PriceBand).index(self)


PRICE_BANDS = tuple(band.value for band in PriceBand)
# Prices below the first tertile of their group are budget, above the second premium.
PRICE_BAND_QUANTILES = (1 / 3, 2 / 3)
ABSOLUTE_PRICE_EDGES = (25.0, 100.0)
_SPACE = re.compile(r"\s+")


class PriceBands:
    """The price band of any item, fitted on a catalog: the single rule behind the ``Price:``
    part of :func:`item_text` and :attr:`shoprec.profiles.ItemFeature.price_band`.

    A price is compared with the first that applies of

    1. the tertiles ``(q1, q2)`` of the priced items in its own category path (the full path, so
       "Audio > Accessories" and "Camera > Accessories" differ) when that path has at least
       ``min_group`` priced items;
    2. the tertiles of all priced items of the catalog;
    3. ``absolute_edges``, when there are no prices to compare with (fitted without a catalog,
       as for a lone item, or on a catalog without any priced item).

    Against tertiles a price below ``q1`` is budget, above ``q2`` premium, otherwise mid-range
    (so a group of equal prices is all mid-range); against ``absolute_edges = (budget_below,
    mid_range_below)`` it is budget below the first, mid-range below the second, else premium.
    Unknown (NaN), infinite or negative prices have no band. Items banded after :meth:`fit`
    (e.g. added to a catalog later) use the fitted tertiles unchanged.

    Parameters
    ----------
    min_group
        Priced items a category path needs for its own tertiles.
    absolute_edges
        ``(budget_below, mid_range_below)`` used when there are no prices to compare with.

    Attributes
    ----------
    category_thresholds_ : dict of str to tuple of (float, float)
        The tertiles of each category path (joined with ``" > "``) with at least ``min_group``
        priced items.
    catalog_thresholds_ : tuple of (float, float) or None
        The tertiles of all priced items; ``None`` when there are none.

    Examples
    --------
    >>> from shoprec.data import Catalog, Item
    >>> mugs = Catalog.from_items(
    ...     Item(f"m{p}", "mug", category=("Home", "Mugs"), price=p) for p in (10, 20, 30, 40, 50)
    ... )
    >>> bands = PriceBands().fit(mugs)
    >>> [bands.band(p, ("Home", "Mugs")).value for p in (15.0, 30.0, 45.0)]
    ['budget', 'mid-range', 'premium']
    >>> bands.band(30.0, "Toys") is bands.band(30.0, "Home > Mugs")  # the catalog's tertiles
    True
    """

    def __init__(
        self, *, min_group: int = 5, absolute_edges: tuple[float, float] = ABSOLUTE_PRICE_EDGES
    ) -> None:
        self.min_group = min_group
        self.absolute_edges = absolute_edges

    def __repr__(self) -> str:
        return f"PriceBands(min_group={self.min_group}, absolute_edges={self.absolute_edges})"

    def fit(self, catalog: Catalog | None) -> Self:
        """Learn the tertiles of ``catalog``'s prices, overall and per category path.

        Parameters
        ----------
        catalog
            The items to compare prices with; ``None`` when there is no catalog, so every price
            is banded by ``absolute_edges``.

        Returns
        -------
        PriceBands
            ``self``, fitted.

        Raises
        ------
        ValueError
            If ``min_group < 1`` or ``absolute_edges`` is not increasing.
        """
        if self.min_group < 1:
            raise ValueError(f"min_group must be >= 1, got {self.min_group}")
        budget_below, mid_below = self.absolute_edges
        if not budget_below <= mid_below:
            raise ValueError(f"absolute_edges must be increasing, got {self.absolute_edges}")
        self.category_thresholds_: dict[str, tuple[float, float]] = {}
        self.catalog_thresholds_: tuple[float, float] | None = None
        if catalog is None:
            return self
        prices = catalog.frame["price"].to_numpy(dtype=np.float64)
        known = np.isfinite(prices) & (prices >= 0)
        if not known.any():
            return self
        self.catalog_thresholds_ = _tertiles(prices[known])
        frame = pd.DataFrame({"category": catalog.frame["category"], "price": prices})[known]
        for category, group in frame.groupby("category", sort=False)["price"]:
            if category and len(group) >= self.min_group:
                self.category_thresholds_[str(category)] = _tertiles(group.to_numpy())
        return self

    def thresholds(self, category: Sequence[str] | str = ()) -> tuple[float, float] | None:
        """The tertiles ``(low, high)`` prices in ``category`` are compared with.

        Parameters
        ----------
        category
            A category path, or the path joined with ``" > "``.

        Returns
        -------
        tuple of (float, float) or None
            The path's own tertiles, else the catalog's; ``None`` when there are no prices to
            compare with (then ``absolute_edges`` apply).
        """
        self._check_fitted()
        key = category if isinstance(category, str) else CATEGORY_SEPARATOR.join(category)
        return self.category_thresholds_.get(key, self.catalog_thresholds_)

    def band(self, price: float | None, category: Sequence[str] | str = ()) -> PriceBand | None:
        """The band of ``price`` within ``category`` (a path, or the path joined with ``" > "``).

        Returns
        -------
        PriceBand or None
            ``None`` for an unknown, infinite or negative price.

        Raises
        ------
        shoprec.exceptions.NotFittedError
            Before :meth:`fit`.
        """
        thresholds = self.thresholds(category)
        if price is None or not math.isfinite(price) or price < 0:
            return None
        if thresholds is None:
            budget_below, mid_below = self.absolute_edges
            if price < budget_below:
                return PriceBand.BUDGET
            return PriceBand.MID_RANGE if price < mid_below else PriceBand.PREMIUM
        low, high = thresholds
        if price < low:
            return PriceBand.BUDGET
        return PriceBand.PREMIUM if price > high else PriceBand.MID_RANGE

    def bands(self, catalog: Catalog) -> list[PriceBand | None]:
        """The band of every item of ``catalog``, in catalog order (``None`` where unpriced)."""
        frame = catalog.frame
        prices = frame["price"].to_numpy(dtype=np.float64).tolist()
        return [self.band(p, c) for p, c in zip(prices, frame["category"], strict=True)]

    def _check_fitted(self) -> None:
        if not hasattr(self, "category_thresholds_"):
            raise NotFittedError("PriceBands is not fitted; call fit(catalog) first")


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
        single item has no catalog to compare with), ``""`` shows no price.
    max_attributes
        At most this many attributes are shown.
    absolute_edges
        ``(budget_below, mid_range_below)`` used when ``price_band`` is ``None``.
    """
    if price_band is None:
        band = PriceBands(absolute_edges=absolute_edges).fit(None).band(item.price)
        price_band = "" if band is None else band.value
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

    The bands of :class:`PriceBands` fitted on ``catalog``: by the tertiles of the item's category
    path when it has at least ``min_group`` priced items, else by the catalog's tertiles.

    Parameters
    ----------
    catalog
        The items.
    min_group
        Priced items a category path needs for its own tertiles.
    absolute_edges
        See :class:`PriceBands`; they never apply to a catalog's own items (a catalog without
        any priced item has no bands), but are accepted like those of :func:`item_text`.

    Returns
    -------
    list of str
        One word per item, in catalog order.
    """
    fitted = PriceBands(min_group=min_group, absolute_edges=absolute_edges).fit(catalog)
    return ["" if band is None else band.value for band in fitted.bands(catalog)]


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


def _tertiles(prices: np.ndarray) -> tuple[float, float]:
    low, high = np.quantile(prices, PRICE_BAND_QUANTILES)
    return float(low), float(high)
