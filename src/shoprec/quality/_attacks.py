"""Attack simulation on real interaction data: the standard shilling and bot setups.

The profiles follow the attack models of Lam & Riedl (2004) and Mobasher et al. (2007, "Toward
trustworthy recommender systems"), adapted to implicit feedback, where an event says "interested"
and there is no rating to push:

- ``click_bot``: scripted accounts that view many random items at a high rate (seconds apart),
  a share of them on the target item (bots are hired to inflate view counts);
- ``average``: fake accounts whose profile is the target item plus filler items drawn in
  proportion to their popularity (an average customer's basket), profile sizes drawn from the
  real users' sizes;
- ``bandwagon``: the target plus half the profile from the most popular items, half random;
- ``purchase_burst``: new accounts that each buy the target item (sometimes one popular item
  too) within a day.

Fake accounts are new: their events fall in the last ``window_days`` of the data (the last day
for the burst). On order-only data (positions, not times) each fake profile gets positions
``0..n-1`` like the real ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from shoprec.data import EventType, Interactions

__all__ = ["ATTACK_KINDS", "Attack", "AttackConfig", "simulate_attack"]

ATTACK_KINDS = ("click_bot", "average", "bandwagon", "purchase_burst")
_DAY_MS = 86_400_000


@dataclass(frozen=True)
class AttackConfig:
    """One attack's setup.

    Attributes
    ----------
    kind
        One of :data:`ATTACK_KINDS`.
    fraction
        Fake accounts as a share of the real users.
    target
        The item to push; by default a long-tail item (event count between the median and the
        75th percentile of items).
    window_days
        The attack's events fall in the last ``window_days`` of the data.
    bot_events
        Inclusive range of events per click bot.
    bot_target_share
        Share of a click bot's views on the target.
    popular_items
        The most popular items bandwagon profiles draw from.
    max_profile
        Largest push profile (real sizes above it are clipped).
    """

    kind: str
    fraction: float = 0.01
    target: str | None = None
    window_days: float = 7.0
    bot_events: tuple[int, int] = (100, 500)
    bot_target_share: float = 0.1
    popular_items: int = 50
    max_profile: int = 50

    def __post_init__(self) -> None:
        if self.kind not in ATTACK_KINDS:
            raise ValueError(f"unknown attack kind {self.kind!r}; choose from {ATTACK_KINDS}")
        if not 0 < self.fraction < 1:
            raise ValueError(f"fraction must be in (0, 1), got {self.fraction}")
        if self.window_days <= 0:
            raise ValueError(f"window_days must be positive, got {self.window_days}")


@dataclass(frozen=True)
class Attack:
    """Real events with an attack injected.

    Attributes
    ----------
    interactions
        Real and fake events together, in time order.
    fake_users
        The fake accounts' ids.
    targets
        The pushed item ids.
    config
        The setup simulated.
    """

    interactions: Interactions
    fake_users: np.ndarray
    targets: np.ndarray
    config: AttackConfig


def simulate_attack(
    interactions: Interactions, config: AttackConfig, *, random_state: int = 0
) -> Attack:
    """Inject the attack ``config`` describes into ``interactions``.

    Parameters
    ----------
    interactions
        Real events (e.g. a split's training events).
    config
        The attack.
    random_state
        Seed of every random choice (fake profiles, times, the default target).

    Returns
    -------
    Attack
    """
    rng = np.random.default_rng(random_state)
    frame = interactions.frame[interactions.frame["item_id"] != ""]
    counts = frame["item_id"].value_counts()
    target = config.target if config.target is not None else _long_tail_item(counts, rng)
    n_users = frame["user_id"].nunique()
    n_fake = max(1, round(config.fraction * n_users))
    users = np.array([f"sim-{rng.bytes(6).hex()}" for _ in range(n_fake)], dtype=object)
    builder = {
        "click_bot": _click_bots,
        "average": _push_profiles,
        "bandwagon": _push_profiles,
        "purchase_burst": _burst_profiles,
    }[config.kind]
    fake = builder(users, target, frame, counts, config, rng)
    timed = interactions.has_timestamps
    fake = _times(fake, frame, config, rng) if timed else _positions(fake)
    fake["platform"] = frame["platform"].iat[0] if len(frame) else "default"
    attacked = interactions.concat(Interactions(fake, has_timestamps=timed))
    return Attack(attacked, users, np.array([target], dtype=object), config)


def _long_tail_item(counts: pd.Series, rng: np.random.Generator) -> str:
    low, high = np.quantile(counts.to_numpy(), [0.5, 0.75])
    pool = counts.index[(counts >= low) & (counts <= high)].to_numpy()
    return str(rng.choice(np.sort(pool.astype(str))))


def _dominant_type(frame: pd.DataFrame) -> str:
    return str(frame["event_type"].value_counts().index[0])


def _click_bots(
    users: np.ndarray,
    target: str,
    frame: pd.DataFrame,
    counts: pd.Series,
    config: AttackConfig,
    rng: np.random.Generator,
) -> pd.DataFrame:
    pool = np.sort(counts.index.to_numpy().astype(str))
    rows: list[pd.DataFrame] = []
    for user in users:
        n = int(rng.integers(config.bot_events[0], config.bot_events[1] + 1))
        items = rng.choice(pool, size=n)
        items[rng.random(n) < config.bot_target_share] = target
        gaps = rng.uniform(1_000, 30_000, size=n)  # 1-30 s between page views
        rows.append(_profile(user, items, EventType.VIEW.value, np.cumsum(gaps)))
    return pd.concat(rows, ignore_index=True)


def _push_profiles(
    users: np.ndarray,
    target: str,
    frame: pd.DataFrame,
    counts: pd.Series,
    config: AttackConfig,
    rng: np.random.Generator,
) -> pd.DataFrame:
    sizes = frame.groupby("user_id")["item_id"].nunique().to_numpy()
    sizes = np.clip(rng.choice(sizes, size=len(users)), 2, config.max_profile)
    items = counts.index.to_numpy().astype(str)
    popularity = counts.to_numpy(dtype=float) / counts.sum()
    popular = items[: config.popular_items]  # value_counts sorts by count
    event_type = _dominant_type(frame)
    rows = []
    for user, size in zip(users, sizes, strict=True):
        n_fill = int(size) - 1
        if config.kind == "average":
            filler = rng.choice(items, size=n_fill, replace=False, p=popularity)
        else:
            n_popular = min((n_fill + 1) // 2, len(popular))
            filler = np.concatenate(
                [
                    rng.choice(popular, size=n_popular, replace=False),
                    rng.choice(items, size=n_fill - n_popular, replace=False),
                ]
            )
        profile = rng.permutation(np.append(filler[filler != target], target))
        rows.append(_profile(user, profile, event_type, np.zeros(len(profile))))
    return pd.concat(rows, ignore_index=True)


def _burst_profiles(
    users: np.ndarray,
    target: str,
    frame: pd.DataFrame,
    counts: pd.Series,
    config: AttackConfig,
    rng: np.random.Generator,
) -> pd.DataFrame:
    popular = counts.index.to_numpy().astype(str)[: config.popular_items]
    rows = []
    for user in users:
        profile = [target]
        if rng.random() < 0.3:
            profile.append(str(rng.choice(popular)))
        rows.append(_profile(user, np.array(profile, dtype=object), "purchase", np.zeros(1)))
    return pd.concat(rows, ignore_index=True)


def _profile(user: str, items: np.ndarray, event_type: str, offsets: np.ndarray) -> pd.DataFrame:
    """One account's events; ``offsets`` are milliseconds after its first event (or zeros)."""
    offsets = np.resize(offsets, len(items))
    return pd.DataFrame(
        {"user_id": user, "item_id": items, "event_type": event_type, "timestamp": offsets}
    )


def _times(
    fake: pd.DataFrame, frame: pd.DataFrame, config: AttackConfig, rng: np.random.Generator
) -> pd.DataFrame:
    """Milliseconds in the attack window: each account starts at a random time in it."""
    end = int(frame["timestamp"].max())
    window = _DAY_MS if config.kind == "purchase_burst" else config.window_days * _DAY_MS
    fake = fake.copy()
    users = fake["user_id"].to_numpy()
    firsts = pd.unique(users)
    starts = dict(zip(firsts, end - rng.uniform(0, window, size=len(firsts)), strict=True))
    start = np.array([starts[u] for u in users])
    offsets = fake["timestamp"].to_numpy(dtype=float)
    if config.kind != "click_bot":  # a push profile is spread over hours, not seconds
        offsets = rng.uniform(0, 6 * 3_600_000, size=len(fake))
    fake["timestamp"] = np.minimum(start + offsets, end).astype(np.int64)
    return fake.sort_values(["timestamp"], kind="stable").reset_index(drop=True)


def _positions(fake: pd.DataFrame) -> pd.DataFrame:
    """Order-only data: each fake profile gets positions ``0..n-1``, as real sequences have."""
    fake = fake.copy()
    fake["timestamp"] = fake.groupby("user_id", sort=False).cumcount().astype(np.int64)
    return fake
