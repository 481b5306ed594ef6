"""The CTR cross-encoder network: a BERT-style encoder reading ``[CLS] context [SEP] item [SEP]``
and a linear head giving one click/purchase logit per pair.

The cross-encoder reranker of

Nogueira, R. and Cho, K. (2019). "Passage Re-ranking with BERT". https://arxiv.org/abs/1901.04085

on a small pretrained encoder (all-MiniLM-L6-v2: Wang et al. (2020), "MiniLM", and Reimers &
Gurevych (2019), "Sentence-BERT"), optionally adapted with low-rank adapters (Hu et al. (2021),
"LoRA: Low-Rank Adaptation of Large Language Models", https://arxiv.org/abs/2106.09685), which
the training wrapper injects. The pair is pooled by the attention-masked mean of the token
states, the pooling MiniLM was trained with, so a frozen encoder already gives useful features.

This module holds only the network; training and freezing live in
:mod:`shoprec.ranking._ctr_ranker`.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["CTRHead", "CTRNetwork", "merged_copy"]


class CTRNetwork(nn.Module):
    """Encoder + mean pooling + dropout + linear head: ``(batch, seq)`` tokens -> ``(batch,)``
    logits.

    Parameters
    ----------
    encoder
        A ``transformers`` encoder (e.g. ``BertModel``) whose output has ``last_hidden_state``
        ``(batch, seq, hidden)``.
    hidden
        The encoder's hidden size.
    dropout
        Dropout on the pooled pair vector while training.
    """

    def __init__(self, encoder: nn.Module, hidden: int, *, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, 1)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def pool(
        self,
        input_ids: torch.Tensor,  # (batch, seq) int64
        attention_mask: torch.Tensor,  # (batch, seq) int64, 1 for real tokens
        token_type_ids: torch.Tensor | None = None,  # (batch, seq) int64, 0 context / 1 item
    ) -> torch.Tensor:  # (batch, hidden) the pair vector
        tokens = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state  # (batch, seq, hidden)
        mask = attention_mask.unsqueeze(-1).to(tokens.dtype)  # (batch, seq, 1)
        return (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)

    def forward(
        self,
        input_ids: torch.Tensor,  # (batch, seq) int64
        attention_mask: torch.Tensor,  # (batch, seq) int64, 1 for real tokens
        token_type_ids: torch.Tensor | None = None,  # (batch, seq) int64, 0 context / 1 item
    ) -> torch.Tensor:  # (batch,) logits
        pooled = self.pool(input_ids, attention_mask, token_type_ids)  # (batch, hidden)
        return self.head(self.dropout(pooled)).squeeze(-1)  # (batch,)


class CTRHead(nn.Module):
    """The trainable part of a frozen-encoder :class:`CTRNetwork` on precomputed pair vectors:
    ``(batch, hidden)`` -> ``(batch,)`` logits. Shares (does not copy) the network's head."""

    def __init__(self, network: CTRNetwork) -> None:
        super().__init__()
        self.dropout = network.dropout
        self.head = network.head

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:  # (batch, hidden) -> (batch,)
        return self.head(self.dropout(pooled)).squeeze(-1)


def merged_copy(network: CTRNetwork) -> CTRNetwork:
    """A copy of ``network`` in eval mode with every LoRA layer merged into, and replaced by, its
    base layer (``W + B A * alpha / r``): a plain network with the adapted weights."""
    network = copy.deepcopy(network).eval()
    for name, module in list(network.named_modules()):
        if hasattr(module, "merge") and hasattr(module, "get_base_layer"):
            module.merge()
            parent_name, _, child = name.rpartition(".")
            setattr(network.get_submodule(parent_name), child, module.get_base_layer())
    return network
