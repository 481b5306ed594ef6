"""Item attributes for filtering, business rules (categories, price, platform, exclusions,
stock) and caps.

:class:`ItemAttributes` holds the few per-item facts the re-ranker filters and caps on as aligned
arrays over a catalog, so that a request's rules are evaluated with a handful of vectorised
operations over its candidate rows (:func:`keep_mask`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shoprec.data import CATEGORY_SEPARATOR, Catalog
from shoprec.exceptions import ValidationError

__all__ = ["BusinessRules", "Caps", "ItemAttributes", "keep_mask"]

logger = logging.getLogger(__name__)


def _name(text: str) -> str:
    """The form names are matched in: case-insensitive, surrounding blanks ignored."""
    return text.strip().casefold()


def _codes(names: Iterable[str]) -> tuple[np.ndarray, dict[str, int]]:
    """Integer code per name (``-1`` for ``""``) and the name -> code vocabulary."""
    vocabulary: dict[str, int] = {}
    codes = [vocabulary.setdefault(n, len(vocabulary)) if n else -1 for n in names]
    return np.asarray(codes, dtype=np.int64), vocabulary


@dataclass(frozen=True, eq=False)
class ItemAttributes:
    """Per-item category, brand, price, stock and platform over a catalog, aligned by row.

    Build with :meth:`from_catalog`. Row ``i`` of every array describes ``item_ids[i]``.

    Parameters
    ----------
    item_ids
        Unique item ids, shape ``(n_items,)``.
    category_paths
        Category path per item joined with ``" > "`` (``""`` when unknown).
    brands
        Brand per item (``""`` when unknown).
    prices
        Price per item, NaN when unknown.
    in_stock
        Whether each item can be sold now.
    platforms
        The shop (platform) selling each item; ``None``: ``""`` for every item.

    Attributes
    ----------
    categories : numpy.ndarray
        Leaf category name per item (``""`` when unknown), object dtype.
    category_codes, brand_codes : numpy.ndarray
        int64 group per item for caps, ``-1`` when unknown. A category is its full path (so
        "Audio > Accessories" and "Camera > Accessories" differ); paths and brands compare
        case-insensitively.
    path_codes : numpy.ndarray
        int64 code of each level of each item's category path, shape ``(n_items, depth)``,
        ``-1`` padding; codes come from :attr:`level_codes`.
    level_codes : dict[str, int]
        Case-folded category level name -> code.
    platform_codes : numpy.ndarray
        int64 code per item of its platform (``-1`` when ``""``), from
        :attr:`platform_vocabulary`.
    platform_vocabulary : dict[str, int]
        Platform -> code.
    """

    item_ids: np.ndarray
    category_paths: np.ndarray
    brands: np.ndarray
    prices: np.ndarray
    in_stock: np.ndarray
    platforms: np.ndarray | None = None
    categories: np.ndarray = field(init=False, repr=False)
    category_codes: np.ndarray = field(init=False, repr=False)
    brand_codes: np.ndarray = field(init=False, repr=False)
    path_codes: np.ndarray = field(init=False, repr=False)
    level_codes: dict[str, int] = field(init=False, repr=False)
    platform_codes: np.ndarray = field(init=False, repr=False)
    platform_vocabulary: dict[str, int] = field(init=False, repr=False)
    _rows: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        ids = np.asarray(self.item_ids, dtype=object)
        n = len(ids)
        arrays = {
            "category_paths": np.asarray(self.category_paths, dtype=object),
            "brands": np.asarray(self.brands, dtype=object),
            "prices": np.asarray(self.prices, dtype=np.float64),
            "in_stock": np.asarray(self.in_stock, dtype=bool),
        }
        for name, values in arrays.items():
            if values.shape != (n,):
                raise ValidationError(
                    f"{name} has shape {values.shape}; expected ({n},)", field=name
                )
        rows = {str(item_id): row for row, item_id in enumerate(ids)}
        if len(rows) != n:
            raise ValidationError("item ids must be unique", field="item_ids")
        paths = [tuple(p.split(CATEGORY_SEPARATOR)) if p else () for p in arrays["category_paths"]]
        levels: dict[str, int] = {}
        depth = max((len(p) for p in paths), default=0)
        path_codes = np.full((n, max(depth, 1)), -1, dtype=np.int64)
        for row, path in enumerate(paths):
            for level, name in enumerate(path):
                if _name(name):
                    path_codes[row, level] = levels.setdefault(_name(name), len(levels))
        platforms = [""] * n if self.platforms is None else list(self.platforms)
        if len(platforms) != n:
            raise ValidationError(
                f"platforms has {len(platforms)} entries; expected {n}", field="platforms"
            )
        platform_codes, platform_vocabulary = _codes(platforms)
        derived: dict[str, object] = {
            "item_ids": ids,
            **arrays,
            "platforms": np.asarray(platforms, dtype=object),
            "platform_codes": platform_codes,
            "platform_vocabulary": platform_vocabulary,
            "categories": np.asarray([p[-1] if p else "" for p in paths], dtype=object),
            "category_codes": _codes(_name(p) for p in arrays["category_paths"])[0],
            "brand_codes": _codes(_name(b) for b in arrays["brands"])[0],
            "path_codes": path_codes,
            "level_codes": levels,
            "_rows": rows,
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)  # frozen: set once, here

    @classmethod
    def from_catalog(cls, catalog: Catalog, *, out_of_stock: Iterable[str] = ()) -> ItemAttributes:
        """Attributes of every item of ``catalog``, in catalog order.

        Parameters
        ----------
        catalog
            The items.
        out_of_stock
            Ids of items that cannot be sold now, besides those whose ``in_stock`` attribute
            says so (``false``, ``no``, ``0`` or a number <= 0); ids not in the catalog are
            ignored.
        """
        frame = catalog.frame
        ids = catalog.item_ids
        unavailable = set(out_of_stock) | _marked_out_of_stock(frame)
        in_stock = np.fromiter((i not in unavailable for i in ids), dtype=bool, count=len(ids))
        unknown = len(unavailable) - int((~in_stock).sum())
        if unknown:
            logger.debug("%d out-of-stock ids are not in the catalog; ignored", unknown)
        return cls(
            item_ids=ids,
            category_paths=frame["category"].to_numpy(),
            brands=frame["brand"].to_numpy(),
            prices=frame["price"].to_numpy(dtype=np.float64),
            in_stock=in_stock,
            platforms=frame["platform"].to_numpy(),
        )

    def __len__(self) -> int:
        return len(self.item_ids)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._rows

    def __repr__(self) -> str:
        return f"ItemAttributes({len(self)} items, {int((~self.in_stock).sum())} out of stock)"

    def rows(self, item_ids: Iterable[str]) -> np.ndarray:
        """The row of each id, int64, ``-1`` for ids not in the catalog."""
        get = self._rows.get
        return np.fromiter((get(i, -1) for i in item_ids), dtype=np.int64)

    def category_level_codes(self, names: Iterable[str]) -> np.ndarray:
        """Codes of the known category level ``names`` (case-insensitive; unknown names drop)."""
        found = (self.level_codes.get(_name(n)) for n in names)
        return np.asarray([c for c in found if c is not None], dtype=np.int64)


_NO_STOCK = frozenset({"false", "no", "n", "0", "out", "out of stock", "none"})


def _marked_out_of_stock(frame: Any) -> set[str]:
    """Ids whose ``attributes`` JSON has an ``in_stock`` value that means none in stock."""
    text = frame["attributes"]
    marked = text.str.contains('"in_stock"', regex=False).to_numpy(dtype=bool)
    out = set()
    for item_id, attributes in zip(
        frame["item_id"].to_numpy()[marked], text.to_numpy()[marked], strict=True
    ):
        value = str(json.loads(attributes).get("in_stock", "")).strip().lower()
        try:
            empty = float(value) <= 0
        except ValueError:
            empty = value in _NO_STOCK
        if empty:
            out.add(str(item_id))
    return out


def _as_names(value: Collection[str] | str, name: str) -> frozenset[str]:
    if isinstance(value, str):
        value = (value,)  # one name, not its characters
    if not all(isinstance(v, str) for v in value):
        raise ValidationError(f"{name} must hold strings", field=name)
    return frozenset(value)


@dataclass(frozen=True)
class BusinessRules:
    """Which candidates a request may show.

    Category names match any level of an item's category path, case-insensitively (so
    ``"audio"`` matches "Electronics > Audio > Headphones"). Price bounds are inclusive.

    Parameters
    ----------
    include_categories
        When non-empty, keep only items with one of these names in their path (items without a
        category are dropped; names in no path match nothing).
    exclude_categories
        Drop items with one of these names in their path.
    include_brands, exclude_brands
        Keep only items of these brands / drop items of these brands (case-insensitive; items
        without a brand fail an inclusion).
    min_price, max_price
        Keep items priced within the bounds; ``None`` is no bound.
    platform
        Keep only items sold on this platform (``None``: every platform).
    exclude_item_ids
        Items never to show.
    allow_out_of_stock
        Keep out-of-stock items (dropped by default).
    keep_unknown_price
        Whether items without a price pass a price bound.
    """

    include_categories: Collection[str] = frozenset()
    exclude_categories: Collection[str] = frozenset()
    include_brands: Collection[str] = frozenset()
    exclude_brands: Collection[str] = frozenset()
    min_price: float | None = None
    max_price: float | None = None
    platform: str | None = None
    exclude_item_ids: Collection[str] = frozenset()
    allow_out_of_stock: bool = False
    keep_unknown_price: bool = True

    def __post_init__(self) -> None:
        names = ("include_categories", "exclude_categories", "include_brands", "exclude_brands")
        for name in (*names, "exclude_item_ids"):
            object.__setattr__(self, name, _as_names(getattr(self, name), name))
        for name in ("min_price", "max_price"):
            bound = getattr(self, name)
            if bound is not None and (np.isnan(bound) or bound < 0):
                raise ValidationError(f"{name} must be a non-negative number", field=name)
        low, high = self.min_price, self.max_price
        if low is not None and high is not None and low > high:
            raise ValidationError(f"min_price {low} exceeds max_price {high}", field="min_price")


def keep_mask(attributes: ItemAttributes, rows: np.ndarray, rules: BusinessRules) -> np.ndarray:
    """Which candidate rows pass ``rules``.

    Parameters
    ----------
    attributes
        The catalog's attributes.
    rows
        Candidate rows into ``attributes`` (all ``>= 0``), shape ``(n,)``.
    rules
        The request's rules.

    Returns
    -------
    numpy.ndarray
        Boolean keep-mask, shape ``(n,)``.
    """
    rows = np.asarray(rows, dtype=np.int64)
    keep = np.ones(len(rows), dtype=bool)
    if not rules.allow_out_of_stock:
        keep &= attributes.in_stock[rows]
    if rules.include_categories:
        wanted = attributes.category_level_codes(rules.include_categories)
        keep &= np.isin(attributes.path_codes[rows], wanted).any(axis=1)
    if rules.exclude_categories:
        unwanted = attributes.category_level_codes(rules.exclude_categories)
        keep &= ~np.isin(attributes.path_codes[rows], unwanted).any(axis=1)
    if rules.include_brands or rules.exclude_brands:
        brands = np.fromiter((_name(b) for b in attributes.brands[rows]), dtype=object)
        if rules.include_brands:
            keep &= np.isin(brands, [_name(b) for b in rules.include_brands])
        if rules.exclude_brands:
            keep &= ~np.isin(brands, [_name(b) for b in rules.exclude_brands])
    if rules.min_price is not None or rules.max_price is not None:
        prices = attributes.prices[rows]
        low = -np.inf if rules.min_price is None else rules.min_price
        high = np.inf if rules.max_price is None else rules.max_price
        with np.errstate(invalid="ignore"):
            within = (prices >= low) & (prices <= high)
        keep &= np.where(np.isnan(prices), rules.keep_unknown_price, within)
    if rules.platform is not None:
        code = attributes.platform_vocabulary.get(rules.platform, -2)  # -2: sold nowhere
        keep &= attributes.platform_codes[rows] == code
    if rules.exclude_item_ids:
        keep &= ~np.isin(rows, attributes.rows(rules.exclude_item_ids))
    return keep


@dataclass(frozen=True)
class Caps:
    """Hard caps on one list: at most so many items per leaf category and per brand.

    Items without a category (brand) are not subject to the category (brand) cap.

    Parameters
    ----------
    max_per_category, max_per_brand
        Positive limits; ``None`` is no cap.
    """

    max_per_category: int | None = None
    max_per_brand: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_per_category", "max_per_brand"):
            limit = getattr(self, name)
            if limit is not None and (
                isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
            ):
                raise ValidationError(f"{name} must be a positive integer or None", field=name)

    def group_caps(
        self, attributes: ItemAttributes, rows: np.ndarray
    ) -> list[tuple[np.ndarray, int]]:
        """The caps as ``(codes, limit)`` pairs over candidate ``rows`` (see
        :mod:`shoprec.rerank._diversity`)."""
        caps = []
        if self.max_per_category is not None:
            caps.append((attributes.category_codes[rows], self.max_per_category))
        if self.max_per_brand is not None:
            caps.append((attributes.brand_codes[rows], self.max_per_brand))
        return caps
