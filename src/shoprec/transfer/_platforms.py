"""Data for cross-platform transfer: platforms of a dataset, several platforms as one, target-data
fractions, and platform-balanced sampling.

A *platform* is one shop: the ``platform`` value its items and events carry, or a whole dataset
(then its name is the platform). :func:`combine_platforms` joins several platforms into one
:class:`~shoprec.datasets._datasets.Dataset` whose user and item ids are made platform-unique as
``"platform:id"``, so shops that share ids (or, like the Amazon 2023 Beauty/Health/Handmade
categories, share customers) keep separate catalogs and separate user sequences.
:func:`subsample_users` keeps a target's validation and test events fixed and trains on a share
of its training users; :func:`platform_shares` is the temperature rule of multilingual
pretraining (Conneau and Lample, 2019, "Cross-lingual Language Model Pretraining", NeurIPS):
platform ``p`` is drawn with probability proportional to ``n_p ** T``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from functools import reduce

import numpy as np
import pandas as pd

from shoprec.data import Catalog, Dataset, Interactions, Split

__all__ = [
    "PLATFORM_SEPARATOR",
    "PlatformSampler",
    "combine_platforms",
    "dataset_platforms",
    "platform_dataset",
    "platform_id",
    "platform_shares",
    "subsample_users",
]

logger = logging.getLogger(__name__)

PLATFORM_SEPARATOR = ":"
_PARTS = ("train", "valid", "test")


def platform_id(platform: str, raw_id: str) -> str:
    """The platform-unique form of a user or item id: ``"platform:raw_id"``."""
    return f"{platform}{PLATFORM_SEPARATOR}{raw_id}"


def dataset_platforms(dataset: Dataset) -> list[str]:
    """The platforms of ``dataset``'s events, in order of first appearance."""
    return [str(p) for p in dataset.interactions.frame["platform"].unique()]


def platform_dataset(dataset: Dataset, platform: str) -> Dataset:
    """The part of ``dataset`` on one platform, under the dataset's own split.

    Events are those carrying ``platform``; the catalog is the items carrying it plus any item
    those events refer to. The split keeps the dataset's cut (a temporal split stays global).

    Raises
    ------
    ValueError
        No event carries ``platform``; the message lists the platforms there are.
    """
    split = dataset.split
    parts = {name: _on_platform(getattr(split, name), platform) for name in _PARTS}
    if not any(len(part) for part in parts.values()):
        raise ValueError(
            f"no event of {dataset.name!r} is on platform {platform!r}; its platforms are "
            f"{dataset_platforms(dataset)}"
        )
    frame = dataset.catalog.frame
    items = set(frame.loc[frame["platform"] == platform, "item_id"])
    for part in parts.values():
        items.update(part.item_ids)
    return Dataset(
        name=platform,
        catalog=dataset.catalog.subset(items),
        split=Split(**parts, protocol=split.protocol),
        description=f"platform {platform} of {dataset.name}",
    )


def _on_platform(events: Interactions, platform: str) -> Interactions:
    return events.select((events.frame["platform"] == platform).to_numpy())


def combine_platforms(platforms: Sequence[Dataset]) -> Dataset:
    """Several platforms as one dataset with platform-unique ids.

    Each dataset's name is its platform: every user and item id becomes
    :func:`platform_id` ``(name, id)`` and every item and event carries ``platform = name``.
    Catalogs are concatenated in the given order, so each platform's items are contiguous.
    The split parts are the platforms' own parts joined; ``protocol`` is theirs when they agree,
    else ``"mixed"``.

    Raises
    ------
    ValueError
        No dataset is given, or two share a name.
    """
    names = [d.name for d in platforms]
    if not names or len(set(names)) != len(names):
        raise ValueError(f"need one or more platforms with distinct names, got {names}")
    catalog = Catalog(
        pd.concat([_prefixed_items(d.catalog, d.name) for d in platforms], ignore_index=True)
    )
    parts = {}
    for part in _PARTS:
        prefixed = [_prefixed_events(d.split, part, d.name) for d in platforms]
        parts[part] = reduce(Interactions.concat, prefixed)
    protocols = {d.split.protocol for d in platforms}
    protocol = protocols.pop() if len(protocols) == 1 else "mixed"
    return Dataset(
        name="+".join(names),
        catalog=catalog,
        split=Split(**parts, protocol=protocol),
        description=f"platforms {', '.join(names)}",
    )


def _prefixed_items(catalog: Catalog, platform: str) -> pd.DataFrame:
    frame = catalog.frame.copy()
    frame["item_id"] = platform + PLATFORM_SEPARATOR + frame["item_id"]
    frame["platform"] = platform
    return frame


def _prefixed_events(split: Split, part: str, platform: str) -> Interactions:
    events: Interactions = getattr(split, part)
    frame = events.frame.copy()
    frame["user_id"] = platform + PLATFORM_SEPARATOR + frame["user_id"]
    has_item = frame["item_id"] != ""  # searches keep their empty item id
    frame.loc[has_item, "item_id"] = platform + PLATFORM_SEPARATOR + frame.loc[has_item, "item_id"]
    frame["platform"] = platform
    return Interactions(frame, has_timestamps=events.has_timestamps)


def subsample_users(split: Split, fraction: float, *, random_state: int = 0) -> Split:
    """The split with its training events cut to a ``fraction`` of the training users.

    Whole users are kept or dropped; validation and test events are unchanged, so models trained
    on different fractions are evaluated on the same events. With one ``random_state`` the
    samples are nested: the users of a smaller fraction are among those of a larger one.

    Raises
    ------
    ValueError
        ``fraction`` is not in ``(0, 1]``.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    users = split.train.user_ids
    order = np.random.default_rng(random_state).permutation(len(users))
    keep = users[order[: max(1, round(fraction * len(users)))]]
    train = split.train.select(split.train.frame["user_id"].isin(set(keep)).to_numpy())
    logger.info("kept %d of %d training users (%d events)", len(keep), len(users), len(train))
    return Split(train=train, valid=split.valid, test=split.test, protocol=split.protocol)


def platform_shares(counts: Mapping[str, int], temperature: float) -> dict[str, float]:
    """Sampling share of each platform: ``n_p ** temperature`` normalised.

    ``temperature`` 1 samples in proportion to size (plain shuffling), 0 uniformly over
    platforms, values in between flatten the imbalance.

    Raises
    ------
    ValueError
        ``temperature`` is negative, or a count is not positive.
    """
    if temperature < 0:
        raise ValueError(f"temperature must be non-negative, got {temperature}")
    if not counts or min(counts.values()) <= 0:
        raise ValueError(f"every platform needs a positive count, got {dict(counts)}")
    weights = {name: float(n) ** temperature for name, n in counts.items()}
    total = sum(weights.values())
    return {name: w / total for name, w in weights.items()}


class PlatformSampler:
    """Draws example indices so that each platform gets its share of every epoch.

    Parameters
    ----------
    platforms
        Platform code of each example, shape ``(n_examples,)``; codes ``0..n_platforms-1``.
    shares
        Share of each platform code, summing to 1 (e.g. from :func:`platform_shares`).
    size
        Examples per draw (an epoch).
    random_state
        Seeds the draws.

    A platform with quota ``q`` and ``n`` examples contributes ``q // n`` shuffled copies of all
    its examples and ``q % n`` more without repeats, so no example is repeated more than needed.
    """

    def __init__(
        self, platforms: np.ndarray, shares: Sequence[float], *, size: int, random_state: int = 0
    ) -> None:
        codes = np.asarray(platforms, dtype=np.int64)
        self.members = [np.flatnonzero(codes == p) for p in range(len(shares))]
        empty = [p for p, m in enumerate(self.members) if len(m) == 0 and shares[p] > 0]
        if empty:
            raise ValueError(f"platform code(s) {empty} have a share but no example")
        if size < 1:
            raise ValueError(f"size must be positive, got {size}")
        self.quotas = _quotas(np.asarray(shares, dtype=np.float64), size)
        self._rng = np.random.default_rng(random_state)

    def draw(self) -> np.ndarray:
        """One epoch's example indices, grouped by platform (the training loop shuffles)."""
        parts = []
        for members, quota in zip(self.members, self.quotas, strict=True):
            copies, rest = divmod(int(quota), len(members)) if len(members) else (0, 0)
            parts += [self._rng.permutation(members) for _ in range(copies)]
            parts.append(self._rng.permutation(members)[:rest])
        return np.concatenate(parts).astype(np.int64)


def _quotas(shares: np.ndarray, size: int) -> np.ndarray:
    """Integer quotas summing to ``size``, by largest remainder."""
    exact = shares / shares.sum() * size
    quotas = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - quotas), kind="stable")
    quotas[order[: size - int(quotas.sum())]] += 1
    return quotas
