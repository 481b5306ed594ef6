"""Typed results of the HTTP API, as the client returns them (frozen dataclasses).

They mirror the service's response bodies but are built from plain JSON, so the client needs
neither FastAPI nor the rest of shoprec. Fields a newer service adds are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

__all__ = [
    "BatchResult",
    "CatalogItem",
    "EventResult",
    "Experiment",
    "ExperimentStatus",
    "Filters",
    "OnlineMetrics",
    "Portrait",
    "Recommendation",
    "Recommendations",
    "ScoredItem",
    "SearchResults",
    "SimilarItems",
    "VariantResult",
    "VersionInfo",
    "Versions",
]

T = TypeVar("T")


def _build(cls: type[T], data: Mapping[str, Any]) -> T:
    """``cls`` from a JSON object, ignoring keys it does not know."""
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{key: value for key, value in data.items() if key in known})


@dataclass(frozen=True)
class Filters:
    """Business rules for one recommendation request.

    Category names match any level of an item's category path, case-insensitively, brands
    case-insensitively; price bounds are inclusive; out-of-stock items are left out unless
    ``allow_out_of_stock``.
    """

    include_categories: Sequence[str] = ()
    exclude_categories: Sequence[str] = ()
    include_brands: Sequence[str] = ()
    exclude_brands: Sequence[str] = ()
    min_price: float | None = None
    max_price: float | None = None
    exclude_item_ids: Sequence[str] = ()
    allow_out_of_stock: bool = False

    def to_json(self) -> dict[str, Any]:
        """The request body's ``filters`` object (empty parts left out)."""
        body: dict[str, Any] = {}
        lists = ("include_categories", "exclude_categories", "include_brands", "exclude_brands")
        for name in (*lists, "exclude_item_ids"):
            if getattr(self, name):
                body[name] = list(getattr(self, name))
        for name in ("min_price", "max_price"):
            if getattr(self, name) is not None:
                body[name] = getattr(self, name)
        if self.allow_out_of_stock:
            body["allow_out_of_stock"] = True
        return body


@dataclass(frozen=True)
class Recommendation:
    """One recommended item: its score, the candidate sources that proposed it, and why."""

    item_id: str
    score: float | None
    sources: Mapping[str, float | None] = field(default_factory=dict)
    reason: str | None = None
    reason_kind: str | None = None
    evidence: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Recommendations:
    """A list for one user, and the pipeline version that computed it."""

    user_id: str | None
    version: str
    items: tuple[Recommendation, ...]
    request_id: str | None = None
    variant: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Recommendations:
        items = tuple(_build(Recommendation, item) for item in data["items"])
        return _build(cls, {**data, "items": items})

    @property
    def item_ids(self) -> list[str]:
        return [item.item_id for item in self.items]


@dataclass(frozen=True)
class ScoredItem:
    item_id: str
    score: float | None


@dataclass(frozen=True)
class SearchResults:
    query: str
    items: tuple[ScoredItem, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SearchResults:
        return cls(data["query"], tuple(_build(ScoredItem, i) for i in data["items"]))

    @property
    def item_ids(self) -> list[str]:
        return [item.item_id for item in self.items]


@dataclass(frozen=True)
class SimilarItems:
    item_id: str
    items: tuple[ScoredItem, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SimilarItems:
        return cls(data["item_id"], tuple(_build(ScoredItem, i) for i in data["items"]))

    @property
    def item_ids(self) -> list[str]:
        return [item.item_id for item in self.items]


@dataclass(frozen=True)
class CatalogItem:
    """An item as the service's catalog holds it."""

    item_id: str
    title: str
    description: str = ""
    brand: str = ""
    category: Sequence[str] = ()
    price: float | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    platform: str = "default"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CatalogItem:
        built = _build(cls, data)
        return built if isinstance(built.category, tuple) else _with_tuple(built)

    def to_json(self) -> dict[str, Any]:
        """The body of ``POST /v1/items`` for this item."""
        body = {f.name: getattr(self, f.name) for f in fields(self)}
        body["category"] = list(self.category)
        body["attributes"] = dict(self.attributes)
        return body


def _with_tuple(item: CatalogItem) -> CatalogItem:
    values = {f.name: getattr(item, f.name) for f in fields(item)}
    return CatalogItem(**{**values, "category": tuple(item.category)})


@dataclass(frozen=True)
class EventResult:
    """An event's sequence number in the store; ``duplicate`` when its ``client_event_id``
    had been stored before (a retry), in which case it was not stored again."""

    sequence: int
    duplicate: bool
    client_event_id: str


@dataclass(frozen=True)
class BatchResult:
    stored: int
    duplicates: int
    sequences: tuple[int, ...]
    duplicate: tuple[bool, ...]
    client_event_ids: tuple[str, ...]


@dataclass(frozen=True)
class Portrait:
    """A user's interpretable portrait (see ``GET /v1/users/{id}/portrait``)."""

    user_id: str
    summary: str
    event_counts: Mapping[str, int]
    top_categories: Mapping[str, float]
    top_brands: Mapping[str, float]
    top_keywords: Mapping[str, float]
    intent: str
    buying_share: float
    price_band: str | None = None
    typical_price: float | None = None
    sentiment: float | None = None
    recent_items: Sequence[str] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Portrait:
        shares = {
            name: {entry["name"]: entry["share"] for entry in data.get(name, [])}
            for name in ("top_categories", "top_brands", "top_keywords")
        }
        return _build(cls, {**data, **shares})


@dataclass(frozen=True)
class VersionInfo:
    version: str
    path: str | None
    loaded_at: str
    model: str
    items: int
    data_fingerprint: str


@dataclass(frozen=True)
class Versions:
    """The active pipeline version, the one a plain rollback returns to, and every version a
    rollback can reach (latest first)."""

    active: VersionInfo
    previous: VersionInfo | None
    kept: tuple[VersionInfo, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Versions:
        previous = data.get("previous")
        return cls(
            _build(VersionInfo, data["active"]),
            None if previous is None else _build(VersionInfo, previous),
            tuple(_build(VersionInfo, entry) for entry in data.get("kept", [])),
        )


@dataclass(frozen=True)
class OnlineMetrics:
    """CTR, add-to-cart, conversion, revenue per impression and dwell per group (``by``), from
    the served lists and the events attributed to them."""

    by: tuple[str, ...]
    window_hours: float
    rows: tuple[Mapping[str, Any], ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OnlineMetrics:
        return cls(tuple(data["by"]), float(data["window_hours"]), tuple(data["rows"]))


@dataclass(frozen=True)
class Experiment:
    """An A/B (or A/A) test between loaded pipelines."""

    name: str
    status: str
    started_at: int
    stopped_at: int | None
    variants: tuple[Mapping[str, Any], ...]
    aa: bool = False
    description: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Experiment:
        return _build(cls, {**data, "variants": tuple(data.get("variants", ()))})


@dataclass(frozen=True)
class VariantResult:
    """One variant's value of one metric, its 95% interval, and its lift and p-value against
    the control (the first variant)."""

    variant: str
    metric: str
    users: int
    impressions: int
    value: float | None
    ci_low: float | None
    ci_high: float | None
    lift: float | None = None
    p_value: float | None = None


@dataclass(frozen=True)
class ExperimentStatus:
    experiment: Experiment
    results: tuple[VariantResult, ...]
    daily: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ExperimentStatus:
        return cls(
            Experiment.from_json(data["experiment"]),
            tuple(_build(VariantResult, row) for row in data.get("results", [])),
            tuple(data.get("daily", [])),
        )
