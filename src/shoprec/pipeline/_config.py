"""Typed configuration, requests and results of the recommendation pipeline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from shoprec._dataclass_json import config_from_dict, config_to_dict
from shoprec.exceptions import ValidationError
from shoprec.pipeline._sources import SOURCE_ORDER
from shoprec.rerank import BusinessRules, Explanation, RerankConfig

__all__ = ["SOURCES", "PipelineConfig", "Recommendation", "Request"]

SOURCES = SOURCE_ORDER
"""Candidate sources, in the order their candidates are merged (see
:data:`~shoprec.pipeline.CANDIDATE_SOURCES`)."""
_DEFAULT_CANDIDATES = {
    "model": 100,
    "covisitation": 50,
    "popularity": 20,
    "trending": 20,
    "new": 10,
}


@dataclass(frozen=True)
class PipelineConfig:
    """How a :class:`~shoprec.pipeline.Pipeline` retrieves, ranks and re-ranks.

    Parameters
    ----------
    model, model_params
        The ranking model (a :data:`~shoprec.models.RECOMMENDERS` name, or ``"ltr"``: the
        learned ranking stage :class:`~shoprec.ranking.LearnedRanking`, fitted on the
        validation events) and its parameters; it also retrieves its own top
        ``candidates["model"]``.
    candidates
        Candidates taken from each source (see :data:`SOURCES`); 0 turns a source off.
    trending_half_life_days
        Half-life of the trending source's popularity.
    encoder
        Text encoder for item vectors (diversity, explanations, new items, search).
    rerank
        Exclusions, caps, diversity method and its default weight, novelty boost.
    new_item_slots
        Positions at the end of each list reserved for new items the model cannot score
        (items added after training), when such items are candidates.
    ann_threshold, ann_overfetch, ann_params
        Above ``ann_threshold`` catalog items (``None``: never) a model whose scores are
        inner products (text_sequence, SASRec, ALS, content) retrieves its candidates through
        an HNSW index (``ann_params``: :class:`~shoprec.index.HNSWIndex` parameters) instead
        of scoring the whole catalog; it fetches ``ann_overfetch`` times
        ``candidates["model"]`` (plus the history and exclusions) so that filtering by
        history, exclusions and business rules still leaves enough.
    ranker_top_n, ranker_budget_ms, ranker_weight
        With a CTR ranker attached, it re-scores at most the ``ranker_top_n`` best candidates,
        stopping early when the next chunk would overrun ``ranker_budget_ms`` (``None``: no
        limit); the final score is the standardised model score plus ``ranker_weight`` times
        the standardised ranker logit.
    """

    model: str = "text_sequence"
    model_params: dict[str, Any] = field(default_factory=dict)
    candidates: dict[str, int] = field(default_factory=lambda: dict(_DEFAULT_CANDIDATES))
    trending_half_life_days: float = 7.0
    encoder: str = "onnx"
    rerank: RerankConfig = field(default_factory=RerankConfig)
    new_item_slots: int = 1
    ann_threshold: int | None = 500_000  # exact won at 100k items, the index at 1M (scale.json)
    ann_overfetch: float = 2.0
    ann_params: dict[str, Any] = field(default_factory=dict)
    ranker_top_n: int = 50
    ranker_budget_ms: float | None = 30.0
    ranker_weight: float = 1.0

    def __post_init__(self) -> None:
        unknown = set(self.candidates) - set(SOURCES)
        if unknown:
            raise ValidationError(
                f"unknown candidate source(s) {sorted(unknown)}; choose from {list(SOURCES)}",
                field="candidates",
            )
        for name, n in self.candidates.items():
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise ValidationError(f"candidates[{name!r}] must be an int >= 0", field=name)
        if self.new_item_slots < 0 or self.ranker_top_n < 1:
            raise ValidationError("new_item_slots must be >= 0 and ranker_top_n >= 1")
        if self.ann_threshold is not None and self.ann_threshold < 0:
            raise ValidationError("ann_threshold must be >= 0 or None", field="ann_threshold")
        if not self.ann_overfetch >= 1.0:
            raise ValidationError("ann_overfetch must be >= 1", field="ann_overfetch")
        if self.ranker_budget_ms is not None and self.ranker_budget_ms <= 0:
            raise ValidationError("ranker_budget_ms must be positive", field="ranker_budget_ms")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (for the artifact manifest): every field, nested configs as objects."""
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelineConfig:
        """Inverse of :meth:`to_dict`; also reads the flat re-ranking caps of manifests written
        before the configs were serialised generically."""
        data = dict(data)
        rerank = data.get("rerank")
        if isinstance(rerank, dict) and "caps" not in rerank:
            rerank = dict(rerank)
            caps = {k: rerank.pop(k) for k in ("max_per_category", "max_per_brand") if k in rerank}
            data["rerank"] = {**rerank, "caps": caps}
        return config_from_dict(cls, data)


@dataclass(frozen=True)
class Request:
    """One user's recommendation request.

    Parameters
    ----------
    history
        The user's item ids, oldest first (any length; unknown ids are ignored).
    event_types
        Event type of each history item (``None``: unknown).
    k
        List length.
    diversity
        Overrides the configured diversity weight in ``[0, 1]``.
    rules
        Business rules (categories, price range, excluded ids, stock).
    exclude
        Further ids not to recommend (e.g. already in the basket).
    explain
        Attach an :class:`~shoprec.rerank.Explanation` to every item.
    context
        User context text for the CTR ranker (portrait summary); ``None``: built from titles.
    """

    history: Sequence[str] = ()
    event_types: Sequence[str] | None = None
    k: int = 10
    diversity: float | None = None
    rules: BusinessRules | None = None
    exclude: Sequence[str] = ()
    explain: bool = True
    context: str | None = None

    @classmethod
    def from_events(cls, events: pd.DataFrame, **request: Any) -> Request:
        """The request of the user whose events (``Interactions.frame`` rows, in time order)
        are given: their items and event types as history; other fields as keywords."""
        return cls(
            history=events["item_id"].tolist(),
            event_types=events["event_type"].astype(str).tolist(),
            **request,
        )

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ValidationError(f"k must be a positive integer, got {self.k!r}", field="k")
        if isinstance(self.history, str):
            raise ValidationError("history must be a sequence of item ids", field="history")
        if self.event_types is not None and len(self.event_types) != len(self.history):
            raise ValidationError(
                f"{len(self.event_types)} event types for {len(self.history)} history items",
                field="event_types",
            )


@dataclass(frozen=True)
class Recommendation:
    """One recommended item.

    Attributes
    ----------
    item_id
        The item.
    score
        The score it was ranked by (normalised relevance plus any novelty boost).
    sources
        Candidate sources that proposed it, with their scores.
    explanation
        Why it is recommended (``None`` when the request asked for no explanations).
    """

    item_id: str
    score: float
    sources: dict[str, float]
    explanation: Explanation | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "item_id": self.item_id,
            "score": self.score,
            "sources": self.sources,
        }
        if self.explanation is not None:
            out["reason"] = self.explanation.reason
            out["reason_kind"] = self.explanation.kind
            out["evidence"] = self.explanation.evidence
        return out
