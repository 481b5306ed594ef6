"""Recommenders behind one contract (:class:`Recommender`), and the CTR ranker."""

from __future__ import annotations

from shoprec.models.als import ALS
from shoprec.models.base import Recommender, top_k
from shoprec.models.calibration import platt_scaling, sigmoid
from shoprec.models.content import ContentBased
from shoprec.models.covisitation import (
    DEFAULT_EVENT_WEIGHTS,
    ItemCoVisitation,
    event_weights,
    history_matrix,
)
from shoprec.models.ctr_onnx import CTR_ONNX_FORMAT, OnnxCTRRanker, export_ctr_onnx
from shoprec.models.ctr_pairs import (
    Pairs,
    TrainingPair,
    check_pairs,
    mine_training_pairs,
    user_context_text,
)
from shoprec.models.ctr_ranker import CTRRanker
from shoprec.models.popularity import Popularity
from shoprec.models.registry import RECOMMENDERS, create_recommender
from shoprec.models.sasrec import SASRec
from shoprec.models.semantic_search import SemanticSearch
from shoprec.models.text_sequence import TextSequence

__all__ = [
    "ALS",
    "CTR_ONNX_FORMAT",
    "DEFAULT_EVENT_WEIGHTS",
    "RECOMMENDERS",
    "CTRRanker",
    "ContentBased",
    "ItemCoVisitation",
    "OnnxCTRRanker",
    "Pairs",
    "Popularity",
    "Recommender",
    "SASRec",
    "SemanticSearch",
    "TextSequence",
    "TrainingPair",
    "check_pairs",
    "create_recommender",
    "event_weights",
    "export_ctr_onnx",
    "history_matrix",
    "mine_training_pairs",
    "platt_scaling",
    "sigmoid",
    "top_k",
    "user_context_text",
]
