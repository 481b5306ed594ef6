"""The SASRec network: a causal transformer over item-ID sequences.

Kang, W.-C. and McAuley, J. (2018). "Self-Attentive Sequential Recommendation". In *Proceedings
of the IEEE International Conference on Data Mining (ICDM)*, pp. 197-206.
https://arxiv.org/abs/1808.09781

Differences from the paper, all common in later re-implementations: pre-LN blocks with GELU and
a 4x feed-forward layer, dropout on the block outputs but not on the attention weights (the CPU
cost of sampling that mask outweighed its benefit), a learned start token so an empty history has
an output, and the output layer tied to the item embeddings (the paper scores by the same dot
product with the input embeddings).
This module holds only the network; training lives in :mod:`shoprec.models._sasrec`.

Token layout: ``0`` is padding, ``1..n_items`` are items (item index ``i`` is token ``i + 1``),
``n_items + 1`` is the start token. Sequences are right-padded, so with the causal mask no real
position ever attends to padding.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PAD_TOKEN", "SASRecNetwork", "fast_dropout"]

PAD_TOKEN = 0


class SASRecNetwork(nn.Module):
    """Embeds item tokens with learned positions and runs causal pre-LN transformer blocks.

    Parameters
    ----------
    n_items
        Catalog size; the output has one logit per item.
    hidden
        Embedding and model width; must be divisible by ``n_heads``.
    n_layers, n_heads
        Number of transformer blocks and attention heads per block.
    max_len
        Longest input sequence (number of learned positions).
    dropout
        Dropout on the input embeddings, the attention and feed-forward outputs.
    ffn_factor
        Width of the feed-forward layer as a multiple of ``hidden``.
    """

    def __init__(
        self,
        n_items: int,
        *,
        hidden: int,
        n_layers: int,
        n_heads: int,
        max_len: int,
        dropout: float,
        ffn_factor: int = 4,
    ) -> None:
        super().__init__()
        if hidden % n_heads:
            raise ValueError(f"hidden {hidden} is not divisible by n_heads {n_heads}")
        self.n_items = n_items
        self.max_len = max_len
        self.start_token = n_items + 1
        self.dropout = dropout
        self.item_embedding = nn.Embedding(n_items + 2, hidden, padding_idx=PAD_TOKEN)
        self.position_embedding = nn.Embedding(max_len, hidden)
        self.blocks = nn.ModuleList(
            _CausalBlock(hidden, n_heads, ffn_factor * hidden, dropout) for _ in range(n_layers)
        )
        self.final_norm = nn.LayerNorm(hidden)
        self._scale = math.sqrt(hidden)
        self._init_weights()

    def _init_weights(self) -> None:
        # Small normal init (as in BERT/GPT) keeps the tied logits near zero at the start.
        nn.init.normal_(self.item_embedding.weight, std=0.02)
        nn.init.normal_(self.position_embedding.weight, std=0.02)
        with torch.no_grad():
            self.item_embedding.weight[PAD_TOKEN].zero_()

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Hidden states of every position.

        Parameters
        ----------
        tokens
            ``(batch, length)`` int64, right-padded with :data:`PAD_TOKEN`, ``length <= max_len``.

        Returns
        -------
        torch.Tensor
            ``(batch, length, hidden)``; position ``t`` depends only on tokens ``0..t``.
        """
        length = tokens.shape[1]
        if length > self.max_len:
            raise ValueError(f"sequence length {length} exceeds max_len {self.max_len}")
        positions = torch.arange(length, device=tokens.device)  # (length,)
        x = self.item_embedding(tokens) * self._scale  # (batch, length, hidden)
        x = x + self.position_embedding(positions)  # (batch, length, hidden)
        x = fast_dropout(x, self.dropout, self.training)
        for block in self.blocks:
            x = block(x)  # (batch, length, hidden)
        return self.final_norm(x)  # (batch, length, hidden)

    @property
    def item_weights(self) -> torch.Tensor:
        """Output embeddings of the items (no padding or start rows): ``(n_items, hidden)``."""
        return self.item_embedding.weight[1 : self.n_items + 1]

    def item_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Tied output layer: ``(..., hidden)`` states -> ``(..., n_items)`` item logits."""
        return hidden @ self.item_weights.T


class _CausalBlock(nn.Module):
    """Pre-LN transformer block: ``x + attn(LN(x))`` then ``x + ffn(LN(x))``, causal."""

    def __init__(self, hidden: int, n_heads: int, ffn: int, dropout: float) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.dropout = dropout
        self.attention_norm = nn.LayerNorm(hidden)
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.out = nn.Linear(hidden, hidden)
        self.ffn_norm = nn.LayerNorm(hidden)
        self.ffn_in = nn.Linear(hidden, ffn)
        self.ffn_out = nn.Linear(ffn, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, hidden = x.shape  # x: (batch, length, hidden)
        qkv = self.qkv(self.attention_norm(x))  # (batch, length, 3 * hidden)
        qkv = qkv.view(batch, length, 3, self.n_heads, hidden // self.n_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (batch, heads, length, head_dim)
        attended = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # same shape
        attended = attended.transpose(1, 2).reshape(batch, length, hidden)
        x = x + fast_dropout(self.out(attended), self.dropout, self.training)
        inner = F.gelu(self.ffn_in(self.ffn_norm(x)))  # (batch, length, ffn)
        inner = fast_dropout(inner, self.dropout, self.training)
        return x + fast_dropout(self.ffn_out(inner), self.dropout, self.training)


def fast_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Inverted dropout from ``torch.rand_like``; on CPU this is several times faster than
    ``nn.Dropout`` (whose Bernoulli sampling dominated a training step), same distribution."""
    if not training or p == 0.0:
        return x
    keep = torch.rand_like(x) >= p
    return x * keep / (1.0 - p)
