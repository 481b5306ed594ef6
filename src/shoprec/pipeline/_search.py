"""Text search over a pipeline's catalog: the one search path, shared by the HTTP API, the
dashboard and ``shoprec search``.

Queries go through :class:`~shoprec.index.SemanticSearch` over the catalog's item vectors (an
exact index, HNSW above the pipeline's ``ann_threshold`` items), built on first use for each
catalog version; personalisation re-scores the best query matches with the user's interest
vector, exactly as :meth:`SemanticSearch.search` does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from shoprec._runtime import single_blas_thread
from shoprec.data import Catalog
from shoprec.exceptions import ArtifactError, ValidationError
from shoprec.index import SemanticSearch
from shoprec.pipeline._config import PipelineConfig
from shoprec.pipeline._view import CatalogView, history_interest, top_items
from shoprec.text import create_encoder

__all__ = ["CatalogSearch"]


class CatalogSearch:
    """Search and similar items over the catalog views of one pipeline.

    Parameters
    ----------
    settings
        The pipeline's current config (encoder, ANN threshold and parameters).
    lock
        The pipeline's lock (the index and the query encoder are built under it).
    """

    def __init__(self, settings: Callable[[], PipelineConfig], lock: threading.RLock) -> None:
        self._settings = settings
        self._lock = lock
        self._engine: tuple[Catalog, SemanticSearch] | None = None
        self._encoder: Any = None

    def search(
        self,
        view: CatalogView,
        query: str,
        *,
        history: Sequence[str] = (),
        interest: np.ndarray | None = None,
        k: int = 10,
        personalization: float = 0.3,
    ) -> list[tuple[str, float]]:
        """The ``k`` items whose text best matches ``query``, removed items skipped; with the
        user's ``interest`` vector (else the mean vector of their ``history``) the best
        matches are re-scored as ``(1 - personalization) * query + personalization *
        interest`` cosines."""
        if not isinstance(query, str) or not query.strip():
            raise ValidationError("query must be a non-empty string", field="query")
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValidationError(f"k must be a positive integer, got {k!r}", field="k")
        if interest is None:
            interest = history_interest(view, history)
        user = None if interest is None else np.asarray(interest, dtype=np.float32)[None, :]
        engine = self._engine_for(view)
        with single_blas_thread():
            ids, scores = engine.search(
                [query], k=k, user_vectors=user, personalization=personalization,
                exclude=[view.removed],
            )  # fmt: skip
        return [(str(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i]

    def similar_items(
        self, view: CatalogView, item_id: str, *, k: int = 10
    ) -> list[tuple[str, float]]:
        """The ``k`` items with the closest text to ``item_id`` (itself excluded)."""
        (row,) = view.attributes.rows([item_id])
        if row < 0:
            raise ValidationError(f"unknown item id {item_id!r}", field="item_id")
        with single_blas_thread():
            scores = view.vectors @ view.vectors[row]
        return top_items(view, scores, k, exclude=(item_id,))

    def _engine_for(self, view: CatalogView) -> SemanticSearch:
        with self._lock:
            if self._engine is None or self._engine[0] is not view.catalog:
                config = self._settings()
                threshold = config.ann_threshold
                large = threshold is not None and len(view.catalog) > threshold
                engine = SemanticSearch(
                    encoder=config.encoder,
                    index="hnsw" if large else "exact",
                    index_params=dict(config.ann_params) if large else None,
                ).fit(view.catalog, view.vectors)
                engine.use_query_encoder(self.query_encoder(view))
                self._engine = (view.catalog, engine)
            return self._engine[1]

    def query_encoder(self, view: CatalogView) -> Any:
        """The text encoder, created once (an ONNX session costs ~200 ms to open)."""
        with self._lock:
            if self._encoder is None:
                config = self._settings()
                encoder = create_encoder(config.encoder)
                width = view.vectors.shape[1]
                if encoder.dim != width:  # vectors of another encoder, or a corrupt artifact
                    raise ArtifactError(
                        f"the item vectors (item_vectors.safetensors) are {width} wide; the "
                        f"configured encoder {config.encoder!r} gives {encoder.dim}"
                    )
                self._encoder = encoder
            return self._encoder
