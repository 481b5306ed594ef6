"""Re-ranking: diversity (MMR, DPP greedy MAP), hard caps, business rules and exclusions."""

from __future__ import annotations

from shoprec.rerank.diversity import GroupCaps, capped_top_k, dpp, mmr
from shoprec.rerank.reranker import DIVERSIFIERS, RERANK_METHODS, RerankConfig, Reranker
from shoprec.rerank.rules import BusinessRules, Caps, ItemAttributes, keep_mask

__all__ = [
    "DIVERSIFIERS",
    "RERANK_METHODS",
    "BusinessRules",
    "Caps",
    "GroupCaps",
    "ItemAttributes",
    "RerankConfig",
    "Reranker",
    "capped_top_k",
    "dpp",
    "keep_mask",
    "mmr",
]
