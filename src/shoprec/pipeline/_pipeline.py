"""The recommendation pipeline: retrieve candidates from several sources, rank, re-rank, explain.

A request runs::

    history -> candidates: the model's own top N, co-visitation neighbours, popularity,
               trending, new items (each candidate keeps the sources that proposed it)
            -> ranking: the model's score of every candidate (trending popularity for users
               without history); with a CTR ranker attached, its logits over the best
               candidates are fused with the model's scores within a latency budget
            -> re-ranking: exclusions, business rules, caps, MMR / DPP diversity, novelty
            -> new-item slots, then an explanation per item

Requests are batched: the model scores all users of a batch in one pass. Reads work on an
immutable snapshot (:class:`CatalogView`) that catalog updates replace whole, so a request never
sees half an update.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Collection, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Self

import numpy as np

from shoprec._artifacts import reading
from shoprec._runtime import single_blas_thread
from shoprec.data import Catalog, Interactions
from shoprec.exceptions import NotFittedError, ValidationError
from shoprec.models import Recommender, create_recommender
from shoprec.pipeline._artifact import PipelineParts, data_fingerprint, load_pipeline, save_pipeline
from shoprec.pipeline._candidates import gather_candidates, widened
from shoprec.pipeline._config import PipelineConfig, Recommendation, Request
from shoprec.pipeline._retrieval import AnnRetrieval, ModelScores, model_scores, refresh_retrieval
from shoprec.pipeline._search import CatalogSearch
from shoprec.pipeline._sources import CANDIDATE_SOURCES
from shoprec.pipeline._view import (
    CatalogView,
    catalog_view,
    source_scores,
)
from shoprec.profiles import ItemFeatures, user_context_text
from shoprec.ranking import LearnedRanking, Scorer, fuse_scores, score_within_budget
from shoprec.rerank import BusinessRules, RerankConfig, Reranker
from shoprec.text import encode_texts, item_texts

__all__ = ["Pipeline"]

logger = logging.getLogger(__name__)


class Pipeline:
    """Retrieve -> rank -> re-rank -> explain, fitted on a shop's events and catalog.

    Parameters
    ----------
    config
        What to retrieve, how to rank and re-rank (defaults: :class:`PipelineConfig`).
    random_state
        Seeds the model.
    progress
        Progress bars while fitting.

    Attributes
    ----------
    model_ : Recommender
        The ranking model.
    sources_ : dict of str to Recommender
        The fitted candidate sources by name (see
        :data:`~shoprec.pipeline.CANDIDATE_SOURCES`; popularity always, trending only with
        real timestamps).
    ranker_ : Scorer or None
        The attached second-stage ranker.
    fingerprint_ : str
        SHA-256 of the training events.
    metrics_ : dict
        Metrics recorded at training time (see :meth:`record_metrics`).
    """

    def __init__(
        self, config: PipelineConfig | None = None, *, random_state: int = 0, progress: bool = False
    ) -> None:
        self.config = config
        self.random_state = random_state
        self.progress = progress
        self._lock = threading.RLock()  # serialises writers and model scoring
        self._features: tuple[Catalog, ItemFeatures] | None = None
        self._retrieval: AnnRetrieval | None = None
        self._text_search = CatalogSearch(lambda: self.settings, self._lock)

    @property
    def settings(self) -> PipelineConfig:
        return self.config or PipelineConfig()

    # -- fitting ----------------------------------------------------------------------------------
    def fit(
        self,
        interactions: Interactions,
        catalog: Catalog,
        *,
        validation: Interactions | None = None,
        model: Recommender | None = None,
    ) -> Self:
        """Fit the model and the candidate sources on ``interactions`` over ``catalog``.

        ``model``: an already fitted ranking model to use as is (its name replaces
        ``config.model``), e.g. the winner of a comparison.
        """
        config = self.settings
        if model is not None:
            if not model.is_fitted:
                raise ValidationError("the given model is not fitted", field="model")
            self.config = config = replace(
                config, model=model.name, model_params=model.get_params()
            )
            self.model_ = model
        else:
            self.model_ = self._new_model(config)
            self.model_.fit(interactions, catalog, validation=validation)
        self.sources_ = {
            name: source.build(config.trending_half_life_days, self.random_state).fit(
                interactions, catalog
            )
            for name, source in CANDIDATE_SOURCES.items()
            if (source.always or config.candidates.get(name))
            and (interactions.has_timestamps or not source.needs_timestamps)
        }
        self.ranker_: Scorer | None = None
        self.fingerprint_ = data_fingerprint(interactions)
        self.metrics_: dict[str, Any] = {}
        vectors = encode_texts(config.encoder, item_texts(catalog), progress=self.progress)
        self._set_view(self._make_view(catalog, vectors, frozenset()))
        return self

    def _set_view(self, view: CatalogView) -> None:
        """Serve from ``view``, with the model's ANN index following its catalog."""
        with self._lock:
            self._retrieval = refresh_retrieval(self._retrieval, self.settings, self.model_, view)
            self._view = view

    def _new_model(self, config: PipelineConfig) -> Recommender:
        if config.model == LearnedRanking.name:  # the learned stage ranks the candidates
            given = {"text_encoder": config.encoder, "random_state": self.random_state}
            return LearnedRanking(**{**given, "progress": self.progress, **config.model_params})
        return create_recommender(
            config.model,
            random_state=self.random_state,
            progress=self.progress,
            **config.model_params,
        )

    def record_metrics(self, metrics: dict[str, Any]) -> None:
        """Keep training-time metrics (e.g. the model's test NDCG) for the artifact manifest."""
        self.metrics_ = dict(metrics)

    def configure_rerank(self, rerank: RerankConfig) -> None:
        """Re-rank with ``rerank`` from the next request on (the fitted parts are kept)."""
        view = self._check_fitted()
        with self._lock:
            self.config = replace(self.settings, rerank=rerank)
            self._view = self._make_view(view.catalog, view.vectors, view.removed)

    def attach_ranker(self, ranker: Scorer | None) -> None:
        """Use ``ranker`` (or no ranker) as the second stage from the next request on."""
        self._check_fitted()
        self.ranker_ = ranker

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "_view")

    def _check_fitted(self) -> CatalogView:
        if not self.is_fitted:
            raise NotFittedError("Pipeline is not fitted; call fit() or Pipeline.load() first")
        return self._view

    def _make_view(
        self, catalog: Catalog, vectors: np.ndarray, removed: frozenset[str]
    ) -> CatalogView:
        """The request-side snapshot of ``catalog`` (rebuilt on every catalog change)."""
        return catalog_view(
            self.settings.rerank,
            catalog,
            vectors,
            removed,
            model=self.model_,
            sources=self.sources_,
        )

    # -- serving ----------------------------------------------------------------------------------
    def recommend(self, requests: Sequence[Request]) -> list[list[Recommendation]]:
        """The final list of every request (a batch is scored in one model pass)."""
        with single_blas_thread():
            return self._recommend(requests)

    def _recommend(self, requests: Sequence[Request]) -> list[list[Recommendation]]:
        view = self._check_fitted()
        rows = [view.attributes.rows(r.history) for r in requests]
        fetch = math.ceil(self.settings.candidates.get("model", 0) * self.settings.ann_overfetch)
        with self._lock:
            scored = model_scores(
                self.model_, view, requests, retrieval=self._retrieval,
                fetch=fetch + max((len(r.exclude) for r in requests), default=0),
            )  # fmt: skip
        proposals = {
            name: source_scores(view, name, source, requests)
            for name, source in self.sources_.items()
            if self.settings.candidates.get(name)
        }
        return [
            self._one(
                view,
                request,
                rows[i],
                scored,
                i,
                {name: scores[i] for name, scores in proposals.items()},
            )
            for i, request in enumerate(requests)
        ]

    def recommend_one(self, history: Sequence[str] = (), **request: Any) -> list[Recommendation]:
        """Single-request form of :meth:`recommend`; keywords as in :class:`Request`."""
        return self.recommend([Request(history=history, **request)])[0]

    def _one(
        self,
        view: CatalogView,
        request: Request,
        history: np.ndarray,
        scored_batch: ModelScores,
        position: int,
        proposals: dict[str, np.ndarray],
    ) -> list[Recommendation]:
        config = self.settings
        model_scores = scored_batch.scores[position]
        popularity, trending = view.popularity, view.trending
        known_history = history[history >= 0]
        text = None
        if len(known_history):  # only new items need text scores: a full product costs ms
            interest = view.vectors[known_history].mean(axis=0)
            text = np.full(len(view.catalog), -np.inf)
            text[view.new_rows] = view.vectors[view.new_rows] @ interest
        candidates = gather_candidates(
            config.candidates, known_history, {"model": model_scores, **proposals},
            view.is_new, text,
        )  # fmt: skip
        # Users without history are ranked by what is popular now; others by the model.
        if len(known_history):  # through an index, score the other sources' candidates too
            rank_scores = scored_batch.complete(position, candidates.rows)
            source = "model"
        else:
            rank_scores = trending if trending is not None else popularity
            source = "trending" if trending is not None else "popularity"
        rules = request.rules or BusinessRules()
        banned = set(request.exclude) | view.removed
        if banned:
            rules = replace(rules, exclude_item_ids=frozenset(rules.exclude_item_ids) | banned)
        if request.rules is not None:  # a narrow filter may pass fewer than k candidates
            need = request.k + len(known_history)
            candidates = widened(
                candidates, view.attributes, rules, rank_scores, need=need, source=source
            )
        scored = candidates.rows[np.isfinite(rank_scores[candidates.rows])]
        values = rank_scores[scored].astype(np.float64)
        if self.ranker_ is not None and len(scored):
            values = self._fuse_ranker(view, request, known_history, scored, values)
        seen = view.attributes.item_ids[known_history]
        slots = min(config.new_item_slots, request.k - 1)
        unscored = np.setdiff1d(candidates.rows[view.is_new[candidates.rows]], scored)
        slots = slots if len(unscored) else 0
        ids, scores = view.reranker.rerank(
            view.attributes.item_ids[scored], values, k=request.k - slots, seen=seen,
            rules=rules, diversity=request.diversity,
        )  # fmt: skip
        if slots:
            new_ids, new_scores = view.reranker.rerank(
                view.attributes.item_ids[unscored], candidates.text_scores(unscored),
                k=slots, seen=seen, rules=rules,
            )  # fmt: skip
            ids, scores = np.concatenate([ids, new_ids]), np.concatenate([scores, new_scores])
        result_rows = view.attributes.rows(ids)
        sources = [candidates.sources_of(int(r)) for r in result_rows]
        explanations: list[Any] = [None] * len(ids)
        if request.explain:
            history_types = request.event_types
            if history_types is not None:
                history_types = [t for t, r in zip(history_types, history, strict=True) if r >= 0]
            explanations = view.explainer.explain(
                result_rows.tolist(), sources, known_history, history_types
            )
        return [
            Recommendation(str(i), float(s), src, e)
            for i, s, src, e in zip(ids, scores, sources, explanations, strict=True)
        ]

    def _fuse_ranker(
        self,
        view: CatalogView,
        request: Request,
        history: np.ndarray,
        rows: np.ndarray,
        model_scores: np.ndarray,
    ) -> np.ndarray:
        """The model's scores fused with the ranker's logits over the best ``ranker_top_n``
        candidates (fewer when the latency budget runs out); see :func:`fuse_scores`."""
        config = self.settings
        top = np.argsort(-model_scores, kind="stable")[: config.ranker_top_n]
        context = request.context
        if context is None:
            context = user_context_text(None, [view.titles[r] for r in history[::-1]])
        logits = np.full(len(rows), np.nan)
        logits[top] = score_within_budget(
            self.ranker_, context, [view.texts[r] for r in rows[top]], config.ranker_budget_ms
        )
        return fuse_scores(model_scores, logits, config.ranker_weight)

    # -- search -----------------------------------------------------------------------------------
    def search(
        self,
        query: str,
        *,
        history: Sequence[str] = (),
        interest: np.ndarray | None = None,
        k: int = 10,
        personalization: float = 0.3,
    ) -> list[tuple[str, float]]:
        """Items whose text best matches ``query``, personalised by the user's ``interest``
        vector (their portrait's) or else their ``history``; see :class:`CatalogSearch`."""
        return self._text_search.search(
            self._check_fitted(), query, history=history, interest=interest, k=k,
            personalization=personalization,
        )  # fmt: skip

    def similar_items(self, item_id: str, *, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` items with the closest text to ``item_id`` (itself excluded)."""
        return self._text_search.similar_items(self._check_fitted(), item_id, k=k)

    # -- catalog updates --------------------------------------------------------------------------
    def add_items(self, catalog: Catalog) -> None:
        """Upsert items: new ones are recommendable at once (from their text), known ones get
        their new attributes and text. A removed item that comes back is restored."""
        view = self._check_fitted()
        with self._lock:
            merged = view.catalog.upsert(catalog)
            vectors = encode_texts(self.settings.encoder, item_texts(merged))
            if self.model_.supports_new_items:
                self.model_.add_items(catalog)
            removed = view.removed - set(catalog.item_ids)
            self._set_view(self._make_view(merged, vectors, frozenset(removed)))

    def remove_items(self, item_ids: Collection[str]) -> None:
        """Stop recommending and returning ``item_ids`` (unknown ids are ignored)."""
        view = self._check_fitted()
        with self._lock:
            self._view = replace(view, removed=view.removed | frozenset(map(str, item_ids)))
            if self._retrieval is not None:
                rows = view.attributes.rows(map(str, item_ids))
                self._retrieval.remove(rows[rows >= 0])

    @property
    def components(self) -> dict[str, Recommender]:
        """The fitted model (``"model"``) and candidate sources, by name."""
        self._check_fitted()
        return {"model": self.model_, **self.sources_}

    @property
    def catalog(self) -> Catalog:
        """The current catalog (training items plus upserts)."""
        return self._check_fitted().catalog

    def item_vectors(self) -> np.ndarray:
        """Unit text vectors of the current catalog's items, in catalog order."""
        return self._check_fitted().vectors

    @property
    def reranker(self) -> Reranker:
        """The current re-ranking step (rebuilt on catalog and re-rank config changes)."""
        return self._check_fitted().reranker

    def popularity_by_row(self) -> np.ndarray:
        """Training events per item of the current catalog, in catalog order."""
        return self._check_fitted().popularity

    def item_features(self) -> ItemFeatures:
        """Portrait features of the current catalog (built once per catalog version)."""
        view = self._check_fitted()
        with self._lock:
            if self._features is None or self._features[0] is not view.catalog:
                features = ItemFeatures.from_catalog(view.catalog, view.vectors)
                self._features = (view.catalog, features)
            return self._features[1]

    # -- persistence ------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the pipeline as one directory (see :mod:`shoprec.pipeline._artifact`)."""
        view = self._check_fitted()
        parts = PipelineParts(
            config=self.settings,
            random_state=self.random_state,
            components=self.components,
            ranker=self.ranker_,
            catalog=view.catalog,
            vectors=view.vectors,
            fingerprint=self.fingerprint_,
            metrics=self.metrics_,
            removed=view.removed,
        )
        return save_pipeline(parts, path)

    @classmethod
    def load(cls, path: str | Path) -> Pipeline:
        """Read a directory written by :meth:`save`; components that disagree with the catalog
        fail here with an :class:`~shoprec.exceptions.ArtifactError` naming the directory."""
        parts = load_pipeline(path)
        pipeline = cls(parts.config, random_state=parts.random_state)
        pipeline.model_ = parts.components["model"]
        pipeline.sources_ = {n: c for n, c in parts.components.items() if n != "model"}
        pipeline.ranker_ = parts.ranker
        pipeline.fingerprint_ = parts.fingerprint
        pipeline.metrics_ = dict(parts.metrics)
        with reading(Path(path)):
            pipeline._set_view(pipeline._make_view(parts.catalog, parts.vectors, parts.removed))
        return pipeline
