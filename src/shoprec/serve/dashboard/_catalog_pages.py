"""The catalog: semantic search, an item's page (its record, similar items, events and
exposure), items added through the service and items removed from it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shoprec.exceptions import NotFoundError
from shoprec.serve._dependencies import StateDep
from shoprec.serve._state import ServingState
from shoprec.serve.dashboard._auth import ViewerDep
from shoprec.serve.dashboard._overview import store_stats
from shoprec.serve.dashboard._store_stats import WINDOW_DAYS
from shoprec.serve.dashboard._svg import bar_chart, line_chart
from shoprec.serve.dashboard._web import PREFIX, render

__all__ = ["router"]

router = APIRouter(prefix=PREFIX, include_in_schema=False)
_LISTED = 30


def _rows(state: ServingState, scored: list[tuple[str, float]]) -> list[dict[str, Any]]:
    catalog = state.active.pipeline.catalog
    out = []
    for item_id, score in scored:
        item = catalog.item(item_id) if item_id in catalog else None
        out.append(
            {
                "item_id": item_id,
                "score": score,
                "title": item.title if item else item_id,
                "brand": item.brand if item else "",
                "price": item.price if item else None,
                "category": " > ".join(item.category) if item else "",
            }
        )
    return out


def _added(state: ServingState) -> tuple[list[dict[str, Any]], int]:
    """Items upserted through the service (the store's catalog), the ones the model never saw
    in training first; and how many catalog items have no training event at all."""
    pipeline = state.active.pipeline
    catalog = pipeline.catalog
    trained = dict(zip(catalog.item_ids, pipeline.popularity_by_row(), strict=True))
    stored = state.store.catalog()
    rows = [
        {**_rows(state, [(item_id, 0.0)])[0], "cold": trained.get(item_id, 0) == 0}
        for item_id in stored.item_ids
        if item_id in catalog
    ]
    rows.sort(key=lambda r: (not r["cold"], r["item_id"]))
    cold = sum(1 for n in trained.values() if n == 0)
    return rows, cold


@router.get("/catalog")
def catalog_page(
    request: Request, state: StateDep, viewer: ViewerDep, q: str | None = None
) -> Response:
    """Search, the most active and most shown items, added and removed items."""
    q = (q or "").strip()
    results = _rows(state, state.search(q, k=20)) if q else None
    stats = store_stats(request)
    top = sorted(stats.item_events.items(), key=lambda kv: -sum(kv[1].values()))[:10]
    shown = sorted(stats.item_exposure.items(), key=lambda kv: -kv[1])[:10]
    added, cold = _added(state)
    titles = {r["item_id"]: r["title"] for r in _rows(state, [(i, 0.0) for i, _ in top + shown])}
    plots = [
        bar_chart(
            [(titles[i], float(sum(c.values()))) for i, c in top],
            title=f"Most events in the last {WINDOW_DAYS} days",
        ),
        bar_chart(
            [(titles[i], float(n)) for i, n in shown],
            title=f"Most shown in recommendation lists, last {WINDOW_DAYS} days",
        ),
    ]
    return render(
        request,
        viewer,
        "catalog.html",
        active="catalog",
        q=q,
        results=results,
        items=len(state.active.pipeline.catalog),
        added=added[:_LISTED],
        added_total=len(added),
        cold=cold,
        removed=sorted(state.active.removed)[:_LISTED],
        removed_total=len(state.active.removed),
        plots=plots,
        window=stats.window,
    )


@router.get("/catalog/items/{item_id}")
def item_page(item_id: str, request: Request, state: StateDep, viewer: ViewerDep) -> Response:
    """One item: its record, similar items, its events and exposure in the window."""
    try:
        item = state.item(item_id)
    except NotFoundError:
        removed = item_id in state.active.removed
        return render(
            request,
            viewer,
            "item.html",
            active="catalog",
            status=404,
            item_id=item_id,
            removed=removed,
        )
    stats = store_stats(request)
    events = stats.item_events.get(item_id, {})
    daily = stats.item_daily.get(item_id, {})
    shown = stats.item_exposure.get(item_id, 0)
    plot = line_chart(
        {"events": [(d, float(n)) for d, n in sorted(daily.items())]},
        title=f"Events on this item per day, last {WINDOW_DAYS} days",
    )
    pipeline = state.active.pipeline
    trained = dict(zip(pipeline.catalog.item_ids, pipeline.popularity_by_row(), strict=True))
    return render(
        request,
        viewer,
        "item.html",
        active="catalog",
        item=item,
        item_id=item_id,
        similar=_rows(state, state.similar_items(item_id, k=10)),
        events=events,
        purchases=events.get("purchase", 0),
        shown=shown,
        plot=plot,
        window=stats.window,
        trained=int(trained.get(item_id, 0)),
    )
