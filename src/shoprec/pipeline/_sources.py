"""Candidate sources: the first-stage retrievers whose top items the pipeline merges.

A source is a fitted :class:`~shoprec.models.Recommender` (``fit``, ``score``, ``save`` and
``load`` come from the Recommender contract) plus the rules by which it proposes, declared once
here in :data:`CANDIDATE_SOURCES`. Adding a source is one entry in this registry: the pipeline
fits, scores, merges, saves and loads every registered source the config asks for. The model
(``"model"``) and new items (``"new"``) are the two sources that are not recommenders of their
own: the ranking model proposes its own top items, and new items come from text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shoprec.models import ALS, ItemCoVisitation, Popularity, Recommender

__all__ = ["CANDIDATE_SOURCES", "SOURCE_ORDER", "CandidateSource"]


@dataclass(frozen=True)
class CandidateSource:
    """How one named source is built and proposes.

    Attributes
    ----------
    build
        ``build(trending_half_life_days, random_state)``: a new, unfitted recommender.
    needs_history
        Proposes nothing for a user without history (its scores would be its cold start).
    positive_only
        Proposes only items with a positive score (co-visitation: items seen together).
    per_user
        ``False``: the same scores for everyone (popularity), computed once per catalog.
    needs_timestamps
        Fitted only on events with real times (recency needs them).
    always
        Fitted even when it proposes nothing: the pipeline reads its scores (item counts).
    """

    build: Callable[[float, int], Recommender]
    needs_history: bool = True
    positive_only: bool = False
    per_user: bool = True
    needs_timestamps: bool = False
    always: bool = False


CANDIDATE_SOURCES: dict[str, CandidateSource] = {
    "covisitation": CandidateSource(lambda half_life, seed: ItemCoVisitation(), positive_only=True),
    "popularity": CandidateSource(
        lambda half_life, seed: Popularity(), needs_history=False, per_user=False, always=True
    ),
    "trending": CandidateSource(
        lambda half_life, seed: Popularity(half_life_days=half_life),
        needs_history=False,
        per_user=False,
        needs_timestamps=True,
    ),
    "als": CandidateSource(lambda half_life, seed: ALS(random_state=seed)),
}

SOURCE_ORDER = ("model", *CANDIDATE_SOURCES, "new")
"""Every source name, in the order their candidates are merged."""
