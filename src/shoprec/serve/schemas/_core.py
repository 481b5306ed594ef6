"""Request and response bodies of the HTTP API, apart from the domain records they map to.

Every request model refuses unknown fields, non-finite numbers and loose types (``"5"`` is not
an integer, ``1`` is not a boolean), and every text field refuses NUL characters and lone
surrogates, which no store can hold: bad input is a 422 naming the field, never a 500.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from shoprec.data import DEFAULT_PLATFORM, Event, EventType, Item
from shoprec.profiles import UserPortrait
from shoprec.rerank import BusinessRules
from shoprec.serve.schemas._types import (
    JSON_INT,
    KEYS,
    MAX_ID_LENGTH,
    YEAR_2000_MS,
    CategoryName,
    Id,
    ItemRef,
    Key,
    LongText,
    PathText,
    QueryText,
    ShortText,
    StrictFloat,
    StrictInt,
    Timestamp,
)

__all__ = [
    "MAX_ID_LENGTH",
    "YEAR_2000_MS",
    "BatchIngestResult",
    "DeleteResult",
    "EventBatch",
    "EventIn",
    "HealthResponse",
    "IngestResult",
    "ItemBatch",
    "ItemFields",
    "ItemIn",
    "ItemOut",
    "PortraitResponse",
    "ReadyResponse",
    "RecommendationFilters",
    "RecommendationRequest",
    "RecommendationResponse",
    "RecommendedItem",
    "ReloadRequest",
    "RollbackRequest",
    "ScoredItem",
    "SearchParams",
    "SearchResponse",
    "Share",
    "SimilarParams",
    "SimilarResponse",
    "UpsertResult",
    "UserDeleted",
    "VersionInfo",
    "VersionResponse",
]


class _Body(BaseModel):
    """Base of request bodies."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class _Params(BaseModel):
    """Base of query-parameter models (query values arrive as text, so types are lax)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


# -- events ----------------------------------------------------------------------------------------
class EventIn(_Body):
    """One customer event. ``item_id`` may be empty only for a search, which needs a ``query``."""

    user_id: Id
    item_id: ItemRef = ""
    event_type: EventType
    timestamp: Timestamp | None = Field(
        default=None,
        description="ms since the epoch, from 2000-01-01 to at most the service's allowed "
        "clock skew (default one day) ahead of its clock; default: now",
    )
    platform: Id = DEFAULT_PLATFORM
    rating: StrictFloat | None = Field(default=None, ge=0, le=5)
    review: LongText = ""
    query: ShortText = ""
    quantity: StrictInt = Field(default=1, ge=1, le=1_000_000)
    client_event_id: Id | None = Field(default=None, description="idempotency key")
    request_id: Id | None = Field(
        default=None, description="the recommendation response this event answers"
    )
    position: Annotated[int, Field(ge=0, le=999), JSON_INT] | None = Field(
        default=None, description="0-based position of the item in that list"
    )
    dwell_ms: Annotated[int, Field(ge=0, le=86_400_000), JSON_INT] | None = Field(
        default=None, description="time on the item, sent when a view ends"
    )

    @property
    def has_context(self) -> bool:
        """Whether the event says which list it answers or how long its view lasted."""
        return self.request_id is not None or self.dwell_ms is not None

    def to_event(self, now_ms: int | None = None) -> Event:
        """The domain event (timestamped now when the client gave no time)."""
        timestamp = self.timestamp
        if timestamp is None:
            timestamp = now_ms if now_ms is not None else time.time_ns() // 1_000_000
        return Event(
            user_id=self.user_id,
            item_id=self.item_id,
            event_type=EventType(self.event_type),
            timestamp=timestamp,
            platform=self.platform,
            rating=self.rating,
            review=self.review,
            query=self.query,
            quantity=self.quantity,
        )


class EventBatch(_Body):
    """Events stored together: all of them or none."""

    events: list[EventIn] = Field(min_length=1)


class IngestResult(BaseModel):
    sequence: int = Field(description="the event's sequence number in the store")
    duplicate: bool = Field(description="its client_event_id was stored before; not stored again")


class BatchIngestResult(BaseModel):
    stored: int
    duplicates: int
    sequences: list[int]
    duplicate: list[bool]


# -- recommendations -------------------------------------------------------------------------------
class RecommendationFilters(_Body):
    """Business rules: category names match any level of an item's category path; brands
    match case-insensitively; out-of-stock items (``in_stock`` attribute) are left out unless
    ``allow_out_of_stock``."""

    include_categories: list[ShortText] = Field(default_factory=list, max_length=100)
    exclude_categories: list[ShortText] = Field(default_factory=list, max_length=100)
    include_brands: list[ShortText] = Field(default_factory=list, max_length=100)
    exclude_brands: list[ShortText] = Field(default_factory=list, max_length=100)
    min_price: StrictFloat | None = Field(default=None, ge=0)
    max_price: StrictFloat | None = Field(default=None, ge=0)
    exclude_item_ids: list[Id] = Field(default_factory=list, max_length=1000)
    allow_out_of_stock: StrictBool = False

    def to_rules(self) -> BusinessRules:
        """The domain rules (:class:`~shoprec.exceptions.ValidationError` if min > max)."""
        return BusinessRules(
            include_categories=frozenset(self.include_categories),
            exclude_categories=frozenset(self.exclude_categories),
            include_brands=frozenset(self.include_brands),
            exclude_brands=frozenset(self.exclude_brands),
            min_price=self.min_price,
            max_price=self.max_price,
            exclude_item_ids=frozenset(self.exclude_item_ids),
            allow_out_of_stock=self.allow_out_of_stock,
        )


class RecommendationRequest(_Body):
    """Recommendations for ``user_id`` (anonymous when absent or unknown)."""

    user_id: Id | None = None
    k: StrictInt = Field(default=10, ge=1, le=100)
    diversity: StrictFloat | None = Field(default=None, ge=0, le=1)
    filters: RecommendationFilters | None = None
    platform: Id | None = Field(
        default=None, description="only this platform's items and the user's events there"
    )
    explain: StrictBool = True


class RecommendedItem(BaseModel):
    item_id: str
    score: float | None
    sources: dict[str, float | None]
    reason: str | None = None
    reason_kind: str | None = None
    evidence: dict[str, Any] | None = None


class RecommendationResponse(BaseModel):
    user_id: str | None
    request_id: str = Field(
        description="quote it (with the item's position) on events this list leads to"
    )
    version: str = Field(description="the pipeline version that computed the list")
    variant: str = Field(default="", description="the experiment variant ('' outside one)")
    items: list[RecommendedItem]


# -- search and similar items ----------------------------------------------------------------------
class SearchParams(_Params):
    q: QueryText
    user_id: Id | None = None
    k: int = Field(default=10, ge=1, le=100)
    personalization: float = Field(default=0.3, ge=0, le=1)


class ScoredItem(BaseModel):
    item_id: str
    score: float | None


class SearchResponse(BaseModel):
    query: str
    items: list[ScoredItem]


class SimilarParams(_Params):
    k: int = Field(default=10, ge=1, le=100)


class SimilarResponse(BaseModel):
    item_id: str
    items: list[ScoredItem]


# -- catalog ---------------------------------------------------------------------------------------
class ItemFields(_Body):
    """An item's attributes; ``category`` is the path from the root to the leaf."""

    title: ShortText
    description: LongText = ""
    brand: ShortText = ""
    category: list[CategoryName] = Field(default_factory=list, max_length=20)
    price: StrictFloat | None = Field(default=None, ge=0)
    attributes: dict[Key, ShortText] = Field(
        default_factory=dict, max_length=100, json_schema_extra=KEYS
    )
    platform: Id = DEFAULT_PLATFORM

    def to_item(self, item_id: str) -> Item:
        return Item(
            item_id=item_id,
            title=self.title,
            description=self.description,
            brand=self.brand,
            category=tuple(self.category),
            price=self.price,
            attributes=dict(self.attributes),
            platform=self.platform,
        )


class ItemIn(ItemFields):
    item_id: Id


class ItemBatch(_Body):
    items: list[ItemIn] = Field(min_length=1)


class ItemOut(BaseModel):
    item_id: str
    title: str
    description: str
    brand: str
    category: list[str]
    price: float | None
    attributes: dict[str, str]
    platform: str

    @classmethod
    def from_item(cls, item: Item) -> ItemOut:
        return cls(
            item_id=item.item_id,
            title=item.title,
            description=item.description,
            brand=item.brand,
            category=list(item.category),
            price=item.price,
            attributes={str(k): str(v) for k, v in item.attributes.items()},
            platform=item.platform,
        )


class UpsertResult(BaseModel):
    written: int


class DeleteResult(BaseModel):
    deleted: int


# -- users -----------------------------------------------------------------------------------------
class Share(BaseModel):
    name: str
    share: float


class PortraitResponse(BaseModel):
    user_id: str
    summary: str
    event_counts: dict[str, int]
    top_categories: list[Share]
    top_brands: list[Share]
    top_keywords: list[Share]
    intent: str
    buying_share: float
    price_band: str | None
    typical_price: float | None
    sentiment: float | None
    recent_items: list[str]

    @classmethod
    def from_portrait(cls, user_id: str, portrait: UserPortrait) -> PortraitResponse:
        intent, ratio = portrait.intent()
        band = portrait.price_band()
        stats = portrait.price_stats()
        return cls(
            user_id=user_id,
            summary=portrait.summary(),
            event_counts=dict(portrait.event_counts),
            top_categories=[Share(name=n, share=s) for n, s in portrait.top_categories(5)],
            top_brands=[Share(name=n, share=s) for n, s in portrait.top_brands(5)],
            top_keywords=[Share(name=n, share=s) for n, s in portrait.top_keywords(10)],
            intent=intent.value,
            buying_share=ratio,
            price_band=None if band is None else band.value,
            typical_price=None if stats is None else stats[0],
            sentiment=portrait.sentiment(),
            recent_items=portrait.recent_items,
        )


class UserDeleted(BaseModel):
    user_id: str
    events_deleted: int
    training_history_removed: bool = Field(
        description="the served pipelines' training data held the user; removed in memory "
        "(run `shoprec forget` on the artifact directories to remove it on disk)"
    )


# -- admin and health ------------------------------------------------------------------------------
class ReloadRequest(_Body):
    """Load a pipeline artifact directory (default: the active version's) from the service's
    artifacts directory; a relative path is inside it."""

    path: PathText | None = None


class RollbackRequest(_Body):
    """Return to a kept version (default: the one replaced last)."""

    version: Annotated[str, Field(strict=True, min_length=1, max_length=64)] | None = None


class VersionInfo(BaseModel):
    version: str
    path: str | None
    loaded_at: str
    model: str
    items: int
    data_fingerprint: str


class VersionResponse(BaseModel):
    active: VersionInfo
    previous: VersionInfo | None = Field(description="where a plain rollback returns")
    kept: list[VersionInfo] = Field(description="every version a rollback can reach, latest first")


class HealthResponse(BaseModel):
    status: str


class ReadyResponse(BaseModel):
    status: str
    version: str | None = None
