"""The customer explorer: find a user, read their portrait and recent events, see what they are
recommended and why, and ask "what if" they did one more thing.

Lists here are computed directly by the pipeline that serves the user (their experiment
variant's, if any), not through the recommendation endpoint: looking at a customer must not log
impressions that would count in the online metrics. A "what if" adds the event to a copy of the
user's history and portrait only; storing it is a separate action (admin key) through
``POST /v1/events``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shoprec.data import Event, EventType
from shoprec.exceptions import NotFoundError
from shoprec.pipeline import Recommendation
from shoprec.profiles import UserPortrait
from shoprec.serve._catalog import CatalogIndex
from shoprec.serve._dependencies import StateDep
from shoprec.serve._queries import RecommendQuery
from shoprec.serve._state import ServingState
from shoprec.serve._telemetry import mark_personal
from shoprec.serve.dashboard._auth import ViewerDep, check_post
from shoprec.serve.dashboard._web import PREFIX, api_error, call_api, form_data, redirect, render
from shoprec.serve.schemas import PortraitResponse

__all__ = ["router"]

router = APIRouter(prefix=PREFIX, include_in_schema=False)
TIMELINE = 40
_SUGGESTIONS = 12


@dataclass(frozen=True)
class Shown:
    """One recommended item as the page shows it."""

    rank: int
    item_id: str
    title: str
    score: float
    reason: str
    sources: str
    change: str = ""  # "new", "up 2", "down 1", "" (what if only)


def _titles(state: ServingState) -> dict[str, str]:
    frame = state.active.pipeline.catalog.frame
    return dict(zip(frame["item_id"], frame["title"], strict=True))


def recommend_for(
    state: ServingState, user_id: str, extra: Event | None = None, *, k: int = 10
) -> tuple[list[Recommendation], str]:
    """The user's list now, or with ``extra`` added to their history (nothing stored), and the
    version that computed it."""
    deployment = (state.routing and state.routing.route(user_id)) or state.active
    pipeline = deployment.pipeline
    history = list(state.history(user_id))
    try:
        portrait: UserPortrait | None = state.portrait(user_id)  # a copy
    except NotFoundError:
        portrait = None
    if extra is not None:
        history.append(extra)
        features = pipeline.item_features()
        portrait = portrait or UserPortrait(user_id, dim=features.dim)
        portrait.update(extra, features)
    ranked = pipeline.ranker_ is not None and any(e.item_id for e in history)
    query = RecommendQuery(user_id, k=k, explain=True)
    request = query.to_request(
        history, CatalogIndex(pipeline.catalog), portrait if ranked else None
    )
    label = deployment.version + (f" (variant {deployment.variant})" if deployment.variant else "")
    return pipeline.recommend([request])[0], label


def _shown(
    recommendations: list[Recommendation], titles: dict[str, str], before: list[str] | None = None
) -> list[Shown]:
    out = []
    for rank, rec in enumerate(recommendations, 1):
        data = rec.to_dict()
        change = ""
        if before is not None:
            if rec.item_id not in before:
                change = "new"
            elif (old := before.index(rec.item_id) + 1) != rank:
                change = f"up {old - rank}" if old > rank else f"down {rank - old}"
        sources = ", ".join(sorted(str(s) for s in data.get("sources", {})))
        out.append(
            Shown(
                rank,
                rec.item_id,
                titles.get(rec.item_id, rec.item_id),
                float(data["score"]),
                data.get("reason") or "",
                sources,
                change,
            )
        )
    return out


def _suggestions(state: ServingState) -> list[str]:
    """Users with the most recent events, for the empty page."""
    last = state.store.last_sequence()
    recent = state.store.events_since(max(last - 500, 0), limit=500)
    users = [e.user_id for _, e in reversed(recent)]
    return list(dict.fromkeys(users))[:_SUGGESTIONS]


def _matches(state: ServingState, text: str) -> list[str]:
    """Known users whose id starts with (or contains) ``text``."""
    users = state.store.known_users()
    starts = [u for u in users if u.startswith(text)]
    contains = [u for u in users if text in u and not u.startswith(text)]
    return (starts + contains)[:_SUGGESTIONS]


def _what_if_event(state: ServingState, user: str, kind: str, item: str) -> Event:
    state.item(item)  # NotFoundError for an unknown or removed item
    return Event(user, item, EventType(kind), int(time.time() * 1000))


@router.get("/customers")
def customers(
    request: Request,
    state: StateDep,
    viewer: ViewerDep,
    user: str | None = None,
    what_type: str | None = None,
    what_item: str | None = None,
) -> Response:
    """A user's portrait, timeline and recommendations; ``what_type`` + ``what_item``: the
    list as it would be after that event."""
    user = (user or "").strip()
    context: dict[str, Any] = {"user": user, "event_types": [t.value for t in EventType]}
    if not user:
        return render(
            request,
            viewer,
            "customers.html",
            active="customers",
            suggestions=_suggestions(state),
            **context,
        )
    mark_personal(user)
    try:
        portrait = PortraitResponse.from_portrait(user, state.portrait(user))
    except NotFoundError:
        return render(
            request,
            viewer,
            "customers.html",
            active="customers",
            status=404,
            unknown=True,
            matches=_matches(state, user),
            **context,
        )
    titles = _titles(state)
    recommendations, version = recommend_for(state, user)
    context.update(
        portrait=portrait, version=version, recommendations=_shown(recommendations, titles)
    )
    context["timeline"] = [
        (e, titles.get(e.item_id, e.item_id)) for e in reversed(state.history(user)[-TIMELINE:])
    ]
    if what_type and what_item:
        context.update(_what_if(state, user, what_type, what_item.strip(), recommendations, titles))
    return render(request, viewer, "customers.html", active="customers", **context)


def _what_if(
    state: ServingState,
    user: str,
    kind: str,
    item: str,
    before: list[Recommendation],
    titles: dict[str, str],
) -> dict[str, Any]:
    try:
        event = _what_if_event(state, user, kind, item)
    except NotFoundError:
        return {"what_if_error": f"No item {item!r} in the live catalog."}
    except ValueError:
        return {"what_if_error": f"Unknown event type {kind!r}."}
    after, _ = recommend_for(state, user, event)
    order = [r.item_id for r in before]
    dropped = [i for i in order if i not in {r.item_id for r in after}]
    return {
        "what_if": {"type": kind, "item": item, "title": titles.get(item, item)},
        "after": _shown(after, titles, order),
        "dropped": [(i, titles.get(i, i)) for i in dropped],
    }


@router.post("/customers/events")
async def store_event(request: Request, viewer: ViewerDep) -> Response:
    """Store the "what if" event for real, through ``POST /v1/events``."""
    form = await form_data(request)
    check_post(request, viewer, form.get("csrf"), admin=True)
    user, kind, item = form.get("user", ""), form.get("event_type", ""), form.get("item_id", "")
    body = {"user_id": user, "item_id": item, "event_type": kind}
    status, answer = await call_api(request, "POST", "/v1/events", body)
    target = f"/customers?user={quote(user)}"
    if status >= 400:
        return redirect(target, error="Not stored: " + api_error(status, answer))
    return redirect(target, ok=f"Stored: {kind} of {item} (sequence {answer['sequence']})")
