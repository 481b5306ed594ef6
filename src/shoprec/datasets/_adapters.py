"""Adapters: read each named dataset's files into a catalog and a split.

One loader per dataset of :data:`shoprec.datasets._datasets.DATASETS`:
``loader(folder, step) -> (catalog, split)`` reads the files in ``folder`` and calls ``step`` once
per stage (``items``, ``events``, ``split``) for the progress bar. Every item and event carries its
``platform`` so models can train across shops.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from shoprec.data import (
    CATEGORY_SEPARATOR,
    Catalog,
    Interactions,
    Split,
    leave_one_out,
    parse_token_seq,
    temporal_split,
)
from shoprec.exceptions import ValidationError

logger = logging.getLogger(__name__)

Step = Callable[[str], None]
"""Progress callback a loader calls once per stage: ``items``, ``events``, ``split``."""


# -- reading helpers shared by the loaders
def _text(values: pd.Series) -> pd.Series:
    """Strings with HTML entities decoded (the 2014 Amazon metadata has ``&amp;``); nulls -> ""."""
    return values.fillna("").astype(str).map(html.unescape)


def _attributes(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """Per row, the non-empty values of ``columns`` as JSON object text."""
    rows = zip(*(frame[c].fillna("").astype(str) for c in columns), strict=True)
    return [json.dumps({k: v for k, v in zip(columns, r, strict=True) if v}) for r in rows]


def _catalog(items: pd.DataFrame, events: pd.DataFrame) -> Catalog:
    """The items, plus bare rows (id and platform only) for event items without metadata."""
    known = pd.Index(items["item_id"])
    firsts = events.drop_duplicates("item_id")
    bare = firsts.loc[~firsts["item_id"].isin(known), ["item_id", "platform"]]
    if len(bare):
        logger.warning("%d event item(s) have no metadata row; added bare", len(bare))
        items = pd.concat([items, bare], ignore_index=True)
    return Catalog(items)


def _ms(values: pd.Series) -> np.ndarray:
    """Datetimes (naive = UTC) as int64 milliseconds since the epoch."""
    return values.to_numpy().astype("datetime64[ms]").astype(np.int64)


# -- the loaders, one per dataset
def _load_amazon2023_electronics(folder: Path, step: Step) -> tuple[Catalog, Split]:
    platform = "amazon_electronics"
    items = pd.read_parquet(folder / "items.parquet")
    leaf = items["category"].fillna("")
    items = pd.DataFrame(
        {
            "item_id": items["item_id"],
            "title": items["title"],
            "brand": items["brand"],
            "category": ("Electronics" + CATEGORY_SEPARATOR + leaf).where(leaf != "", ""),
            "price": items["price"],
            "attributes": _attributes(items, ["image_url"]),
            "platform": platform,
        }
    )
    step("items")
    columns = ["user_id", "item_id", "rating", "timestamp"]
    parts = [
        pd.read_parquet(folder / f"{part}.parquet", columns=columns).assign(
            event_type="purchase",
            platform=platform,  # a review implies a purchase
        )
        for part in ("train", "val", "test")
    ]
    step("events")
    train, valid, test = (Interactions(p) for p in parts)
    catalog = _catalog(items, pd.concat(parts, ignore_index=True))
    step("split")
    return catalog, Split(train=train, valid=valid, test=test, protocol="temporal")


def _read_sequences(folder: Path, maps: dict[str, dict[str, str]]) -> pd.DataFrame:
    """``sequential_data.txt`` as one row per event with ASINs, reviewerIDs and positions."""
    id2user, id2item = maps["id2user"], maps["id2item"]
    users: list[str] = []
    items: list[str] = []
    positions: list[int] = []
    path = folder / "sequential_data.txt"
    with path.open(encoding="utf-8") as lines:
        for row, line in enumerate(lines, start=1):
            user, *sequence = line.split()
            try:
                reviewer = id2user[user]
                items.extend(id2item[i] for i in sequence)
            except KeyError as error:
                raise ValidationError(
                    f"index {error.args[0]} is not in datamaps.json", source=str(path), row=row
                ) from None
            users.extend([reviewer] * len(sequence))
            positions.extend(range(len(sequence)))
    return pd.DataFrame({"user_id": users, "item_id": items, "timestamp": positions})


def _category_path(text: str) -> str:
    """RecBole's quoted list (``'Beauty', 'Makeup', "Women's"``) as a category path."""
    return CATEGORY_SEPARATOR.join(html.unescape(part).strip() for part in parse_token_seq(text))


def _load_amazon2014_beauty(folder: Path, step: Step) -> tuple[Catalog, Split]:
    platform = "amazon_beauty"
    raw = pd.read_csv(
        folder / "Amazon_Beauty.item", sep="\t", dtype=str, keep_default_na=False
    ).rename(columns=lambda c: c.split(":")[0])
    rank = pd.to_numeric(raw["sales_rank"], errors="coerce")
    raw["sales_rank"] = rank.map(lambda r: "" if np.isnan(r) else str(int(r)))
    raw["sales_type"] = _text(raw["sales_type"])
    items = pd.DataFrame(
        {
            "item_id": raw["item_id"],
            "title": _text(raw["title"]),
            "brand": _text(raw["brand"]),
            "category": raw["categories"].map(_category_path),
            "price": pd.to_numeric(raw["price"], errors="coerce"),
            "attributes": _attributes(raw, ["sales_rank", "sales_type"]),
            "platform": platform,
        }
    )
    step("items")
    maps = json.loads((folder / "datamaps.json").read_text(encoding="utf-8"))
    events = _read_sequences(folder, maps).assign(event_type="purchase", platform=platform)
    step("events")
    interactions = Interactions(events, has_timestamps=False)  # positions, not times
    catalog = _catalog(items, events)
    step("split")
    return catalog, leave_one_out(interactions)


# Amazon 2023 main categories -> the review category they were collected under.
_AMAZON2023_PLATFORMS = {
    "All Beauty": "All_Beauty",
    "Premium Beauty": "All_Beauty",
    "Health & Personal Care": "Health_and_Personal_Care",
    "Handmade": "Handmade_Products",
}


def _load_amazon2023_bhh(folder: Path, step: Step) -> tuple[Catalog, Split]:
    raw = pd.read_parquet(folder / "items.parquet")
    events = pd.read_parquet(
        folder / "interactions.parquet",
        columns=["user_id", "item_id", "rating", "timestamp", "source_category"],
    )
    events = events.rename(columns={"source_category": "platform"}).assign(event_type="purchase")
    step("events")
    # Only interacted items: the items table is a 10k sample, most never reached the 3-core.
    raw = raw[raw["item_id"].isin(events["item_id"])].reset_index(drop=True)
    by_events = events.drop_duplicates("item_id").set_index("item_id")["platform"]
    mapped = raw["category"].map(_AMAZON2023_PLATFORMS)
    items = pd.DataFrame(
        {
            "item_id": raw["item_id"],
            "title": raw["title"],
            "brand": raw["brand"],
            "category": raw["category"],
            "price": raw["price"],
            "attributes": _attributes(raw, ["image_url"]),
            "platform": mapped.fillna(raw["item_id"].map(by_events)),
        }
    )
    catalog = _catalog(items, events)
    step("items")
    split = temporal_split(Interactions(events))  # duplicate (user, item) rows stay as repeats
    step("split")
    return catalog, split


def _load_uci_online_retail(folder: Path, step: Step) -> tuple[Catalog, Split]:
    platform = "uci_online_retail"
    raw = pd.read_parquet(folder / "online_retail.parquet")
    cancelled = raw["InvoiceNo"].astype(str).str.startswith("C").to_numpy()
    non_positive = (raw["Quantity"] <= 0).to_numpy()
    no_customer = raw["CustomerID"].isna().to_numpy()
    keep = ~(cancelled | non_positive | no_customer)
    logger.info(
        "uci_online_retail: %d rows; removed %d cancellation, %d non-positive quantity and %d "
        "no-CustomerID rows (overlapping), %d in all; %d purchases kept",
        len(raw), cancelled.sum(), non_positive.sum(), no_customer.sum(), (~keep).sum(), keep.sum(),
    )  # fmt: skip
    clean = raw[keep]
    events = pd.DataFrame(
        {
            "user_id": clean["CustomerID"].astype(np.int64).astype(str).to_numpy(),
            "item_id": clean["StockCode"].astype(str).to_numpy(),
            "event_type": "purchase",
            "timestamp": _ms(clean["InvoiceDate"]),  # shop-local (UK) time, read as UTC
            "quantity": clean["Quantity"].to_numpy(),
            "platform": platform,
        }
    )
    step("events")
    descriptions = (
        clean.dropna(subset=["Description"])
        .groupby(["StockCode", "Description"], observed=True)
        .size()
        .reset_index(name="n")
        .sort_values(["StockCode", "n", "Description"], ascending=[True, False, True])
        .drop_duplicates("StockCode")
        .set_index("StockCode")["Description"]
    )
    prices = clean.groupby("StockCode", observed=True)["UnitPrice"].median()
    items = pd.DataFrame({"item_id": prices.index.astype(str), "price": prices.to_numpy()})
    items["title"] = items["item_id"].map(descriptions).fillna("").str.strip()
    items["platform"] = platform
    catalog = _catalog(items, events)
    step("items")
    split = temporal_split(Interactions(events))
    step("split")
    return catalog, split


def _movie_descriptions(tags: pd.DataFrame) -> pd.Series:
    """Per movie, its distinct tags in first-use order joined by ", "."""
    tags = tags.assign(tag=tags["tag"].astype(str).str.strip())
    tags = tags[tags["tag"] != ""].drop_duplicates(["movieId", "tag"])
    return tags.groupby("movieId", sort=False)["tag"].agg(", ".join)


def _load_movielens(folder: Path, step: Step) -> tuple[Catalog, Split]:
    platform = "movielens"
    movies = pd.read_csv(folder / "movies.csv", dtype={"movieId": str, "title": str})
    tags = pd.read_csv(folder / "tags.csv", dtype={"movieId": str, "tag": str})
    genres = movies["genres"].fillna("").replace("(no genres listed)", "")
    # Genres are a set, not a path: root "Movies", the leaf is the genre combination.
    leaf = genres.str.replace("|", ", ", regex=False)
    items = pd.DataFrame(
        {
            "item_id": movies["movieId"],
            "title": movies["title"],
            "description": movies["movieId"].map(_movie_descriptions(tags)).fillna(""),
            "category": ("Movies" + CATEGORY_SEPARATOR + leaf).where(leaf != "", "Movies"),
            "attributes": _attributes(movies.assign(genres=genres), ["genres"]),
            "platform": platform,
        }
    )
    step("items")
    ratings = pd.read_csv(folder / "ratings.csv", dtype={"userId": str, "movieId": str})
    events = pd.DataFrame(
        {
            "user_id": ratings["userId"],
            "item_id": ratings["movieId"],
            "event_type": "rating",
            "rating": ratings["rating"].astype(float),
            "timestamp": ratings["timestamp"].astype(np.int64) * 1000,  # seconds -> ms
            "platform": platform,
        }
    )
    step("events")
    catalog = _catalog(items, events)
    split = temporal_split(Interactions(events))
    step("split")
    return catalog, split
