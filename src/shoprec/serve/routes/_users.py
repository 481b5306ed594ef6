"""A user's portrait, and deleting a user with everything stored about them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from shoprec.serve._dependencies import API_PREFIX, StateDep, require_admin, require_read
from shoprec.serve._telemetry import mark_personal
from shoprec.serve.schemas._core import Id, PortraitResponse, UserDeleted

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX, tags=["users"])
UserId = Annotated[Id, Path(description="the user id")]


@router.get("/users/{user_id}/portrait", dependencies=[Depends(require_read)])
def portrait(user_id: UserId, state: StateDep) -> PortraitResponse:
    """The user's interpretable portrait as of their latest event (404 for an unknown user)."""
    mark_personal(user_id)
    return PortraitResponse.from_portrait(user_id, state.portrait(user_id))


@router.delete("/users/{user_id}", dependencies=[Depends(require_admin)])
def delete_user(user_id: UserId, state: StateDep, request: Request) -> UserDeleted:
    """Remove everything about the user: events, portrait, impressions, cached state, and
    their training history in the loaded pipelines; the store's deletion list keeps them out
    of pipelines loaded later and of the next training (404 when nothing knew the user)."""
    mark_personal(user_id)
    impressions = getattr(request.app.state, "impressions", None)
    if impressions is not None:
        impressions.flush()  # queued impressions of the user reach the store, then go with it
    events, trained = state.delete_user(user_id)
    return UserDeleted(user_id=user_id, events_deleted=events, training_history_removed=trained)
