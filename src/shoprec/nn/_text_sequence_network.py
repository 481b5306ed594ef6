"""The text-sequence network: SASRec's causal transformer over items represented by their text.

Every item is its frozen sentence embedding (e.g. all-MiniLM-L6-v2) passed through a learned
mixture-of-experts whitening adaptor, optionally plus a learned ID embedding, as in

Hou, Y., Mu, S., Zhao, W. X., Li, Y., Ding, B. and Wen, J.-R. (2022). "Towards Universal
Sequence Representation Learning for Recommender Systems" (UniSRec). In *Proceedings of KDD*,
pp. 585-593. https://arxiv.org/abs/2206.05941

on top of the self-attentive encoder of Kang and McAuley (2018), reused from
:class:`~shoprec.nn._sasrec_network.SASRecNetwork` (its position embeddings, blocks, final
norm, start token and ID table). Each input position also adds an event-type embedding and a
log-bucketed time-gap embedding; index ``0`` of both means "unknown" and adds nothing.

Items beyond the ID table (added after training) and items masked out of it (no training event)
are represented from text alone, so they can be scored. This module holds only the network;
training lives in :mod:`shoprec.models._text_sequence`.

Token layout: ``0`` padding, ``1..n_catalog`` items (item index ``i`` is token ``i + 1``),
``n_catalog + 1`` the start token (its vector is the ID table's start row).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from shoprec.data import N_GAP_BUCKETS
from shoprec.nn._sasrec_network import SASRecNetwork, fast_dropout

__all__ = ["MoEAdaptor", "TextSequenceNetwork"]


class MoEAdaptor(nn.Module):
    """UniSRec's parametric whitening mixture: ``sum_k g_k(x) * ((x - b_k) @ W_k)``.

    Parameters
    ----------
    text_dim, hidden
        Input (text embedding) and output widths.
    n_experts
        Number of whitening experts; the gate is a softmax over them.
    dropout
        Dropout on the input text vectors while training.
    """

    def __init__(self, text_dim: int, hidden: int, *, n_experts: int, dropout: float) -> None:
        super().__init__()
        self.dropout = dropout
        self.bias = nn.Parameter(torch.zeros(n_experts, text_dim))  # (experts, text_dim)
        self.experts = nn.Parameter(torch.empty(n_experts, text_dim, hidden))
        self.gate = nn.Linear(text_dim, n_experts, bias=False)
        nn.init.normal_(self.experts, std=0.02)
        nn.init.normal_(self.gate.weight, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, text_dim)`` -> ``(n, hidden)``."""
        x = fast_dropout(x, self.dropout, self.training)
        n_experts, text_dim, hidden = self.experts.shape
        gates = torch.softmax(self.gate(x), dim=-1)  # (n, experts)
        # (x - b_k) W_k = x W_k - b_k W_k: one wide matmul instead of n * experts centred copies
        weights = self.experts.permute(1, 0, 2).reshape(text_dim, n_experts * hidden)
        outputs = (x @ weights).view(-1, n_experts, hidden)  # (n, experts, hidden)
        shifts = torch.einsum("ed,edh->eh", self.bias, self.experts)  # (experts, hidden)
        return (gates[..., None] * (outputs - shifts)).sum(1)  # (n, hidden)


class TextSequenceNetwork(SASRecNetwork):
    """Causal transformer over text-represented items with event-type and time-gap inputs.

    Parameters
    ----------
    text_embeddings
        ``(n_items, text_dim)`` frozen item text vectors (a buffer, saved with the weights).
    n_id_items
        Rows of the ID embedding table (items ``0..n_id_items-1``; ``0`` for none).
    n_event_types
        Known event types (indices ``1..n_event_types``; ``0`` is unknown).
    use_ids
        Add the ID embedding to the text representation of items with ``id_mask`` 1.
    hidden, n_layers, n_heads, max_len, dropout
        As for :class:`~shoprec.nn._sasrec_network.SASRecNetwork`.
    n_experts
        Experts of the :class:`MoEAdaptor`.
    id_dropout
        While training, each item's ID embedding is dropped (the item is text-only) with this
        probability per step, so that items without an ID vector are not ranked down.
    popularity_prior
        Add ``popularity_weight * popularity[i]`` to item ``i``'s logit: a learned weight on a
        per-item popularity feature (the buffer ``popularity``, set by the trainer, e.g.
        standardised log event counts), which transfers to another shop's counts.
    """

    text_embeddings: torch.Tensor  # buffers, declared for type checkers
    text_mean: torch.Tensor
    text_scale: torch.Tensor
    id_mask: torch.Tensor
    popularity: torch.Tensor

    def __init__(
        self,
        text_embeddings: torch.Tensor,
        *,
        n_id_items: int,
        n_event_types: int,
        use_ids: bool,
        hidden: int,
        n_layers: int,
        n_heads: int,
        max_len: int,
        dropout: float,
        n_experts: int = 8,
        id_dropout: float = 0.0,
        popularity_prior: bool = False,
    ) -> None:
        super().__init__(
            n_id_items,
            hidden=hidden,
            n_layers=n_layers,
            n_heads=n_heads,
            max_len=max_len,
            dropout=dropout,
        )
        self.use_ids = use_ids
        self.id_dropout = id_dropout
        text = text_embeddings.float()  # (n_items, text_dim)
        self.register_buffer("text_embeddings", text)
        self.register_buffer("text_mean", text.mean(0))  # (text_dim,)
        self.register_buffer("text_scale", text.std(0).mean().clamp_min(1e-6))  # ()
        self.register_buffer("id_mask", torch.ones(n_id_items))  # (n_id_items,)
        self.adaptor = MoEAdaptor(text.shape[1], hidden, n_experts=n_experts, dropout=dropout)
        self.event_embedding = nn.Embedding(n_event_types + 1, hidden, padding_idx=0)
        self.gap_embedding = nn.Embedding(N_GAP_BUCKETS + 1, hidden, padding_idx=0)
        for table in (self.event_embedding, self.gap_embedding):
            nn.init.normal_(table.weight, std=0.02)
            with torch.no_grad():
                table.weight[0].zero_()
        self.popularity_prior = popularity_prior
        if popularity_prior:
            self.register_buffer("popularity", torch.zeros(text.shape[0]))  # (n_items,)
            self.popularity_weight = nn.Parameter(torch.zeros(()))

    @property
    def n_catalog(self) -> int:
        """Items scored: every row of ``text_embeddings``."""
        return int(self.text_embeddings.shape[0])

    @property
    def start_index(self) -> int:
        """The start token: after every catalog item (which may outnumber the ID table)."""
        return self.n_catalog + 1

    def set_text_embeddings(self, text_embeddings: torch.Tensor) -> None:
        """Replace the item texts, e.g. with new items appended (those are text-only, and
        as popular as the least popular known item)."""
        self.text_embeddings = text_embeddings.float().to(self.text_mean.device)
        if self.popularity_prior and len(self.popularity) < self.n_catalog:
            added = self.n_catalog - len(self.popularity)
            floor = self.popularity.min() if len(self.popularity) else self.popularity.new_zeros(())
            self.popularity = torch.cat([self.popularity, floor.expand(added)])

    def item_bias(self) -> torch.Tensor | None:
        """``(n_catalog,)`` popularity logits, or ``None`` without the popularity prior."""
        if not self.popularity_prior:
            return None
        return self.popularity_weight * self.popularity

    def item_representations(self) -> torch.Tensor:
        """``(n_catalog, hidden)``: adapted text, plus the (masked) ID embedding when used."""
        text = (self.text_embeddings - self.text_mean) / self.text_scale  # (n_catalog, text_dim)
        reps = self.adaptor(text)  # (n_catalog, hidden)
        if not self.use_ids:
            return reps
        mask = self.id_mask  # (n_id_items,)
        if self.training and self.id_dropout > 0.0:
            mask = mask * (torch.rand_like(mask) >= self.id_dropout)
        ids = self.item_embedding.weight[1 : self.n_items + 1] * mask[:, None]
        n_id = min(self.n_items, self.n_catalog)
        return torch.cat([reps[:n_id] + ids[:n_id], reps[n_id:]])  # (n_catalog, hidden)

    def forward(
        self,
        tokens: torch.Tensor,
        event_types: torch.Tensor | None = None,
        gaps: torch.Tensor | None = None,
        item_reps: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Hidden states of every position.

        Parameters
        ----------
        tokens
            ``(batch, length)`` int64: ``0`` padding, ``i + 1`` catalog item ``i``,
            :attr:`start_index` the start token; right-padded.
        event_types, gaps
            ``(batch, length)`` int64 event-type indices and gap buckets; ``None`` or ``0`` is
            unknown.
        item_reps
            Precomputed :meth:`item_representations` (saves recomputing them for the logits).

        Returns
        -------
        torch.Tensor
            ``(batch, length, hidden)``; position ``t`` depends only on inputs ``0..t``.
        """
        length = tokens.shape[1]
        if length > self.max_len:
            raise ValueError(f"sequence length {length} exceeds max_len {self.max_len}")
        reps = self.item_representations() if item_reps is None else item_reps
        start = self.item_embedding.weight[self.start_token]  # (hidden,) SASRec's start row
        pad = torch.zeros_like(start)
        table = torch.cat([pad[None], reps, start[None]])  # (n_catalog + 2, hidden)
        x = F.embedding(tokens, table) * self._scale  # (batch, length, hidden)
        x = x + self.position_embedding(torch.arange(length, device=tokens.device))
        if event_types is not None:
            x = x + self.event_embedding(event_types)
        if gaps is not None:
            x = x + self.gap_embedding(gaps)
        x = fast_dropout(x, self.dropout, self.training)
        for block in self.blocks:
            x = block(x)  # (batch, length, hidden)
        return self.final_norm(x)  # (batch, length, hidden)

    @property
    def item_weights(self) -> torch.Tensor:
        """Output item vectors ``(n_catalog, hidden)`` (the adapted representations)."""
        return self.item_representations()

    def item_logits(
        self, hidden: torch.Tensor, item_reps: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``(..., hidden)`` states -> ``(..., n_catalog)`` logits."""
        reps = self.item_representations() if item_reps is None else item_reps
        logits = hidden @ reps.T
        bias = self.item_bias()
        return logits if bias is None else logits + bias
