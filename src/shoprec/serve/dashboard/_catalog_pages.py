"""The catalog: semantic search, an item's page (its record, similar items, events and
exposure), items new to the model and items removed from the catalog."""

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


def _cold(state: ServingState) -> list[dict[str, Any]]:
    """Items the live model saw no training event for: added after training (through
    ``POST /v1/items``) or never touched before it; recommended from their text alone."""
    pipeline = state.active.pipeline
    counts = zip(pipeline.catalog.item_ids, pipeline.popularity_by_row(), strict=True)
    return _rows(state, [(item_id, 0.0) for item_id, n in counts if n == 0])


@router.get("/catalog")
def catalog_page(
    request: Request, state: StateDep, viewer: ViewerDep, q: str | None = None
) -> Response:
    """Search, the most active and most shown items, new and removed items."""
    q = (q or "").strip()
    results = _rows(state, state.search(q, k=20)) if q else None
    stats = store_stats(request)
    top = sorted(stats.item_events.items(), key=lambda kv: -sum(kv[1].values()))[:10]
    shown = sorted(stats.item_exposure.items(), key=lambda kv: -kv[1])[:10]
    cold = _cold(state)
    titles = {r["item_id"]: r["title"] for r in _rows(state, [(i, 0.0) for i, _ in top + shown])}
    plots = [
        bar_chart(
            [(titles[i], float(sum(c.values()))) for i, c in top],
            title=f"Most events, last {WINDOW_DAYS} days",
        ),
        bar_chart(
            [(titles[i], float(n)) for i, n in shown], title="Most shown in recommendation lists"
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
        cold=cold[:_LISTED],
        cold_total=len(cold),
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
    series = stats.item_series.get(item_id, {})
    shown = stats.item_exposure.get(item_id, 0)
    plot = line_chart(
        {"events": [(b, float(n)) for b, n in sorted(series.items())]},
        title=f"Events on this item per {stats.per}",
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
