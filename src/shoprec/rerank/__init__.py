"""Re-ranking: diversity (MMR, DPP), caps, business rules, exclusions, novelty, explanations."""

from __future__ import annotations

from shoprec.rerank._diversity import GroupCaps, capped_top_k, dpp, mmr
from shoprec.rerank._explain import EVENT_VERBS, Explainer, Explanation
from shoprec.rerank._reranker import DIVERSIFIERS, RERANK_METHODS, RerankConfig, Reranker
from shoprec.rerank._rules import BusinessRules, Caps, ItemAttributes, keep_mask

__all__ = [
    "DIVERSIFIERS",
    "EVENT_VERBS",
    "RERANK_METHODS",
    "BusinessRules",
    "Caps",
    "Explainer",
    "Explanation",
    "GroupCaps",
    "ItemAttributes",
    "RerankConfig",
    "Reranker",
    "capped_top_k",
    "dpp",
    "keep_mask",
    "mmr",
]
