"""The catalog: read an item, its similar items, and upsert or delete items without retraining."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from shoprec.exceptions import ValidationError
from shoprec.serve._dependencies import API_PREFIX, StateDep, require_admin, require_read
from shoprec.serve.schemas._core import (
    DeleteResult,
    Id,
    ItemBatch,
    ItemFields,
    ItemOut,
    ScoredItem,
    SimilarParams,
    SimilarResponse,
    UpsertResult,
)

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX, tags=["items"])
ItemId = Annotated[Id, Path(description="the item id")]


@router.get("/items/{item_id}", dependencies=[Depends(require_read)])
def get_item(item_id: ItemId, state: StateDep) -> ItemOut:
    """The item's current record (404 when unknown or deleted)."""
    return ItemOut.from_item(state.item(item_id))


@router.get("/items/{item_id}/similar", dependencies=[Depends(require_read)])
def similar_items(
    item_id: ItemId, params: Annotated[SimilarParams, Query()], state: StateDep
) -> SimilarResponse:
    """The ``k`` items with the closest text (404 for an unknown item)."""
    results = state.similar_items(item_id, k=params.k)
    return SimilarResponse(
        item_id=item_id, items=[ScoredItem(item_id=i, score=s) for i, s in results]
    )


@router.post("/items", dependencies=[Depends(require_admin)])
def upsert_items(body: ItemBatch, state: StateDep, request: Request) -> UpsertResult:
    """Insert or replace items (by ``item_id``); new items are recommendable at once."""
    limit = request.app.state.settings.max_batch_events
    if len(body.items) > limit:
        raise ValidationError(f"at most {limit} items per batch", field="items")
    items = [item.to_item(item.item_id) for item in body.items]
    return UpsertResult(written=state.upsert_items(items))


@router.put("/items/{item_id}", dependencies=[Depends(require_admin)])
def put_item(item_id: ItemId, body: ItemFields, state: StateDep) -> UpsertResult:
    """Insert or replace one item."""
    return UpsertResult(written=state.upsert_items([body.to_item(item_id)]))


@router.delete("/items/{item_id}", dependencies=[Depends(require_admin)])
def delete_item(item_id: ItemId, state: StateDep) -> DeleteResult:
    """Stop recommending and returning the item (its past events are kept)."""
    return DeleteResult(deleted=state.delete_items([item_id]))
