"""The second ranking stage: the :class:`Scorer` contract, the learned LambdaRank stage over many
candidate sources (:class:`LearnedRanking`), the fine-tuned CTR cross-encoder, its training pairs,
calibration and int8 ONNX export."""

from __future__ import annotations

from shoprec.ranking._calibration import platt_scaling, sigmoid
from shoprec.ranking._ctr_data import PairSet, user_contexts, validation_pairs
from shoprec.ranking._ctr_onnx import CTR_ONNX_FORMAT, OnnxCTRRanker, export_ctr_onnx
from shoprec.ranking._ctr_ranker import CTRRanker
from shoprec.ranking._learned_ranking import LTR_SOURCES, LearnedRanking
from shoprec.ranking._ltr import LTR_FORMAT, LTRRanker
from shoprec.ranking._ltr_artifact import LEARNED_RANKING_FORMAT
from shoprec.ranking._ltr_context import HORIZON_DAYS, ItemContext, earlier_period
from shoprec.ranking._pairs import (
    Pairs,
    TrainingPair,
    check_pairs,
    mine_training_pairs,
)
from shoprec.ranking._registry import SCORERS, load_scorer
from shoprec.ranking._scorer import Scorer, fuse_scores, score_within_budget

__all__ = [
    "CTR_ONNX_FORMAT",
    "HORIZON_DAYS",
    "LEARNED_RANKING_FORMAT",
    "LTR_FORMAT",
    "LTR_SOURCES",
    "SCORERS",
    "CTRRanker",
    "ItemContext",
    "LTRRanker",
    "LearnedRanking",
    "OnnxCTRRanker",
    "PairSet",
    "Pairs",
    "Scorer",
    "TrainingPair",
    "check_pairs",
    "earlier_period",
    "export_ctr_onnx",
    "fuse_scores",
    "load_scorer",
    "mine_training_pairs",
    "platt_scaling",
    "score_within_budget",
    "sigmoid",
    "user_contexts",
    "validation_pairs",
]
