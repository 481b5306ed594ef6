"""Transfer across platforms: multi-platform pretraining of the text-sequence model and the CTR
ranker, and adaptation to a new shop (zero-shot, adaptor / LoRA, full)."""

from __future__ import annotations

from shoprec.transfer._platforms import (
    PLATFORM_SEPARATOR,
    PlatformSampler,
    combine_platforms,
    dataset_platforms,
    platform_dataset,
    platform_id,
    platform_shares,
    subsample_users,
)
from shoprec.transfer._pretraining import MultiPlatformTextSequence, cap_users_per_platform
from shoprec.transfer._ranker import (
    RANKER_ADAPT_MODES,
    adapt_ranker,
    combine_pair_sets,
    platform_pairs,
    pretrain_ranker,
    subsample_pairs,
)
from shoprec.transfer._sequence import (
    ADAPT_MODES,
    PRETRAINED_FORMAT,
    PretrainedTextSequence,
    adapt,
    pretrain,
)

__all__ = [
    "ADAPT_MODES",
    "PLATFORM_SEPARATOR",
    "PRETRAINED_FORMAT",
    "RANKER_ADAPT_MODES",
    "MultiPlatformTextSequence",
    "PlatformSampler",
    "PretrainedTextSequence",
    "adapt",
    "adapt_ranker",
    "cap_users_per_platform",
    "combine_pair_sets",
    "combine_platforms",
    "dataset_platforms",
    "platform_dataset",
    "platform_id",
    "platform_pairs",
    "platform_shares",
    "pretrain",
    "pretrain_ranker",
    "subsample_pairs",
    "subsample_users",
]
