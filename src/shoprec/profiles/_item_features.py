"""Per-item features the portraits and rankers read: embedding, category, brand, price band,
keywords and sentiment, with constant-time lookup by item id."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import pandas as pd

from shoprec.data import CATEGORY_SEPARATOR, Catalog
from shoprec.exceptions import ValidationError
from shoprec.text import (
    PRICE_BAND_QUANTILES,
    KeywordExtractor,
    PriceBand,
    PriceBands,
    catalog_texts,
)

__all__ = ["PRICE_BAND_QUANTILES", "ItemFeature", "ItemFeatures", "PriceBand"]

logger = logging.getLogger(__name__)

Keywords = list[tuple[str, float]]
SentimentInput: TypeAlias = Mapping[str, float] | pd.Series | np.ndarray | None


@dataclass(frozen=True, slots=True)
class ItemFeature:
    """The features of one item (a read-only view; the arrays live in :class:`ItemFeatures`)."""

    item_id: str
    index: int
    embedding: np.ndarray
    category: tuple[str, ...]
    brand: str
    price: float | None
    price_band: PriceBand | None
    keywords: tuple[tuple[str, float], ...]
    sentiment: float | None

    @property
    def leaf_category(self) -> str:
        """The most specific category level, ``""`` when the item has no category."""
        return self.category[-1] if self.category else ""


class ItemFeatures:
    """Features of every item in a catalog, by row, with lookup by item id.

    Build with :meth:`from_catalog`. Price bands come from a
    :class:`~shoprec.text._item_text.PriceBands` fitted on that catalog, the same rule as the
    item texts: the tertiles of the item's category path (the full path, so "Audio > Accessories"
    and "Camera > Accessories" differ) when that path has at least ``min_category_items`` priced
    items, the whole catalog's tertiles otherwise.

    Parameters
    ----------
    min_category_items
        Priced items a category needs for its own price tertiles.

    Attributes
    ----------
    price_scale : PriceBands
        The fitted price bands, kept for items added later (fitted without a catalog, i.e. on
        absolute edges, until :meth:`from_catalog`).
    """

    def __init__(self, *, min_category_items: int = 5) -> None:
        self.min_category_items = min_category_items
        self.item_ids: list[str] = []
        self.embeddings = np.zeros((0, 0), dtype=np.float32)
        self.categories: list[tuple[str, ...]] = []
        self.brands: list[str] = []
        self.prices = np.zeros(0, dtype=np.float64)  # NaN when unknown
        self.price_bands: list[PriceBand | None] = []
        self.keywords: list[Keywords] = []
        self.sentiment = np.zeros(0, dtype=np.float64)  # NaN when unknown
        self.keyword_extractor: KeywordExtractor | None = None
        self.price_scale = PriceBands(min_group=min_category_items).fit(None)
        self._index: dict[str, int] = {}

    @classmethod
    def from_catalog(
        cls,
        catalog: Catalog,
        embeddings: np.ndarray,
        *,
        keywords: Sequence[Keywords] | None = None,
        sentiment: SentimentInput = None,
        min_category_items: int = 5,
    ) -> ItemFeatures:
        """Features of every item of ``catalog``.

        Parameters
        ----------
        catalog
            The items; row ``i`` of ``embeddings`` belongs to its ``i``-th item.
        embeddings
            Shape ``(len(catalog), dim)``, L2-normalised item text embeddings.
        keywords
            Per item ``(term, weight)`` pairs in catalog order; ``None`` fits a
            :class:`~shoprec.text._keywords.KeywordExtractor` on the catalog's texts (kept as
            ``keyword_extractor`` for items added later).
        sentiment
            Item id -> mean sentiment in [-1, 1] (a mapping, or a Series such as
            ``item_sentiment(...)["sentiment"]``), or an array in catalog order with NaN for
            unknown; ``None`` when unknown for all.
        min_category_items
            Priced items a category needs for its own price tertiles.
        """
        features = cls(min_category_items=min_category_items)
        features.price_scale = PriceBands(min_group=min_category_items).fit(catalog)
        if keywords is None:
            features.keyword_extractor = KeywordExtractor()
            keywords = features.keyword_extractor.fit_transform(catalog_texts(catalog))
        features._append(catalog, embeddings, keywords, sentiment)
        logger.info("item features: %d items, dim %d", len(features), features.dim)
        return features

    def add_items(
        self,
        catalog: Catalog,
        embeddings: np.ndarray,
        *,
        keywords: Sequence[Keywords] | None = None,
        sentiment: SentimentInput = None,
    ) -> None:
        """Append new items, keeping existing rows and price bands unchanged.

        New items' price bands use :attr:`price_scale` as fitted in :meth:`from_catalog` (the
        catalog's tertiles for a category seen then with too few priced items, or not at all).
        Without ``keywords`` they come from the fitted keyword extractor, or are empty if keywords
        were given at build time.

        Raises
        ------
        ValidationError
            If an item id is already present or the embeddings do not fit.
        """
        for row, item_id in enumerate(catalog.item_ids):
            if item_id in self._index:
                raise ValidationError(
                    f"item {item_id!r} already has features", row=row + 1, field="item_id"
                )
        if keywords is None:
            keywords = (
                self.keyword_extractor.transform(catalog_texts(catalog))
                if self.keyword_extractor is not None
                else [[] for _ in range(len(catalog))]
            )
        self._append(catalog, embeddings, keywords, sentiment)

    def __len__(self) -> int:
        return len(self.item_ids)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._index

    def __repr__(self) -> str:
        return f"ItemFeatures({len(self)} items, dim {self.dim})"

    def __getitem__(self, item_id: str) -> ItemFeature:
        index = self._index[item_id]  # KeyError for unknown ids, like a dict
        price, sentiment = float(self.prices[index]), float(self.sentiment[index])
        return ItemFeature(
            item_id=item_id,
            index=index,
            embedding=self.embeddings[index],
            category=self.categories[index],
            brand=self.brands[index],
            price=None if np.isnan(price) else price,
            price_band=self.price_bands[index],
            keywords=tuple(self.keywords[index]),
            sentiment=None if np.isnan(sentiment) else sentiment,
        )

    def get(self, item_id: str) -> ItemFeature | None:
        """The features of ``item_id``, or ``None`` when it is unknown."""
        return self[item_id] if item_id in self._index else None

    def index_of(self, item_id: str) -> int | None:
        """The row of ``item_id`` in :attr:`embeddings`, or ``None`` when it is unknown."""
        return self._index.get(item_id)

    @property
    def dim(self) -> int:
        """Embedding dimension."""
        return int(self.embeddings.shape[1])

    def price_thresholds(self, category: Sequence[str] | str = ()) -> tuple[float, float] | None:
        """``(low, high)`` price tertiles used for ``category`` (a path, or the path joined with
        ``" > "``), falling back to the catalog's; ``None`` when no item has a price.

        See :meth:`PriceBands.thresholds <shoprec.text._item_text.PriceBands.thresholds>`.
        """
        return self.price_scale.thresholds(category)

    def price_band(
        self, price: float | None, category: Sequence[str] | str = ()
    ) -> PriceBand | None:
        """The band of ``price`` within ``category``: below the low tertile budget, above the
        high one premium, otherwise mid-range; ``None`` for an unknown or negative price.

        See :meth:`PriceBands.band <shoprec.text._item_text.PriceBands.band>`.
        """
        return self.price_scale.band(price, category)

    def _append(
        self,
        catalog: Catalog,
        embeddings: np.ndarray,
        keywords: Sequence[Keywords],
        sentiment: SentimentInput,
    ) -> None:
        n, start = len(catalog), len(self)
        embeddings = np.asarray(embeddings, dtype=np.float32)
        if embeddings.ndim != 2 or embeddings.shape[0] != n:
            raise ValidationError(
                f"embeddings have shape {embeddings.shape}; expected ({n}, dim)",
                field="embeddings",
            )
        if start and embeddings.shape[1] != self.dim:
            raise ValidationError(
                f"embeddings have dim {embeddings.shape[1]}; the features have {self.dim}",
                field="embeddings",
            )
        if len(keywords) != n:
            raise ValidationError(f"{len(keywords)} keyword lists for {n} items", field="keywords")
        ids = [str(i) for i in catalog.item_ids]
        frame = catalog.frame
        categories = [tuple(c.split(CATEGORY_SEPARATOR)) if c else () for c in frame["category"]]
        prices = frame["price"].to_numpy(dtype=np.float64)
        self._index.update({item_id: start + row for row, item_id in enumerate(ids)})
        self.item_ids += ids
        self.embeddings = np.vstack([self.embeddings, embeddings]) if start else embeddings
        self.categories += categories
        self.brands += list(frame["brand"])
        self.prices = np.concatenate([self.prices, prices])
        self.price_bands += [self.price_band(p, c) for p, c in zip(prices, categories, strict=True)]
        self.keywords += [list(k) for k in keywords]
        self.sentiment = np.concatenate([self.sentiment, _sentiment_array(sentiment, ids)])


def _sentiment_array(sentiment: SentimentInput, ids: list[str]) -> np.ndarray:
    """Sentiment per id in order, NaN where unknown."""
    if sentiment is None:
        return np.full(len(ids), np.nan)
    if isinstance(sentiment, np.ndarray):
        values = np.asarray(sentiment, dtype=np.float64)
        if values.shape != (len(ids),):
            raise ValidationError(
                f"sentiment has shape {values.shape}; expected ({len(ids)},)", field="sentiment"
            )
        return values
    lookup = sentiment.to_dict() if isinstance(sentiment, pd.Series) else dict(sentiment)
    return np.array([lookup.get(i, np.nan) for i in ids], dtype=np.float64)
