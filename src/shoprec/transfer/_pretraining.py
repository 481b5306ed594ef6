"""Multi-platform pretraining of the text-sequence model, used by
:func:`shoprec.transfer._sequence.pretrain`.

:class:`MultiPlatformTextSequence` is a :class:`~shoprec.models.TextSequence` fitted on several
platforms joined into one catalog (each platform's items contiguous, its ``platform`` column
set): every epoch draws the training windows per platform by temperature
(:class:`~shoprec.transfer._platforms.PlatformSampler`), each next item is scored against its
own platform's items only (a per-platform softmax, as when one shop is served, and half the
logits of a two-platform catalog), validation ranks each user among their platform's items,
and order-only platforms (positions, not times) get no time-gap input.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from shoprec.data import PAD, Catalog, EncodedInteractions, Interactions
from shoprec.models import TextSequence
from shoprec.transfer._platforms import PlatformSampler, platform_shares

if TYPE_CHECKING:  # torch is imported lazily so that `import shoprec.models` stays light
    import torch

    from shoprec.nn import EpochRecord, NextItemValidation, TextSequenceNetwork

__all__ = ["MultiPlatformTextSequence", "cap_users_per_platform"]

logger = logging.getLogger(__name__)


class MultiPlatformTextSequence(TextSequence):
    """TextSequence fitted on joined platforms (see the module docstring).

    Set ``temperature`` and ``epoch_size`` (as for :func:`shoprec.transfer._sequence.pretrain`)
    as attributes before ``fit``; they are not hyper-parameters of the saved model, which
    loads as a plain :class:`~shoprec.models.TextSequence`. After ``fit``, ``windows_`` and
    ``shares_`` hold each platform's training windows and epoch share.
    """

    temperature: float = 1.0
    epoch_size: int | None = None

    def _fit(
        self,
        data: EncodedInteractions,
        catalog: Catalog | None,
        validation: EncodedInteractions | None,
    ) -> None:
        if catalog is None:
            raise ValueError("pretraining needs the joined catalog (its platform column)")
        codes, names = pd.factorize(catalog.frame["platform"])
        starts = np.flatnonzero(np.diff(codes, prepend=-1))
        if len(starts) != len(names):
            raise ValueError("each platform's items must be contiguous in the catalog")
        self._names = [str(name) for name in names]
        self._item_platform = codes.astype(np.int64)
        self._bounds = list(zip(starts.tolist(), [*starts[1:].tolist(), len(codes)], strict=True))
        super()._fit(data, catalog, validation)

    def _examples(self, data: EncodedInteractions) -> list[Any]:
        pool = super()._examples(data)
        owner = np.fromiter((self._item_platform[ex[1][0] - 1] for ex in pool), np.int64, len(pool))
        counts = np.bincount(owner, minlength=len(self._names))
        self.windows_ = dict(zip(self._names, counts.tolist(), strict=True))
        present = {name: n for name, n in self.windows_.items() if n > 0}
        self.shares_ = {
            name: platform_shares(present, self.temperature).get(name, 0.0) for name in self._names
        }
        sampler = PlatformSampler(
            owner,
            list(self.shares_.values()),
            size=self.epoch_size or len(pool),
            random_state=self.random_state,
        )
        drawn = [pool[i] for i in sampler.draw()]

        def redraw(record: EpochRecord) -> None:
            drawn[:] = [pool[i] for i in sampler.draw()]  # fit_model holds this very list

        self._redraw = redraw
        logger.info("windows per platform %s, epoch shares %s", self.windows_, self.shares_)
        return drawn

    def _epoch_callbacks(self) -> list[Callable[[EpochRecord], None]]:
        return [self._redraw]

    def _popularity_feature(self, counts: np.ndarray) -> np.ndarray:
        """Standardised log counts within each platform: shops differ in size, not in shape."""
        feature = np.empty_like(counts)
        for lo, hi in self._bounds:
            feature[lo:hi] = super()._popularity_feature(counts[lo:hi])
        return feature

    def _loss(self, network: TextSequenceNetwork, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Cross-entropy of each next item over its own platform's trained items."""
        import torch
        import torch.nn.functional as F

        tokens, targets, kinds, gaps = batch  # (batch, length) each
        keep = (torch.rand(tokens.shape[0], 1) >= self.context_dropout).long()  # (batch, 1)
        reps = network.item_representations()  # (n_catalog, hidden)
        hidden = network(tokens, kinds * keep, gaps * keep, item_reps=reps)
        real = targets != PAD
        states, items = hidden[real], targets[real] - 1  # (n_targets, hidden), (n_targets,)
        owner = torch.from_numpy(self._item_platform)[items]
        bias = network.item_bias()  # (n_catalog,) or None
        total = hidden.new_zeros(())
        for code, (lo, hi) in enumerate(self._bounds):
            rows = owner == code
            if rows.any():
                logits = states[rows] @ reps[lo:hi].T  # (n_rows, hi - lo)
                if bias is not None:
                    logits = logits + bias[lo:hi]
                logits = logits.masked_fill(self._untrained[lo:hi], float("-inf"))
                total = total + F.cross_entropy(logits, items[rows] - lo, reduction="sum")
        return total / len(items)

    def _validator(self, validation: EncodedInteractions) -> NextItemValidation | None:
        """Validation NDCG@10 with each user ranked among their own platform's items."""
        from shoprec.nn import NextItemValidation

        base = super()._validator(validation)
        if base is None:
            return None
        owner = self._item_platform[base.targets]  # (n_users,)
        outside = self._item_platform[None, :] != owner[:, None]  # (n_users, n_catalog)
        return NextItemValidation(base.histories, base.targets, base.score, outside)


def cap_users_per_platform(
    events: Interactions, n_users: int | None, *, random_state: int = 0
) -> Interactions:
    """The events of at most ``n_users`` random users per platform (all when ``None``)."""
    if n_users is None:
        return events
    users = events.frame.drop_duplicates("user_id")[["user_id", "platform"]]
    shuffled = users.sample(frac=1.0, random_state=random_state)
    keep = set(shuffled.groupby("platform", sort=False).head(n_users)["user_id"])
    return events.select(events.frame["user_id"].isin(keep).to_numpy())
