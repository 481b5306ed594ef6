"""Online metrics from the store, per pipeline version, experiment variant and day, and the
statistics that compare experiment variants.

Definitions (per shown item; see :mod:`shoprec.online._attribution` for what answers what):

- ``ctr``: clicked shown items / shown items;
- ``add_to_cart``: carted / shown; ``conversion``: purchased / shown;
- ``revenue_per_impression``: attributed revenue / shown;
- ``dwell_ms``: mean dwell time of clicked items whose dwell is known.

Users, not impressions, are the unit of assignment, and one user's impressions are correlated,
so the variance of a rate is the delta-method variance of a ratio of per-user sums (Deng et al.,
"Applying the Delta Method in Metric Analytics", KDD 2018); treating impressions as independent
would make the test anti-conservative (an A/A test would "find" differences too often).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from shoprec.data import Catalog
from shoprec.online._attribution import AttributionConfig, attribute
from shoprec.online._experiments import Experiment
from shoprec.store import EventStore

__all__ = [
    "METRICS",
    "RateEstimate",
    "VariantComparison",
    "attributed_impressions",
    "compare_variants",
    "experiment_results",
    "online_metrics",
    "summarise",
]

METRICS = ("ctr", "add_to_cart", "conversion", "revenue_per_impression")
"""The per-impression rates, in report order; each is a column sum over shown items."""
_NUMERATOR = {
    "ctr": "clicked",
    "add_to_cart": "carted",
    "conversion": "purchased",
    "revenue_per_impression": "revenue",
}
_Z95 = 1.959963984540054


def attributed_impressions(
    store: EventStore,
    *,
    since: int | None = None,
    until: int | None = None,
    catalog: Catalog | None = None,
    config: AttributionConfig | None = None,
) -> pd.DataFrame:
    """Impressions served in ``[since, until)`` with their outcomes (see
    :func:`~shoprec.online._attribution.attribute`); prices from ``catalog`` or the store's."""
    config = config or AttributionConfig()
    impressions = store.impression_frame(since=since, until=until)
    if impressions.empty:
        return attribute(impressions, impressions, impressions)
    first = int(impressions["timestamp"].min())
    last = int(impressions["timestamp"].max()) + config.window_ms + config.dwell_cap_ms
    events = store.event_frame(since=first - 60_000, until=last)
    contexts = store.context_frame(
        since_sequence=int(events["sequence"].min()) - 1 if len(events) else 0
    )
    catalog = catalog if catalog is not None else store.catalog()
    prices = dict(zip(catalog.item_ids, catalog.frame["price"].fillna(0.0), strict=True))
    return attribute(impressions, events, contexts, prices=prices, config=config)


def summarise(attributed: pd.DataFrame, by: tuple[str, ...] = ("version",)) -> pd.DataFrame:
    """Per group of ``by`` (columns of the attributed frame, or ``"day"``): ``impressions``,
    ``lists``, ``users``, ``clicks``, each of :data:`METRICS` and ``dwell_ms``."""
    frame = attributed
    if "day" in by:
        days = pd.to_datetime(frame["timestamp"], unit="ms", utc=True).dt.strftime("%Y-%m-%d")
        frame = frame.assign(day=days)
    columns = [*by, "impressions", "lists", "users", "clicks", *METRICS, "dwell_ms"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    grouped = frame.groupby(list(by), sort=True, dropna=False)
    table = grouped.agg(
        impressions=("request_id", "size"),
        lists=("request_id", "nunique"),
        users=("user_id", "nunique"),
        clicks=("clicked", "sum"),
        carted=("carted", "sum"),
        purchased=("purchased", "sum"),
        revenue=("revenue", "sum"),
        dwell_ms=("dwell_ms", "mean"),
    ).reset_index()
    for metric, numerator in _NUMERATOR.items():
        source = "clicks" if numerator == "clicked" else numerator
        table[metric] = table[source].astype("float64") / table["impressions"]
    return table[columns]


def online_metrics(
    store: EventStore,
    *,
    since: int | None = None,
    until: int | None = None,
    by: tuple[str, ...] = ("version", "variant", "day"),
    catalog: Catalog | None = None,
    config: AttributionConfig | None = None,
) -> pd.DataFrame:
    """:func:`summarise` of :func:`attributed_impressions`: the online metrics table."""
    attributed = attributed_impressions(
        store, since=since, until=until, catalog=catalog, config=config
    )
    return summarise(attributed, by)


@dataclass(frozen=True)
class RateEstimate:
    """A per-impression rate of one variant with its 95% confidence interval."""

    value: float
    low: float
    high: float
    se: float


@dataclass(frozen=True)
class VariantComparison:
    """One variant against the control (the experiment's first variant) on one metric."""

    variant: str
    metric: str
    users: int
    impressions: int
    estimate: RateEstimate
    lift: float  # relative difference to the control (NaN for the control itself)
    p_value: float  # two-sided z-test of equal rates (NaN for the control)


def _ratio(num: np.ndarray, den: np.ndarray) -> RateEstimate:
    """Sum(num) / sum(den) over users with its delta-method standard error."""
    n = len(num)
    total = float(den.sum())
    if n == 0 or total == 0:
        return RateEstimate(math.nan, math.nan, math.nan, math.nan)
    rate = float(num.sum()) / total
    if n < 2:
        return RateEstimate(rate, math.nan, math.nan, math.nan)
    mean_den = total / n
    cov = np.cov(num, den, ddof=1)
    var = (cov[0, 0] - 2 * rate * cov[0, 1] + rate**2 * cov[1, 1]) / (n * mean_den**2)
    se = math.sqrt(max(float(var), 0.0))
    return RateEstimate(rate, rate - _Z95 * se, rate + _Z95 * se, se)


def _p_value(a: RateEstimate, b: RateEstimate) -> float:
    se = math.hypot(a.se, b.se)
    if not se > 0:
        return math.nan
    z = abs(a.value - b.value) / se
    return math.erfc(z / math.sqrt(2.0))


def compare_variants(
    attributed: pd.DataFrame, variants: tuple[str, ...], *, metrics: tuple[str, ...] = METRICS
) -> list[VariantComparison]:
    """Each variant's rates with 95% intervals, and each non-control variant's lift and p-value
    against the control ``variants[0]``, over the rows of ``attributed``."""
    out: list[VariantComparison] = []
    for metric in metrics:
        numerator = _NUMERATOR[metric]
        estimates: dict[str, tuple[RateEstimate, int, int]] = {}
        for variant in variants:
            rows = attributed[attributed["variant"] == variant]
            per_user = rows.groupby("user_id").agg(
                num=(numerator, "sum"), den=("request_id", "size")
            )
            estimate = _ratio(
                per_user["num"].to_numpy(np.float64), per_user["den"].to_numpy(np.float64)
            )
            estimates[variant] = (estimate, len(per_user), len(rows))
        control = estimates[variants[0]][0]
        for variant, (estimate, users, shown) in estimates.items():
            is_control = variant == variants[0]
            lift = (
                math.nan if is_control or not control.value else estimate.value / control.value - 1
            )
            p = math.nan if is_control else _p_value(estimate, control)
            out.append(VariantComparison(variant, metric, users, shown, estimate, lift, p))
    return out


def experiment_results(
    store: EventStore,
    experiment: Experiment,
    *,
    catalog: Catalog | None = None,
    config: AttributionConfig | None = None,
    metrics: tuple[str, ...] = METRICS,
) -> tuple[list[VariantComparison], pd.DataFrame]:
    """The experiment's variants compared (:func:`compare_variants`) over the impressions it
    labelled, and its daily metrics per variant."""
    attributed = attributed_impressions(
        store, since=experiment.started_at, until=experiment.stopped_at, catalog=catalog,
        config=config,
    )  # fmt: skip
    attributed = attributed[attributed["experiment"] == experiment.name]
    names = tuple(v.name for v in experiment.variants)
    return compare_variants(attributed, names, metrics=metrics), summarise(
        attributed, ("variant", "day")
    )
