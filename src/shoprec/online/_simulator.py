"""A shop simulator: customers who visit the live service, look at its lists, click, buy.

Customers follow a position-based click model (Craswell et al., WSDM 2008; Chuklin et al.,
"Click Models for Web Search", 2015): a customer examines position ``p`` (0-based) with
probability ``1 / (p + 1) ** decay`` and clicks an examined item with its attraction for them.
Attraction comes from

- :class:`SyntheticCustomers`: the latent tastes of the synthetic shop
  (:func:`~shoprec.data.synthetic_tastes`), so the truth is known exactly; or
- :class:`ReplayCustomers`: held-out real events; an item the customer really interacted with
  later attracts with ``hit``, any other with ``miss``.

A click may lead to an add-to-cart and a purchase. Every event is sent with the list's
``request_id`` and the position, and a clicked item's view reports its dwell time. The
simulator counts what it did per variant (the ground truth) and the expected clicks under the
model (the variant's true quality), to hold beside what the service measures.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import numpy as np
from tqdm.auto import tqdm

from shoprec.data import Interactions
from shoprec.datasets import SyntheticTastes
from shoprec.exceptions import ShoprecError

__all__ = [
    "ClickModel",
    "Customers",
    "ReplayCustomers",
    "SimulationTruth",
    "SyntheticCustomers",
    "measured_against_truth",
    "run_experiment",
    "simulate",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClickModel:
    """Position bias and the funnel after a click.

    Attributes
    ----------
    decay
        Examination probability of position ``p`` is ``1 / (p + 1) ** decay``.
    cart_base, cart_fit
        P(cart | click) = ``cart_base + cart_fit * clip(fit, 0, 2)`` (as the generator's funnel).
    purchase
        P(purchase | cart).
    dwell_median_ms
        Median of the lognormal dwell time of a click (``sigma`` 0.8).
    """

    decay: float = 0.7
    cart_base: float = 0.15
    cart_fit: float = 0.2
    purchase: float = 0.6
    dwell_median_ms: float = 25_000.0

    def examination(self, k: int) -> np.ndarray:
        """``(k,)`` examination probabilities of positions ``0..k-1``."""
        return 1.0 / np.arange(1, k + 1, dtype=np.float64) ** self.decay


class Customers(Protocol):
    """Who visits and what attracts them."""

    user_ids: Sequence[str]

    def attraction(self, user_id: str, item_ids: Sequence[str]) -> np.ndarray:
        """``(len(item_ids),)`` click probabilities of examined items."""
        ...

    def fit(self, user_id: str, item_ids: Sequence[str]) -> np.ndarray:
        """``(len(item_ids),)`` standardised utilities (drive carts)."""
        ...


class SyntheticCustomers:
    """The synthetic shop's users with their latent tastes."""

    def __init__(self, tastes: SyntheticTastes) -> None:
        self.tastes = tastes
        self.user_ids = tastes.user_ids
        self._user = {u: i for i, u in enumerate(tastes.user_ids)}
        self._item = {item: j for j, item in enumerate(tastes.item_ids)}

    def _cells(self, matrix: np.ndarray, user_id: str, item_ids: Sequence[str]) -> np.ndarray:
        row = matrix[self._user[user_id]]
        return np.array([row[self._item[i]] if i in self._item else 0.0 for i in item_ids])

    def attraction(self, user_id: str, item_ids: Sequence[str]) -> np.ndarray:
        return self._cells(self.tastes.attraction, user_id, item_ids)

    def fit(self, user_id: str, item_ids: Sequence[str]) -> np.ndarray:
        return self._cells(self.tastes.fit, user_id, item_ids)


class ReplayCustomers:
    """Users of held-out events: what they really interacted with later attracts them."""

    def __init__(self, future: Interactions, *, hit: float = 0.6, miss: float = 0.01) -> None:
        frame = future.frame[future.frame["item_id"] != ""]
        self.wanted: dict[str, set[str]] = {
            user: set(items) for user, items in frame.groupby("user_id")["item_id"]
        }
        self.user_ids = sorted(self.wanted)
        self.hit, self.miss = hit, miss

    def attraction(self, user_id: str, item_ids: Sequence[str]) -> np.ndarray:
        wanted = self.wanted.get(user_id, set())
        return np.array([self.hit if i in wanted else self.miss for i in item_ids])

    def fit(self, user_id: str, item_ids: Sequence[str]) -> np.ndarray:
        wanted = self.wanted.get(user_id, set())
        return np.array([1.0 if i in wanted else 0.0 for i in item_ids])


@dataclass
class SimulationTruth:
    """What the simulated customers saw and did, per variant (``""`` outside experiments)."""

    lists: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    impressions: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    clicks: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    carts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    purchases: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    expected_clicks: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    errors: int = 0

    def rows(self) -> list[dict[str, Any]]:
        """Per variant: impressions, true (realised) CTR and conversion, expected CTR."""
        out = []
        for variant in sorted(self.impressions):
            shown = self.impressions[variant]
            out.append(
                {
                    "variant": variant,
                    "lists": self.lists[variant],
                    "impressions": shown,
                    "true_ctr": self.clicks[variant] / shown if shown else math.nan,
                    "true_conversion": self.purchases[variant] / shown if shown else math.nan,
                    "expected_ctr": self.expected_clicks[variant] / shown if shown else math.nan,
                }
            )
        return out


def simulate(
    client: httpx.Client,
    customers: Customers,
    *,
    visits: int,
    k: int = 10,
    click_model: ClickModel | None = None,
    headers: Mapping[str, str] | None = None,
    random_state: int = 0,
    progress: bool = False,
) -> SimulationTruth:
    """Send ``visits`` customer visits to the service behind ``client`` and act on its lists.

    Parameters
    ----------
    client
        An ``httpx.Client`` whose base URL is the service (a FastAPI ``TestClient`` works).
    customers
        Who visits (uniformly at random) and what attracts them.
    visits, k
        Number of visits and list length.
    click_model
        Position bias and funnel.
    headers
        Extra headers, e.g. ``{"X-API-Key": ...}`` (events need the admin key).
    random_state
        Seed of the customers' choices.
    progress
        Show a progress bar.

    Returns
    -------
    SimulationTruth
        The ground truth per variant.
    """
    model = click_model or ClickModel()
    rng = np.random.default_rng(random_state)
    examine = model.examination(k)
    truth = SimulationTruth()
    users = list(customers.user_ids)
    if not users:
        raise ShoprecError("no customers to simulate")
    for _ in tqdm(range(visits), desc="simulate", unit="visit", disable=not progress):
        user = users[int(rng.integers(len(users)))]
        response = client.post(
            "/v1/recommendations",
            json={"user_id": user, "k": k, "explain": False},
            headers=dict(headers or {}),
        )
        if response.status_code != 200:
            truth.errors += 1
            continue
        body = response.json()
        events = _visit(body, user, customers, model, examine, rng, truth)
        if events:
            sent = client.post(
                "/v1/events/batch", json={"events": events}, headers=dict(headers or {})
            )
            if sent.status_code != 200:
                truth.errors += 1
                logger.warning("events refused: %s", sent.text[:200])
    return truth


def _visit(
    body: dict[str, Any],
    user: str,
    customers: Customers,
    model: ClickModel,
    examine: np.ndarray,
    rng: np.random.Generator,
    truth: SimulationTruth,
) -> list[dict[str, Any]]:
    items = [entry["item_id"] for entry in body["items"]]
    variant, request_id = body.get("variant", ""), body["request_id"]
    truth.lists[variant] += 1
    truth.impressions[variant] += len(items)
    if not items:
        return []
    click_p = examine[: len(items)] * customers.attraction(user, items)
    truth.expected_clicks[variant] += float(click_p.sum())
    fit = customers.fit(user, items)
    events: list[dict[str, Any]] = []
    for position in np.flatnonzero(rng.random(len(items)) < click_p):
        item = items[position]
        base = {"user_id": user, "item_id": item, "request_id": request_id,
                "position": int(position)}  # fmt: skip
        dwell = int(model.dwell_median_ms * math.exp(0.8 * rng.standard_normal()))
        events.append({**base, "event_type": "click", "dwell_ms": min(dwell, 86_400_000)})
        truth.clicks[variant] += 1
        p_cart = model.cart_base + model.cart_fit * min(max(float(fit[position]), 0.0), 2.0)
        if rng.random() < p_cart:
            events.append({**base, "event_type": "cart"})
            truth.carts[variant] += 1
            if rng.random() < model.purchase:
                events.append({**base, "event_type": "purchase"})
                truth.purchases[variant] += 1
    return events


def run_experiment(
    client: httpx.Client,
    name: str,
    variants: Mapping[str, str],
    customers: Customers,
    *,
    visits: int,
    k: int = 10,
    click_model: ClickModel | None = None,
    headers: Mapping[str, str] | None = None,
    settle_s: float = 1.0,
    random_state: int = 0,
    progress: bool = False,
) -> tuple[SimulationTruth, dict[str, Any]]:
    """Start experiment ``name`` (variant name -> pipeline directory, the first the control)
    through the admin API, simulate ``visits``, wait ``settle_s`` for the impression log to
    store the last lists, read the experiment's status and stop it.

    Returns
    -------
    tuple[SimulationTruth, dict]
        The ground truth and the service's ``GET /v1/admin/experiments/{name}`` answer.
    """
    import time

    extra = dict(headers or {})
    body = {"name": name, "variants": [{"name": v, "pipeline": p} for v, p in variants.items()]}
    started = client.post("/v1/admin/experiments", json=body, headers=extra)
    if started.status_code != 201:
        raise ShoprecError(f"could not start experiment {name}: {started.text[:300]}")
    try:
        truth = simulate(
            client, customers, visits=visits, k=k, click_model=click_model, headers=extra,
            random_state=random_state, progress=progress,
        )  # fmt: skip
        time.sleep(settle_s)
        status = client.get(f"/v1/admin/experiments/{name}", headers=extra)
        status.raise_for_status()
    finally:
        client.post(f"/v1/admin/experiments/{name}/stop", headers=extra)
    return truth, status.json()


def measured_against_truth(truth: SimulationTruth, status: dict[str, Any]) -> list[dict[str, Any]]:
    """Per variant: the service's impressions, CTR, conversion and p-values beside the
    simulator's truth, and the CTR's relative error."""
    measured: dict[str, dict[str, Any]] = defaultdict(dict)
    for result in status["results"]:
        measured[result["variant"]][result["metric"]] = result
    rows = []
    for row in truth.rows():
        got = measured.get(row["variant"], {})
        ctr = got.get("ctr", {})
        value = ctr.get("value")
        error = abs(value / row["true_ctr"] - 1) if value and row["true_ctr"] else math.nan
        rows.append(
            {
                "experiment": status["experiment"]["name"],
                **row,
                "measured_impressions": ctr.get("impressions"),
                "ctr": value,
                "ctr_ci": [ctr.get("ci_low"), ctr.get("ci_high")],
                "conversion": got.get("conversion", {}).get("value"),
                "p_value": ctr.get("p_value"),
                "conversion_p_value": got.get("conversion", {}).get("p_value"),
                "ctr_relative_error": error,
            }
        )
    return rows
