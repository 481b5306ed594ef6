"""Recommenders behind one contract (:class:`Recommender`)."""

from __future__ import annotations

from shoprec.models.als import ALS
from shoprec.models.base import Recommender, top_k
from shoprec.models.content import ContentBased
from shoprec.models.covisitation import (
    DEFAULT_EVENT_WEIGHTS,
    ItemCoVisitation,
    event_weights,
    history_matrix,
)
from shoprec.models.ctr_pairs import TrainingPair, mine_training_pairs, user_context_text
from shoprec.models.ctr_ranker import CTRRanker
from shoprec.models.popularity import Popularity
from shoprec.models.registry import RECOMMENDERS, create_recommender
from shoprec.models.sasrec import SASRec
from shoprec.models.semantic_search import SemanticSearch
from shoprec.models.text_sequence import TextSequence

__all__ = [
    "ALS",
    "DEFAULT_EVENT_WEIGHTS",
    "RECOMMENDERS",
    "CTRRanker",
    "ContentBased",
    "ItemCoVisitation",
    "Popularity",
    "Recommender",
    "SASRec",
    "SemanticSearch",
    "TextSequence",
    "TrainingPair",
    "create_recommender",
    "event_weights",
    "history_matrix",
    "mine_training_pairs",
    "top_k",
    "user_context_text",
]
