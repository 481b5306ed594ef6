"""A seeded synthetic online shop with realistic structure, for demos, tests and smoke benchmarks.

The generator plants the signals recommenders exploit, so metrics on it are meaningful:

- a category tree (``Electronics > Audio > Headphones``) whose leaves come in complementary pairs
  under one parent (headphones and speakers, shampoo and conditioner), brands per parent, and
  lognormal prices per leaf with a premium per brand;
- users with latent tastes: a few preferred leaves, brand affinities and a price band;
- sessions of sequential behaviour: the next item is often a companion of the previous one (an
  item of the complementary leaf, same brand or price tier) or a substitute in the same leaf;
- per item step a funnel of events (view > click > cart > purchase, some ratings), searches with
  queries, millisecond timestamps over a few months, and a share of items released late.

Everything is driven by one ``numpy.random.Generator`` seeded with ``random_state``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from shoprec.data import Catalog, Dataset, Interactions, temporal_split

__all__ = ["SyntheticTastes", "make_synthetic_shop", "synthetic_tastes"]

_DAY_MS = 86_400_000


@dataclass(frozen=True)
class _Leaf:
    """A leaf category; list fields are "|"-separated to keep the table compact."""

    path: str
    noun: str
    median_price: float
    descriptors: str
    specs: str
    attribute: str  # "name=option|option|..."


# Leaves 2k and 2k+1 share a parent and complement each other; a parent's brands serve both.
# fmt: off
_LEAVES = (
    _Leaf("Electronics > Audio > Headphones", "Headphones", 79.0,
          "Wireless|Noise-Cancelling|Over-Ear|Studio|Sport",
          "30h Battery|Bluetooth 5.3|USB-C|Foldable", "connectivity=bluetooth|wired"),
    _Leaf("Electronics > Audio > Speakers", "Speaker", 59.0,
          "Portable|Waterproof|Smart|Bookshelf|Party",
          "20W|360° Sound|Bluetooth 5.0|Stereo Pair", "connectivity=bluetooth|wifi"),
    _Leaf("Electronics > Computers > Keyboards", "Keyboard", 69.0,
          "Mechanical|Wireless|Compact|Ergonomic|Backlit",
          "Blue Switches|Full Size|60% Layout|USB-C", "layout=US|UK|DE"),
    _Leaf("Electronics > Computers > Mice", "Mouse", 29.0,
          "Wireless|Gaming|Vertical|Silent|Travel",
          "16000 DPI|Rechargeable|6 Buttons|Bluetooth", "grip=palm|claw|fingertip"),
    _Leaf("Electronics > Phones > Phone Cases", "Phone Case", 19.0,
          "Slim|Rugged|Clear|Leather|MagSafe",
          "iPhone 15|Galaxy S24|Pixel 8|iPhone 14", "material=silicone|leather|polycarbonate"),
    _Leaf("Electronics > Phones > Chargers", "Charger", 25.0,
          "Fast|Wireless|Dual-Port|Travel|Car", "20W|65W GaN|Qi2|USB-C PD", "ports=1|2|3"),
    _Leaf("Home > Kitchen > Coffee Makers", "Coffee Maker", 89.0,
          "Programmable|Single-Serve|Drip|Espresso|Pour-Over",
          "12 Cup|15 Bar|Thermal Carafe|1.5 L", "capacity=small|medium|large"),
    _Leaf("Home > Kitchen > Coffee Beans", "Coffee Beans", 18.0,
          "Dark Roast|Medium Roast|Organic|Single-Origin|Decaf",
          "1 kg|500 g|Whole Bean|Ground", "origin=Colombia|Ethiopia|Brazil"),
    _Leaf("Home > Bedding > Pillows", "Pillow", 39.0,
          "Memory Foam|Down|Cooling|Orthopedic|Hypoallergenic",
          "Queen|King|Set of 2|Standard", "firmness=soft|medium|firm"),
    _Leaf("Home > Bedding > Duvets", "Duvet", 99.0,
          "All-Season|Lightweight|Organic Cotton|Down|Quilted",
          "Queen|King|Double|Single", "warmth=light|medium|warm"),
    _Leaf("Beauty > Skin Care > Moisturizers", "Moisturizer", 24.0,
          "Hydrating|Night|Oil-Free|SPF 30|Anti-Aging",
          "50 ml|100 ml|Fragrance-Free|with Hyaluronic Acid", "skin_type=dry|oily|combination"),
    _Leaf("Beauty > Skin Care > Cleansers", "Cleanser", 14.0,
          "Gentle|Foaming|Exfoliating|Micellar|Cream",
          "150 ml|200 ml|Travel Size|Refill", "skin_type=dry|oily|sensitive"),
    _Leaf("Beauty > Hair Care > Shampoo", "Shampoo", 12.0,
          "Volumizing|Repair|Anti-Dandruff|Sulfate-Free|Color-Safe",
          "250 ml|500 ml|Salon Size|2-Pack", "hair_type=fine|curly|colored"),
    _Leaf("Beauty > Hair Care > Conditioner", "Conditioner", 13.0,
          "Moisturizing|Repair|Leave-In|Sulfate-Free|Smoothing",
          "250 ml|500 ml|Salon Size|2-Pack", "hair_type=fine|curly|colored"),
    _Leaf("Sports > Fitness > Yoga Mats", "Yoga Mat", 35.0,
          "Non-Slip|Extra Thick|Travel|Eco|Cork",
          "6 mm|4 mm|with Strap|Extra Long", "thickness=thin|standard|thick"),
    _Leaf("Sports > Fitness > Dumbbells", "Dumbbells", 49.0,
          "Adjustable|Neoprene|Hex|Chrome|Cast Iron",
          "2 x 5 kg|2 x 10 kg|24 kg Set|Pair", "weight=light|medium|heavy"),
    _Leaf("Sports > Running > Running Shoes", "Running Shoes", 110.0,
          "Lightweight|Trail|Cushioned|Racing|Stability",
          "Men's|Women's|Wide Fit|Waterproof", "size=39|42|45"),
    _Leaf("Sports > Running > Running Socks", "Running Socks", 15.0,
          "Cushioned|Compression|Merino|Anti-Blister|Low-Cut",
          "3-Pack|Pair|Size M|Size L", "size=S|M|L"),
)
_BRANDS = (
    "Sonora|Auralis|Vexon|Beatline", "Keyforge|Nimbus|Corvid|Tactyl",
    "Voltix|Shieldr|Chargewell|Lumo", "Brewmaster|Kaffeo|Morning Ritual|Crema",
    "Dreamwell|Linenly|Cloudnest|Hush", "Lumiere|Verdana|Pure Derm|Aqualis",
    "Silkara|Rootwise|Maneline|Glosso", "IronPeak|Zenflow|CoreMotion|Flexa",
    "Stridex|Pacelab|Trailborn|Velo",
)  # one group per parent, in _LEAVES order
# fmt: on
_COLORS = ("black", "white", "grey", "navy", "red", "green")
_BRANDS_PER_PARENT = 4


class _Draws:
    """Uniform draws from ``rng`` in blocks: scalar generator calls dominate the run time."""

    def __init__(self, rng: np.random.Generator, block: int = 1 << 16) -> None:
        self._rng, self._block = rng, block
        self._values: list[float] = []
        self._next = 0

    def __call__(self) -> float:
        if self._next == len(self._values):
            self._values, self._next = self._rng.random(self._block).tolist(), 0
        self._next += 1
        return self._values[self._next - 1]

    def below(self, n: int) -> int:
        """A uniform integer in ``[0, n)``."""
        return min(int(self() * n), n - 1)

    def pick(self, candidates: np.ndarray, weights: np.ndarray) -> int:
        """One of ``candidates`` with probability proportional to ``weights``; -1 if none."""
        if len(candidates) == 0:
            return -1
        cumulative = weights.cumsum()
        index = int(cumulative.searchsorted(self() * cumulative[-1], side="right"))
        return int(candidates[min(index, len(candidates) - 1)])


@dataclass(frozen=True)
class _Items:
    """Item arrays, shape ``(n_items,)``, and the catalog rows."""

    leaf: np.ndarray
    brand: np.ndarray
    price: np.ndarray
    relative_price: np.ndarray  # log(price / leaf median)
    quality: np.ndarray
    release: np.ndarray  # ms after the start before which the item does not exist
    leaf_cdf: np.ndarray  # global leaf popularity, cumulative
    frame: pd.DataFrame
    by_leaf: list[np.ndarray]


@dataclass(frozen=True)
class _Shop:
    """The items plus what the simulation needs about users and item relations."""

    items: _Items
    companions: list[np.ndarray]
    taste_cdf: np.ndarray  # (n_users, n_leaves), cumulative
    appeal: np.ndarray  # (n_users, n_items), exp(utility), at most 1
    fit: np.ndarray  # (n_users, n_items), utility standardised per user


def _make_items(rng: np.random.Generator, n_items: int, span_ms: int, new: float) -> _Items:
    n_leaves = len(_LEAVES)
    weight = rng.dirichlet(np.full(n_leaves, 4.0))
    extra = rng.choice(n_leaves, max(n_items - n_leaves, 0), p=weight)
    leaf = rng.permutation(np.concatenate([np.arange(min(n_items, n_leaves)), extra]))
    brand = (leaf // 2) * _BRANDS_PER_PARENT + rng.integers(_BRANDS_PER_PARENT, size=n_items)
    premium = rng.normal(0.0, 0.25, len(_BRANDS) * _BRANDS_PER_PARENT)
    median = np.array([_LEAVES[c].median_price for c in leaf])
    relative = premium[brand] + rng.normal(0.0, 0.3, n_items)
    price = np.maximum(np.round(median * np.exp(relative)) - 0.01, 0.99)
    is_new = rng.random(n_items) < new
    release = np.where(is_new, rng.uniform(0.55, 0.85, n_items) * span_ms, 0).astype(np.int64)
    return _Items(
        leaf=leaf,
        brand=brand,
        price=price,
        relative_price=np.log(price / median),
        quality=rng.normal(0.0, 1.0, n_items),
        release=release,
        leaf_cdf=np.cumsum(weight),
        frame=_item_frame(rng, leaf, brand, price),
        by_leaf=[np.flatnonzero(leaf == c) for c in range(n_leaves)],
    )


def _item_frame(
    rng: np.random.Generator, leaf: np.ndarray, brand: np.ndarray, price: np.ndarray
) -> pd.DataFrame:
    """Catalog rows with titles "brand descriptor noun, spec" and a search query per item."""
    brands = [name for group in _BRANDS for name in group.split("|")]
    rows = []
    for i, (c, b) in enumerate(zip(leaf, brand, strict=True)):
        spec, name = _LEAVES[c], brands[b]
        descriptors, details = spec.descriptors.split("|"), spec.specs.split("|")
        descriptor = descriptors[rng.integers(len(descriptors))]
        detail = details[rng.integers(len(details))]
        key, options = spec.attribute.split("=")
        choices = options.split("|")
        color = _COLORS[rng.integers(len(_COLORS))]
        attributes = {"color": color, key: choices[rng.integers(len(choices))]}
        rows.append(
            {
                "item_id": f"p{i:05d}",
                "title": f"{name} {descriptor} {spec.noun}, {detail}",
                "description": f"{descriptor} {spec.noun.lower()} by {name}: {detail}, {color}.",
                "brand": name,
                "category": spec.path,
                "price": float(price[i]),
                "attributes": json.dumps(attributes, sort_keys=True),
                "query": f"{descriptor} {spec.noun}".lower(),
            }
        )
    return pd.DataFrame(rows)


def _make_shop(rng: np.random.Generator, items: _Items, n_users: int) -> _Shop:
    """Users' tastes over leaves, brand affinities and price bands, turned into item appeal."""
    n_leaves, n_brands = len(_LEAVES), len(_BRANDS) * _BRANDS_PER_PARENT
    weight = np.diff(items.leaf_cdf, prepend=0.0)
    taste = np.full((n_users, n_leaves), 0.02)
    users = np.arange(n_users)
    favourite = rng.choice(n_leaves, n_users, p=weight)
    taste[users, favourite] += 1.0
    taste[users, favourite ^ 1] += rng.uniform(0.2, 0.8, n_users)  # the complementary leaf
    third = rng.random(n_users) < 0.5
    taste[users[third], rng.choice(n_leaves, third.sum(), p=weight)] += rng.uniform(0.3, 0.7)
    affinity = rng.normal(0.0, 0.5, (n_users, n_brands))
    affinity[users, rng.integers(n_brands, size=n_users)] += 2.0
    band = rng.normal(0.0, 0.35, n_users)  # the relative log-price each user prefers
    price_fit = -((items.relative_price[None, :] - band[:, None]) ** 2) / (2 * 0.3**2)
    utility = 0.8 * items.quality[None, :] + affinity[:, items.brand] + price_fit
    mean, std = utility.mean(axis=1, keepdims=True), utility.std(axis=1, keepdims=True)
    return _Shop(
        items=items,
        companions=_companions(rng, items),
        taste_cdf=np.cumsum(taste / taste.sum(axis=1, keepdims=True), axis=1),
        appeal=np.exp(utility - utility.max(axis=1, keepdims=True)),
        fit=(utility - mean) / np.maximum(std, 1e-9),
    )


def _companions(rng: np.random.Generator, items: _Items, n: int = 3) -> list[np.ndarray]:
    """Per item, ``n`` items of the complementary leaf, preferring its brand and price tier."""
    out = []
    for i, c in enumerate(items.leaf):
        pool = items.by_leaf[c ^ 1]
        tier = np.abs(items.relative_price[pool] - items.relative_price[i])
        same_brand = items.brand[pool] == items.brand[i]
        score = 1.5 * same_brand - tier + rng.gumbel(0.0, 0.5, len(pool))
        out.append(pool[np.argsort(-score, kind="stable")[:n]])
    return out


def _available(items: _Items, pool: np.ndarray, t: int) -> np.ndarray:
    return pool[items.release[pool] <= t]


def _next_item(draw: _Draws, shop: _Shop, user: int, item: int, t: int) -> int:
    """The session's next item: a companion, a substitute, or another leaf the user likes."""
    items, r = shop.items, draw()
    if r < 0.45:
        pool = _available(items, shop.companions[item], t)
    elif r < 0.8:
        same = items.by_leaf[items.leaf[item]]
        pool = _available(items, same[same != item], t)
    else:
        leaf = int(shop.taste_cdf[user].searchsorted(draw(), side="right"))
        pool = _available(items, items.by_leaf[min(leaf, len(_LEAVES) - 1)], t)
    return draw.pick(pool, shop.appeal[user, pool])


def _funnel(draw: _Draws, shop: _Shop, user: int, item: int, t: int, out: list[tuple]) -> int:
    """View an item and maybe click, cart, buy and rate it; returns the time after."""
    fit = float(shop.fit[user, item])
    kinds = ["view"]
    if draw() < 0.5:
        kinds.append("click")
        if draw() < 0.15 + 0.2 * min(max(fit, 0.0), 2.0):
            kinds.append("cart")
            if draw() < 0.6:
                kinds.append("purchase")
                if draw() < 0.3:
                    kinds.append("rating")
    for kind in kinds:
        rating = np.nan
        if kind == "rating":
            rating = float(np.clip(round(3.2 + 0.8 * fit + 1.4 * (draw() - 0.5)), 1, 5))
        out.append((user, item, kind, t, rating, ""))
        t += 5_000 + draw.below(115_000)
    return t


def _simulate(rng: np.random.Generator, shop: _Shop, n_users: int, span_ms: int) -> list[tuple]:
    """Sessions of every user as ``(user, item, kind, t, rating, query)``; item -1 = search."""
    items, draw, queries = shop.items, _Draws(rng), shop.items.frame["query"].tolist()
    n_sessions = 1 + rng.poisson(rng.lognormal(1.5, 0.6, n_users))
    events: list[tuple] = []
    for user in range(n_users):
        for start in np.sort(rng.uniform(0, span_ms, n_sessions[user])).astype(np.int64):
            cdf = shop.taste_cdf[user] if draw() < 0.85 else items.leaf_cdf
            leaf = min(int(cdf.searchsorted(draw() * cdf[-1], side="right")), len(_LEAVES) - 1)
            pool = _available(items, items.by_leaf[leaf], int(start))
            item, t = draw.pick(pool, shop.appeal[user, pool]), int(start)
            if item >= 0 and draw() < 0.3:
                events.append((user, -1, "search", t, np.nan, queries[item]))
                t += 3_000 + draw.below(17_000)
            for _ in range(8):
                if item < 0:
                    break
                t = _funnel(draw, shop, user, item, t, events)
                item = _next_item(draw, shop, user, item, t) if draw() < 0.6 else -1
    return events


def make_synthetic_shop(
    *,
    n_users: int = 800,
    n_items: int = 400,
    random_state: int = 0,
    n_days: int = 120,
    new_item_fraction: float = 0.1,
    start_ms: int = 1_704_067_200_000,
    platform: str = "synthetic_shop",
) -> Dataset:
    """Generate a small shop: catalog, behaviour events and a global temporal split.

    Parameters
    ----------
    n_users, n_items
        Sizes; each of the 18 leaf categories gets an item when ``n_items >= 18``.
    random_state
        Seed; the same arguments always give identical data.
    n_days
        Length of the event history in days.
    new_item_fraction
        Share of items released between 55% and 85% of the history (no events before).
    start_ms
        Start of the history, ms since the epoch (default 2024-01-01 UTC).
    platform
        Platform of every item and event.

    Returns
    -------
    Dataset
        Named ``"synthetic"``, split by :func:`~shoprec.data._splits.temporal_split`.
    """
    if n_users < 1 or n_items < 2 or n_days < 1:
        raise ValueError(
            f"need n_users >= 1, n_items >= 2 and n_days >= 1; got {n_users}, {n_items}, {n_days}"
        )
    if not 0.0 <= new_item_fraction < 1.0:
        raise ValueError(f"new_item_fraction must be in [0, 1), got {new_item_fraction}")
    rng = np.random.default_rng(random_state)
    span_ms = n_days * _DAY_MS
    shop = _make_shop(rng, _make_items(rng, n_items, span_ms, new_item_fraction), n_users)
    users, items, kinds, times, ratings, queries = zip(
        *_simulate(rng, shop, n_users, span_ms), strict=True
    )
    index = np.asarray(items)
    item_ids = shop.items.frame["item_id"].to_numpy()
    events = pd.DataFrame(
        {
            "user_id": [f"u{u:05d}" for u in users],
            "item_id": np.where(index >= 0, item_ids[np.maximum(index, 0)], ""),
            "event_type": kinds,
            "timestamp": start_ms + np.asarray(times, dtype=np.int64),
            "platform": platform,
            "rating": np.asarray(ratings, dtype=float),
            "query": queries,
        }
    )
    catalog = Catalog(shop.items.frame.drop(columns="query").assign(platform=platform))
    description = f"synthetic shop: {n_users} users, {n_items} items over {n_days} days"
    return Dataset(
        name="synthetic",
        catalog=catalog,
        split=temporal_split(Interactions(events)),
        description=f"{description} (seed {random_state})",
    )


@dataclass(frozen=True)
class SyntheticTastes:
    """The latent tastes behind a synthetic shop, for simulating its customers.

    Attributes
    ----------
    user_ids, item_ids
        Row and column ids of the matrices.
    attraction
        ``(n_users, n_items)``: probability that the user clicks the item when they examine it,
        ``sigmoid(-3 + fit + log(18 * leaf_taste))``: their standardised utility for the item
        (quality, brand affinity, price fit) and how much they like its category.
    fit
        ``(n_users, n_items)``: the standardised utility (drives carts and purchases).
    """

    user_ids: list[str]
    item_ids: list[str]
    attraction: np.ndarray
    fit: np.ndarray


def synthetic_tastes(
    *, n_users: int = 800, n_items: int = 400, random_state: int = 0, n_days: int = 120,
    new_item_fraction: float = 0.1,
) -> SyntheticTastes:  # fmt: skip
    """The latent tastes of the shop :func:`make_synthetic_shop` makes with the same arguments
    (the generator draws them first, from the same seed)."""
    rng = np.random.default_rng(random_state)
    items = _make_items(rng, n_items, n_days * _DAY_MS, new_item_fraction)
    shop = _make_shop(rng, items, n_users)
    taste = np.diff(shop.taste_cdf, axis=1, prepend=0.0)[:, items.leaf]  # (n_users, n_items)
    logit = -3.0 + shop.fit + np.log(len(_LEAVES) * np.maximum(taste, 1e-9))
    return SyntheticTastes(
        user_ids=[f"u{u:05d}" for u in range(n_users)],
        item_ids=items.frame["item_id"].tolist(),
        attraction=1.0 / (1.0 + np.exp(-logit)),
        fit=shop.fit,
    )
