"""Attribution: which events answer which shown item.

The unit is one shown item (an impression row: a request id and a position). An event answers
it when

1. the event carries that ``request_id`` (and its item is in that list), within the window; or
2. otherwise, it is the user's latest impression of the event's item served at most
   ``window_ms`` before the event.

A shown item is *clicked* when a click answers it, *carted* and *purchased* likewise; its
revenue is the attributed purchases' quantity times the item's price.

**Dwell time** of a clicked item: the ``dwell_ms`` the client reported for a view or click of it
in that list (sent when the view ends), else the gap from the click to the same user's next
event of any kind, capped at ``dwell_cap_ms`` (a customer who left for half an hour did not
read the page that long). A click with no later event is censored: its dwell is unknown and
left out of the mean.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from shoprec.exceptions import ValidationError

__all__ = ["AttributionConfig", "attribute"]

_DAY_MS = 86_400_000


@dataclass(frozen=True)
class AttributionConfig:
    """How events are tied to impressions.

    Attributes
    ----------
    window_ms
        Longest time from a list being served to an event it gets credit for (default 24 h).
    click_types, cart_types, purchase_types
        Event types that count as a click, an add-to-cart and a purchase.
    dwell_cap_ms
        Longest dwell time a gap to the next event may stand for (default 30 min).
    """

    window_ms: int = _DAY_MS
    click_types: tuple[str, ...] = ("click",)
    cart_types: tuple[str, ...] = ("cart",)
    purchase_types: tuple[str, ...] = ("purchase",)
    dwell_cap_ms: int = 30 * 60_000

    def __post_init__(self) -> None:
        if self.window_ms <= 0 or self.dwell_cap_ms <= 0:
            raise ValidationError("window_ms and dwell_cap_ms must be positive", field="window_ms")


_OUTCOMES = ("clicked", "carted", "purchased")


def attribute(
    impressions: pd.DataFrame,
    events: pd.DataFrame,
    contexts: pd.DataFrame,
    *,
    prices: Mapping[str, float] | None = None,
    config: AttributionConfig | None = None,
) -> pd.DataFrame:
    """The impression rows with their outcomes.

    Parameters
    ----------
    impressions
        :meth:`~shoprec.store.OnlineRecords.impression_frame` rows.
    events
        :meth:`~shoprec.store.OnlineRecords.event_frame` rows (with ``sequence``), covering the
        impressions' period plus the window.
    contexts
        :meth:`~shoprec.store.OnlineRecords.context_frame` rows of those events.
    prices
        Item id -> price, for revenue (unknown prices count 0).
    config
        Window, event types and dwell cap.

    Returns
    -------
    pandas.DataFrame
        ``impressions`` plus ``clicked``, ``carted``, ``purchased`` (bool), ``revenue``
        (float) and ``dwell_ms`` (float, NaN when not clicked or unknown).
    """
    config = config or AttributionConfig()
    out = impressions.reset_index(drop=True).copy()
    for column in _OUTCOMES:
        out[column] = False
    out["revenue"] = 0.0
    out["dwell_ms"] = np.nan
    if out.empty or events.empty:
        return out
    everything = events
    events = _with_context(events, contexts)
    matched = _match(out, events, config)
    if matched.empty:
        return out
    kinds = matched["event_type"]
    for column, types in zip(_OUTCOMES, _types(config), strict=True):
        rows = matched.loc[kinds.isin(types), "row"].unique()
        out.loc[rows, column] = True
    buys = matched[kinds.isin(config.purchase_types)]
    if prices is not None and len(buys):
        price = buys["item_id"].map(prices).astype("float64").fillna(0.0)
        revenue = (price * buys["quantity"].astype("float64")).groupby(buys["row"]).sum()
        out.loc[revenue.index, "revenue"] = revenue.to_numpy()
    out["dwell_ms"] = _dwell(out, matched, everything, config)
    return out


def _types(config: AttributionConfig) -> tuple[tuple[str, ...], ...]:
    return config.click_types, config.cart_types, config.purchase_types


def _with_context(events: pd.DataFrame, contexts: pd.DataFrame) -> pd.DataFrame:
    events = events[events["item_id"] != ""]
    if contexts.empty:
        return events.assign(request_id="", dwell=-1)
    ctx = contexts.rename(columns={"dwell_ms": "dwell"})[["sequence", "request_id", "dwell"]]
    merged = events.merge(ctx, on="sequence", how="left")
    merged["request_id"] = merged["request_id"].fillna("")
    merged["dwell"] = merged["dwell"].fillna(-1).astype("int64")
    return merged


def _match(out: pd.DataFrame, events: pd.DataFrame, config: AttributionConfig) -> pd.DataFrame:
    """Pairs (impression row, event) of the attributed events, columns of both plus ``row``."""
    shown = out[["request_id", "user_id", "item_id", "timestamp"]].rename(
        columns={"timestamp": "shown_at"}
    )
    shown = shown.assign(row=np.arange(len(out)))
    explicit = events[events["request_id"] != ""]
    direct = explicit.merge(shown, on=["request_id", "user_id", "item_id"], how="inner")
    lag = direct["timestamp"] - direct["shown_at"]
    direct = direct[(lag >= -60_000) & (lag <= config.window_ms)]  # a minute of clock skew
    implicit = events[~events["sequence"].isin(direct["sequence"])]
    implicit = implicit[implicit["request_id"] == ""].sort_values("timestamp", kind="stable")
    shown = shown[shown["user_id"] != ""].sort_values("shown_at", kind="stable")
    latest = pd.merge_asof(
        implicit.drop(columns="request_id"),
        shown,
        left_on="timestamp",
        right_on="shown_at",
        by=["user_id", "item_id"],
        direction="backward",
        tolerance=config.window_ms,
    )
    latest = latest[latest["row"].notna()].astype({"row": "int64"})
    return pd.concat([direct, latest], ignore_index=True)


def _dwell(
    out: pd.DataFrame, matched: pd.DataFrame, events: pd.DataFrame, config: AttributionConfig
) -> np.ndarray:
    dwell = np.full(len(out), np.nan)
    reported = matched[matched["dwell"] >= 0]
    if len(reported):
        first = reported.groupby("row")["dwell"].max()
        dwell[first.index.to_numpy()] = np.minimum(first.to_numpy(), config.dwell_cap_ms)
    clicks = matched[matched["event_type"].isin(config.click_types)]
    clicks = clicks.sort_values("timestamp").drop_duplicates("row")
    clicks = clicks[np.isnan(dwell[clicks["row"].to_numpy()])]
    if clicks.empty:
        return dwell
    ordered = events.sort_values(["user_id", "timestamp", "sequence"], kind="stable")
    users = ordered["user_id"].to_numpy()
    times = ordered["timestamp"].to_numpy()
    seqs = ordered["sequence"].to_numpy()
    position = pd.Series(np.arange(len(ordered)), index=seqs)
    at = position.reindex(clicks["sequence"].to_numpy()).to_numpy()
    valid = ~np.isnan(at)
    at_next = np.where(valid, at, 0).astype(np.int64) + 1
    has_next = valid & (at_next < len(ordered))
    at_next = np.minimum(at_next, len(ordered) - 1)
    has_next &= users[at_next] == clicks["user_id"].to_numpy()
    gap = times[at_next] - clicks["timestamp"].to_numpy()
    value = np.where(has_next, np.minimum(gap, config.dwell_cap_ms), np.nan)
    dwell[clicks["row"].to_numpy()] = value
    return dwell
