"""Text search over the catalog, optionally personalised by a user's recent items."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from shoprec.serve._dependencies import API_PREFIX, StateDep, require_read
from shoprec.serve._telemetry import mark_personal
from shoprec.serve.schemas._core import ScoredItem, SearchParams, SearchResponse

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX, tags=["search"], dependencies=[Depends(require_read)])


@router.get("/search")
def search(params: Annotated[SearchParams, Query()], state: StateDep) -> SearchResponse:
    """Items whose text best matches ``q``; with a known ``user_id``, mixed with the user's
    interest by ``personalization``."""
    mark_personal(params.user_id)
    results = state.search(
        params.q, user_id=params.user_id, k=params.k, personalization=params.personalization
    )
    return SearchResponse(
        query=params.q, items=[ScoredItem(item_id=i, score=s) for i, s in results]
    )
