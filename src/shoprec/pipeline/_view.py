"""The request-side snapshot of the catalog: everything a request reads about the items, laid
out by catalog row and replaced whole on catalog updates, so a request never sees half an
update."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from shoprec.data import Catalog
from shoprec.exceptions import ValidationError
from shoprec.models import ItemCoVisitation, Recommender
from shoprec.pipeline._config import Request
from shoprec.pipeline._sources import CANDIDATE_SOURCES
from shoprec.rerank import Explainer, ItemAttributes, RerankConfig, Reranker
from shoprec.text import item_texts

__all__ = [
    "CatalogView",
    "by_catalog_row",
    "catalog_view",
    "history_interest",
    "source_scores",
    "top_items",
]


@dataclass(frozen=True)
class CatalogView:
    """Everything a request reads about the items, replaced whole on catalog updates."""

    catalog: Catalog
    texts: list[str]
    titles: list[str]
    vectors: np.ndarray  # (n_items, dim) unit rows
    attributes: ItemAttributes
    reranker: Reranker
    explainer: Explainer
    is_new: np.ndarray  # (n_items,) bool: no training events
    new_rows: np.ndarray  # rows where is_new
    popularity: np.ndarray  # (n_items,) training events per item
    trending: np.ndarray | None  # (n_items,) recency-weighted events
    model_rows: np.ndarray  # catalog row of each of the model's items (-1: not in the catalog)
    source_rows: dict[str, np.ndarray]  # the same for each candidate source's items
    shared_scores: dict[str, np.ndarray]  # (n_items,) scores of the sources not per user
    removed: frozenset[str]


def catalog_view(
    rerank: RerankConfig,
    catalog: Catalog,
    vectors: np.ndarray,
    removed: frozenset[str],
    *,
    model: Recommender,
    sources: Mapping[str, Recommender],
) -> CatalogView:
    """The snapshot of ``catalog`` (with its unit text ``vectors``) for the fitted model and
    candidate sources (``popularity`` among them)."""
    attributes = ItemAttributes.from_catalog(catalog)
    source_rows = {name: attributes.rows(source.item_ids_) for name, source in sources.items()}
    shared = {
        name: by_catalog_row(
            source.score([np.empty(0, dtype=np.int64)])[0], source_rows[name], len(catalog),
            fill=0.0,
        )
        for name, source in sources.items()
        if not CANDIDATE_SOURCES[name].per_user
    }  # fmt: skip
    counts = shared["popularity"]  # training events per item: popularity's shared scores
    neighbours = None
    if isinstance(covisitation := sources.get("covisitation"), ItemCoVisitation):
        rows = source_rows["covisitation"]
        moved = sp.csr_matrix(  # the neighbour matrix re-indexed by catalog rows
            (np.ones(len(rows)), (rows, np.arange(len(rows)))), shape=(len(catalog), len(rows))
        )
        neighbours = (moved @ covisitation.neighbors_ @ moved.T).tocsr()
    titles = catalog.frame["title"].astype(str).tolist()
    return CatalogView(
        catalog=catalog,
        texts=item_texts(catalog),
        titles=titles,
        vectors=np.asarray(vectors, dtype=np.float32),
        attributes=attributes,
        reranker=Reranker(rerank, attributes, vectors, counts),
        explainer=Explainer(attributes, titles, embeddings=vectors, co_visitation=neighbours),
        is_new=counts <= 0,
        new_rows=np.flatnonzero(counts <= 0),
        popularity=counts,
        trending=shared.get("trending"),
        model_rows=attributes.rows(model.item_ids_),
        source_rows=source_rows,
        shared_scores=shared,
        removed=removed,
    )


def by_catalog_row(
    values: np.ndarray, rows: np.ndarray, n_items: int, *, fill: float
) -> np.ndarray:
    """``values`` (last axis over a model's items) laid out by catalog row: item ``j`` goes to
    row ``rows[j]``; ``fill`` where no model item lands, and items with ``rows[j] < 0`` (not in
    the catalog) drop. float64."""
    values = np.asarray(values)
    out = np.full((*values.shape[:-1], n_items), fill, dtype=np.float64)
    known = rows >= 0
    out[..., rows[known]] = values[..., known]
    return out


def source_scores(
    view: CatalogView, name: str, source: Recommender, requests: Sequence[Request]
) -> list[np.ndarray]:
    """The candidate source ``name``'s scores by catalog row (``-inf`` where it has none),
    one ``(n_items,)`` array per request; a source that scores everyone alike gives every
    request the same array (so its ranking is computed once)."""
    if name in view.shared_scores:
        return [view.shared_scores[name]] * len(requests)
    scores = source.score([source.encode_items(r.history) for r in requests])
    return list(by_catalog_row(scores, view.source_rows[name], len(view.catalog), fill=-np.inf))


def top_items(
    view: CatalogView, scores: np.ndarray, k: int, exclude: Collection[str]
) -> list[tuple[str, float]]:
    """The ``k`` best-scored items, ``exclude`` and removed items skipped."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValidationError(f"k must be a positive integer, got {k!r}", field="k")
    banned = view.attributes.rows([*exclude, *view.removed])
    scores = scores.astype(np.float64, copy=True)
    scores[banned[banned >= 0]] = -np.inf
    top = np.argsort(-scores, kind="stable")[:k]
    top = top[np.isfinite(scores[top])]
    return [(str(view.attributes.item_ids[r]), float(scores[r])) for r in top]


def history_interest(view: CatalogView, history: Sequence[str]) -> np.ndarray | None:
    """The unit mean text vector of the known items of ``history`` (``None``: none known)."""
    rows = view.attributes.rows(history)
    rows = rows[rows >= 0]
    if not len(rows):
        return None
    interest = view.vectors[rows].mean(axis=0)
    return interest / max(float(np.linalg.norm(interest)), 1e-12)
