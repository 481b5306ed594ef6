"""Recommenders behind one contract (:class:`Recommender`), the CTR ranker, platform transfer."""

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
from shoprec.models.ctr_data import PairSet, user_contexts, validation_pairs
from shoprec.models.ctr_onnx import CTR_ONNX_FORMAT, OnnxCTRRanker, export_ctr_onnx
from shoprec.models.ctr_pairs import (
    Pairs,
    TrainingPair,
    check_pairs,
    mine_training_pairs,
    user_context_text,
)
from shoprec.models.ctr_ranker import CTRRanker
from shoprec.models.ctr_transfer import (
    RANKER_ADAPT_MODES,
    adapt_ranker,
    combine_pair_sets,
    platform_pairs,
    pretrain_ranker,
    subsample_pairs,
)
from shoprec.models.popularity import Popularity
from shoprec.models.registry import RECOMMENDERS, create_recommender
from shoprec.models.sasrec import SASRec
from shoprec.models.semantic_search import SemanticSearch
from shoprec.models.text_sequence import TextSequence
from shoprec.models.transfer import (
    ADAPT_MODES,
    ADAPTOR_PARAMETERS,
    PRETRAINED_FORMAT,
    PretrainedTextSequence,
    adapt,
    pretrain,
)
from shoprec.models.transfer_data import (
    PLATFORM_SEPARATOR,
    PlatformSampler,
    combine_platforms,
    dataset_platforms,
    platform_dataset,
    platform_id,
    platform_shares,
    subsample_users,
)
from shoprec.models.transfer_pretraining import MultiPlatformTextSequence, cap_users_per_platform

__all__ = [
    "ADAPTOR_PARAMETERS",
    "ADAPT_MODES",
    "ALS",
    "CTR_ONNX_FORMAT",
    "DEFAULT_EVENT_WEIGHTS",
    "PLATFORM_SEPARATOR",
    "PRETRAINED_FORMAT",
    "RANKER_ADAPT_MODES",
    "RECOMMENDERS",
    "CTRRanker",
    "ContentBased",
    "ItemCoVisitation",
    "MultiPlatformTextSequence",
    "OnnxCTRRanker",
    "PairSet",
    "Pairs",
    "PlatformSampler",
    "Popularity",
    "PretrainedTextSequence",
    "Recommender",
    "SASRec",
    "SemanticSearch",
    "TextSequence",
    "TrainingPair",
    "adapt",
    "adapt_ranker",
    "cap_users_per_platform",
    "check_pairs",
    "combine_pair_sets",
    "combine_platforms",
    "create_recommender",
    "dataset_platforms",
    "event_weights",
    "export_ctr_onnx",
    "history_matrix",
    "mine_training_pairs",
    "platform_dataset",
    "platform_id",
    "platform_pairs",
    "platform_shares",
    "platt_scaling",
    "pretrain",
    "pretrain_ranker",
    "sigmoid",
    "subsample_pairs",
    "subsample_users",
    "top_k",
    "user_context_text",
    "user_contexts",
    "validation_pairs",
]
