"""torch only: the networks, sequence windows and the generic training loop (minGPT's manner)."""

from __future__ import annotations

from shoprec.nn._ctr_network import CTRHead, CTRNetwork, merged_copy
from shoprec.nn._sasrec_network import PAD_TOKEN, SASRecNetwork, fast_dropout
from shoprec.nn._text_sequence_network import MoEAdaptor, TextSequenceNetwork
from shoprec.nn._training import (
    EpochRecord,
    TrainConfig,
    TrainHistory,
    fit_model,
    iterate_batches,
    lr_multiplier,
    next_item_ndcg,
)
from shoprec.nn._windows import (
    VALID_K,
    NextItemValidation,
    collate_windows,
    history_states,
    score_histories,
)

__all__ = [
    "PAD_TOKEN",
    "VALID_K",
    "CTRHead",
    "CTRNetwork",
    "EpochRecord",
    "MoEAdaptor",
    "NextItemValidation",
    "SASRecNetwork",
    "TextSequenceNetwork",
    "TrainConfig",
    "TrainHistory",
    "collate_windows",
    "fast_dropout",
    "fit_model",
    "history_states",
    "iterate_batches",
    "lr_multiplier",
    "merged_copy",
    "next_item_ndcg",
    "score_histories",
]
