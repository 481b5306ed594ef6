"""Per-user and per-item behaviour features for bot and shilling detection.

Every feature is computed for all users (items) at once with vectorised pandas / scipy; a feature
that cannot be computed for a row (no timestamps, too few events, no views) is NaN, which the
detector treats as unremarkable.

User features
    ``n_events``, ``n_items``; ``rate`` (actions per hour over the account's active span, the
    span floored at a minute; an action is a distinct timestamp, so an order's lines are one
    action; accounts with at least 10 actions); ``gap_cv`` (coefficient of variation of the gaps
    between events: scripts are regular); ``session_events`` (actions in the longest session,
    30-minute gaps);
    ``tenure_days`` (from the first event to the end of the data: new accounts are short);
    ``repeat_share`` (events on items seen before); ``category_breadth`` (distinct leaf categories
    per distinct item); ``view_only_share`` (viewed items never carted or bought);
    ``scan_share`` (consecutive events on neighbouring catalog rows: crawling the catalog in
    order); ``popularity`` (mean log count of the user's items: bandwagon profiles are high,
    random ones low); ``coherence`` (how much more often the user's item pairs occur together in
    other users' histories than if items were independent: real baskets hang together, filler
    items drawn at random do not).

Item features
    ``n_events``, ``n_users``; ``spike`` (Poisson z-score of the item's busiest day against its
    own daily rate since its first event); ``peak_share`` (share of its events on that day);
    ``new_account_share`` (share of its events from accounts less than a day old);
    ``new_account_spike`` (Poisson z-score of its busiest 24 hours counting only the new
    accounts acting on it, against its own daily rate of them: the first order of a real
    customer holds many items, so the share alone is high for many items, but a crowd of new
    accounts on one item in one day is rare);
    ``cooccurrence_burst`` (share of its same-day co-occurrences with other items that fall on
    its busiest day for them); ``supporter_coherence`` (median coherence of the item's users);
    ``supporter_size_z`` (how far the item's users' mean log item count is from all users', in
    standard errors: a crowd of accounts that do nothing else is far below).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from shoprec.data import CATEGORY_SEPARATOR, Catalog, EventType, Interactions

__all__ = ["ITEM_FEATURES", "USER_FEATURES", "item_features", "user_features"]

USER_FEATURES = (
    "n_events",
    "n_items",
    "rate",
    "gap_cv",
    "session_events",
    "tenure_days",
    "repeat_share",
    "category_breadth",
    "view_only_share",
    "scan_share",
    "popularity",
    "coherence",
)
ITEM_FEATURES = (
    "n_events",
    "n_users",
    "spike",
    "peak_share",
    "new_account_share",
    "new_account_spike",
    "cooccurrence_burst",
    "supporter_coherence",
    "supporter_size_z",
)
_HOUR_MS = 3_600_000
_DAY_MS = 86_400_000
_SESSION_GAP_MS = 30 * 60_000
_MIN_RATE_EVENTS = 10  # a handful of reviews posted in one minute is not a rate
_MAX_COHERENCE_ITEMS = 100  # a user's most recent distinct items used for coherence
_BROWSE = (EventType.VIEW.value, EventType.CLICK.value)
_CONVERT = (EventType.CART.value, EventType.PURCHASE.value)


def _item_events(interactions: Interactions) -> pd.DataFrame:
    frame = interactions.frame
    return frame.loc[frame["item_id"] != "", ["user_id", "item_id", "event_type", "timestamp"]]


def user_features(interactions: Interactions, catalog: Catalog | None = None) -> pd.DataFrame:
    """The user features of :data:`USER_FEATURES`, one row per user (index ``user_id``).

    Parameters
    ----------
    interactions
        Events in time order; timing features are NaN for order-only data.
    catalog
        Item metadata: catalog rows give ``scan_share`` its order and leaf categories give
        ``category_breadth``. Without it, items are ordered by id and breadth is NaN.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`USER_FEATURES`, float64.
    """
    events = _item_events(interactions)
    users = pd.Index(events["user_id"].unique(), name="user_id")
    grouped = events.groupby("user_id", sort=False)
    out = pd.DataFrame(index=users)
    out["n_events"] = grouped.size()
    out["n_items"] = grouped["item_id"].nunique()
    timing = _timing(events, interactions.has_timestamps)
    out = out.join(timing)
    out["repeat_share"] = 1.0 - out["n_items"] / out["n_events"]
    out["category_breadth"] = _category_breadth(events, catalog)
    out["view_only_share"] = _view_only_share(events)
    out["scan_share"] = _scan_share(events, catalog)
    counts = events["item_id"].value_counts()
    pairs = events.drop_duplicates(["user_id", "item_id"])
    log_count = np.log1p(pairs["item_id"].map(counts).to_numpy(dtype=float))
    out["popularity"] = pd.Series(log_count, index=pairs.index).groupby(pairs["user_id"]).mean()
    out["coherence"] = _coherence(events)
    return out.reindex(columns=list(USER_FEATURES)).astype(float)


def _timing(events: pd.DataFrame, has_timestamps: bool) -> pd.DataFrame:
    """rate, gap_cv, session_events and tenure_days per user (NaN without timestamps)."""
    users = pd.Index(events["user_id"].unique(), name="user_id")
    columns = ["rate", "gap_cv", "session_events", "tenure_days"]
    if not has_timestamps or events.empty:
        return pd.DataFrame(np.nan, index=users, columns=columns)
    ordered = events.sort_values(["user_id", "timestamp"], kind="stable")
    stamps = ordered["timestamp"].to_numpy(dtype=float)
    user = ordered["user_id"].to_numpy()
    same = np.r_[False, user[1:] == user[:-1]]
    gap = np.where(same, np.diff(stamps, prepend=stamps[0]), np.nan)
    grouped = pd.DataFrame({"user_id": user, "gap": gap, "t": stamps}).groupby("user_id")
    first, last = grouped["t"].min(), grouped["t"].max()
    span_hours = np.maximum(last - first, 60_000.0) / _HOUR_MS
    out = pd.DataFrame(index=users)
    # Actions are distinct timestamps: the lines of one order share a time and are one action.
    actions = grouped["t"].nunique()
    out["rate"] = (actions / span_hours).where(actions >= _MIN_RATE_EVENTS)
    mean, std, n_gaps = grouped["gap"].mean(), grouped["gap"].std(ddof=0), grouped["gap"].count()
    out["gap_cv"] = (std / mean.where(mean > 0)).where(n_gaps >= 2)
    session = np.cumsum(~same | (gap > _SESSION_GAP_MS))
    sessions = pd.DataFrame({"user_id": user, "session": session, "t": stamps}).groupby("session")
    sizes = pd.DataFrame({"user_id": sessions["user_id"].first(), "size": sessions["t"].nunique()})
    out["session_events"] = sizes.groupby("user_id")["size"].max()
    out["tenure_days"] = (stamps.max() - first) / _DAY_MS
    return out


def _category_breadth(events: pd.DataFrame, catalog: Catalog | None) -> pd.Series | float:
    if catalog is None or not (catalog.frame["category"] != "").any():
        return np.nan
    leaf = catalog.frame.set_index("item_id")["category"].str.split(CATEGORY_SEPARATOR).str[-1]
    pairs = events.drop_duplicates(["user_id", "item_id"])
    leaves = pairs["item_id"].map(leaf).replace("", np.nan)
    grouped = leaves.groupby(pairs["user_id"])
    return (grouped.nunique() / grouped.count()).where(grouped.count() >= 2)


def _view_only_share(events: pd.DataFrame) -> pd.Series:
    """Share of a user's viewed items never carted or bought by them (NaN without views)."""
    browsed = events[events["event_type"].isin(_BROWSE)].drop_duplicates(["user_id", "item_id"])
    converted = events[events["event_type"].isin(_CONVERT)].drop_duplicates(["user_id", "item_id"])
    keys = pd.MultiIndex.from_frame(browsed[["user_id", "item_id"]])
    done = keys.isin(pd.MultiIndex.from_frame(converted[["user_id", "item_id"]]))
    return pd.Series(~done, index=browsed.index).groupby(browsed["user_id"]).mean()


def _scan_share(events: pd.DataFrame, catalog: Catalog | None) -> pd.Series:
    """Share of consecutive event pairs on neighbouring catalog rows (distance 1 or 2)."""
    if catalog is not None:
        order = pd.Series(np.arange(len(catalog)), index=catalog.frame["item_id"].to_numpy())
    else:
        ids = np.sort(events["item_id"].unique().astype(str))
        order = pd.Series(np.arange(len(ids)), index=ids)
    events = events.sort_values("user_id", kind="stable")  # time order within each user
    position = events["item_id"].map(order).to_numpy(dtype=float)
    user = events["user_id"].to_numpy()
    same = np.r_[False, user[1:] == user[:-1]]  # events are in time order within a user
    step = np.abs(np.diff(position, prepend=np.nan))
    near = pd.Series(np.where(same, (step >= 1) & (step <= 2), np.nan), index=events.index)
    grouped = near.groupby(events["user_id"])
    return grouped.mean().where(grouped.count() >= 3)


def _incidence(events: pd.DataFrame) -> tuple[sp.csr_matrix, pd.Index, pd.Index]:
    """Binary user x item matrix of each user's most recent distinct items."""
    pairs = events.drop_duplicates(["user_id", "item_id"], keep="last")
    rank = pairs.groupby("user_id", sort=False).cumcount(ascending=False)
    pairs = pairs[rank.to_numpy() < _MAX_COHERENCE_ITEMS]
    user_codes, users = pd.factorize(pairs["user_id"])
    item_codes, items = pd.factorize(pairs["item_id"])
    ones = np.ones(len(pairs), dtype=np.float64)
    shape = (len(users), len(items))
    return sp.csr_matrix((ones, (user_codes, item_codes)), shape=shape), users, items


def _coherence(events: pd.DataFrame) -> pd.Series:
    """Observed over expected co-occurrence of each user's item pairs, others' histories only.

    For a user with items S: sum over pairs i != j in S of (C_ij - 1) divided by the sum of
    (n_i - 1)(n_j - 1) / (N - 1), where C counts users having both items and n_i users having
    item i. 1 means the items occur together as often as independent items would; real baskets
    score well above. NaN for users with fewer than two items.
    """
    x, users, _ = _incidence(events)
    n_users = x.shape[0]
    counts = np.asarray(x.sum(axis=0)).ravel()
    co = (x.T @ x).tocsr()  # items x items, C_ij (diagonal: n_i)
    co.setdiag(0)
    co.eliminate_zeros()
    observed_all = np.asarray((x @ co).multiply(x).sum(axis=1)).ravel()
    sizes = np.asarray(x.sum(axis=1)).ravel()
    observed = observed_all - sizes * (sizes - 1)  # remove the user's own co-occurrences
    others = np.maximum(counts - 1.0, 0.0)
    per_user = np.asarray(x @ others).ravel()
    squares = np.asarray(x @ (others**2)).ravel()
    expected = (per_user**2 - squares) / max(n_users - 1, 1)
    value = np.where((sizes >= 2) & (expected > 0), observed / np.maximum(expected, 1e-12), np.nan)
    return pd.Series(value, index=users)


def item_features(interactions: Interactions, users: pd.DataFrame | None = None) -> pd.DataFrame:
    """The item features of :data:`ITEM_FEATURES`, one row per item (index ``item_id``).

    Parameters
    ----------
    interactions
        Events in time order; ``spike``, ``peak_share`` and ``new_account_share`` are NaN for
        order-only data.
    users
        :func:`user_features` of the same events, for ``supporter_coherence``; computed when
        not given.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`ITEM_FEATURES`, float64.
    """
    events = _item_events(interactions)
    users = user_features(interactions) if users is None else users
    grouped = events.groupby("item_id", sort=False)
    out = pd.DataFrame(index=pd.Index(events["item_id"].unique(), name="item_id"))
    out["n_events"] = grouped.size()
    out["n_users"] = grouped["user_id"].nunique()
    out = out.join(_bursts(events, interactions.has_timestamps))
    pairs = events.drop_duplicates(["user_id", "item_id"])
    coherence = pairs["user_id"].map(users["coherence"])
    out["supporter_coherence"] = coherence.groupby(pairs["item_id"]).median()
    out["supporter_size_z"] = _supporter_size_z(pairs, users)
    return out.reindex(columns=list(ITEM_FEATURES)).astype(float)


def _supporter_size_z(pairs: pd.DataFrame, users: pd.DataFrame) -> pd.Series:
    """z-score of the mean log item count of an item's users against all users' (robust centre
    and scale, the standard error of a mean of that many users)."""
    size = np.log1p(users["n_items"])
    centre = float(size.median())
    scale = max(1.4826 * float((size - centre).abs().median()), 0.05)
    grouped = pairs["user_id"].map(size).groupby(pairs["item_id"])
    return (grouped.mean() - centre) / (scale / np.sqrt(grouped.count()))


def _bursts(events: pd.DataFrame, has_timestamps: bool) -> pd.DataFrame:
    """The burst features per item (NaN without timestamps)."""
    items = pd.Index(events["item_id"].unique(), name="item_id")
    columns = [
        "spike",
        "peak_share",
        "new_account_share",
        "new_account_spike",
        "cooccurrence_burst",
    ]
    if not has_timestamps or events.empty:
        return pd.DataFrame(np.nan, index=items, columns=columns)
    stamps = events["timestamp"].to_numpy(dtype=float)
    day = np.floor(stamps / _DAY_MS)
    daily = pd.DataFrame({"item_id": events["item_id"].to_numpy(), "day": day})
    per_day = daily.groupby(["item_id", "day"]).size()
    peak = per_day.groupby(level=0).max()
    total = per_day.groupby(level=0).sum()
    first_day = daily.groupby("item_id")["day"].min()
    days = np.maximum(day.max() - first_day + 1, 1.0)
    expected = total / days
    out = pd.DataFrame(index=items)
    out["spike"] = (peak - expected) / np.sqrt(expected + 1.0)
    out["peak_share"] = peak / total
    account_start = events.groupby("user_id")["timestamp"].transform("min").to_numpy()
    new = (stamps - account_start) < _DAY_MS
    out["new_account_share"] = pd.Series(new, index=events.index).groupby(events["item_id"]).mean()
    accounts = events.loc[new, ["item_id", "user_id", "timestamp"]].drop_duplicates(
        ["item_id", "user_id"]  # accounts, not events
    )
    new_rate = (accounts.groupby("item_id").size() / days).reindex(items, fill_value=0.0)
    new_peak = _busiest_day(accounts).reindex(items, fill_value=0.0)
    out["new_account_spike"] = (new_peak - new_rate) / np.sqrt(new_rate + 1.0)
    out["cooccurrence_burst"] = _cooccurrence_burst(daily.assign(user_id=events["user_id"]))
    return out


def _busiest_day(events: pd.DataFrame) -> pd.Series:
    """Per item, the most events in any 24 hours (a sliding window, not calendar days: a burst
    across midnight is one burst)."""
    codes, items = pd.factorize(events["item_id"])
    stamps = events["timestamp"].to_numpy(dtype=np.float64)
    order = np.lexsort((stamps, codes))
    codes, stamps = codes[order], stamps[order]
    span = float(stamps.max() - stamps.min()) + 2 * _DAY_MS if len(stamps) else 1.0
    key = codes * span + (stamps - (stamps.min() if len(stamps) else 0.0))
    ends = np.searchsorted(key, key + _DAY_MS, side="left")
    peak = pd.Series(ends - np.arange(len(key)), dtype=float).groupby(codes).max()
    return pd.Series(peak.to_numpy(), index=pd.Index(items[peak.index.to_numpy()]))


def _cooccurrence_burst(daily: pd.DataFrame) -> pd.Series:
    """Per item, the share of its same-day pairs with other items (one customer, one day) that
    fall on its busiest day for such pairs: a pushed item gains its co-visitation in a burst."""
    pairs = daily.groupby(["user_id", "day"])["item_id"].transform("size").to_numpy() - 1
    per_day = pd.Series(pairs, index=daily.index).groupby([daily["item_id"], daily["day"]]).sum()
    total = per_day.groupby(level=0).sum()
    return (per_day.groupby(level=0).max() / total.where(total > 0)).rename(None)
