"""CTR ranker training data from a shop's split: user context texts and mined pairs.

The ranker learns from the validation period: each validation user's first new item is the
positive, against hard negatives (the retrieval model's top items for their training history)
and random ones; the user side is written from their training events only, so nothing from the
period being predicted leaks into the context.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from shoprec.data import Catalog, Interactions, Split
from shoprec.models import Recommender
from shoprec.profiles import ItemFeatures, build_portraits, user_context_text
from shoprec.ranking._pairs import mine_training_pairs
from shoprec.text import item_texts

__all__ = ["PairSet", "user_contexts", "validation_pairs"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PairSet:
    """Labelled (context, candidate) text pairs and whom and what they are about."""

    contexts: list[str]
    candidates: list[str]
    labels: np.ndarray  # (n,) int64, 1 = the user's next item
    users: np.ndarray  # (n,) object: user of each pair (groups for GAUC and hold-out)
    items: np.ndarray  # (n,) object: candidate item id of each pair

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, rows: np.ndarray) -> PairSet:
        """The pairs at positions ``rows`` (an int array), in that order."""
        return PairSet(
            contexts=[self.contexts[i] for i in rows.tolist()],
            candidates=[self.candidates[i] for i in rows.tolist()],
            labels=self.labels[rows],
            users=self.users[rows],
            items=self.items[rows],
        )

    @staticmethod
    def concat(parts: Sequence[PairSet]) -> PairSet:
        """The pairs of ``parts`` one after the other."""
        return PairSet(
            contexts=[c for part in parts for c in part.contexts],
            candidates=[c for part in parts for c in part.candidates],
            labels=np.concatenate([part.labels for part in parts]),
            users=np.concatenate([part.users for part in parts]),
            items=np.concatenate([part.items for part in parts]),
        )


def user_contexts(
    users: Sequence[str], interactions: Interactions, catalog: Catalog, vectors: np.ndarray
) -> dict[str, str]:
    """Each user's context text (:func:`user_context_text`: portrait summary and recent titles)
    from their events in ``interactions``; ``""`` for users without events there."""
    features = ItemFeatures.from_catalog(catalog, vectors)
    mine = interactions.select(interactions.frame["user_id"].isin(list(users)).to_numpy())
    portraits = build_portraits(mine, features)
    titles = dict(zip(catalog.frame["item_id"], catalog.frame["title"], strict=True))
    history = {u: list(g["item_id"]) for u, g in mine.frame.groupby("user_id", sort=False)}
    return {
        u: user_context_text(portraits[u], [titles.get(i, "") for i in reversed(history[u])])
        if u in portraits
        else ""
        for u in users
    }


def validation_pairs(
    split: Split,
    catalog: Catalog,
    retriever: Recommender,
    vectors: np.ndarray,
    *,
    max_users: int | None = 2000,
    n_hard: int = 4,
    n_random: int = 2,
    random_state: int = 0,
) -> PairSet:
    """Training pairs for :class:`~shoprec.models.CTRRanker` from the validation period.

    Parameters
    ----------
    split
        The shop's split; positives come from ``split.valid``, contexts and hard negatives
        from ``split.train``.
    catalog
        Item texts (for candidates) and titles (for contexts).
    retriever
        A model fitted on ``split.train``; its top items are the hard negatives.
    vectors
        Item text vectors in catalog order (for the portraits).
    max_users
        A seeded sample of at most this many validation users (``None``: all).
    n_hard, n_random
        Negatives per user.
    random_state
        Seeds the user sample and the random negatives.
    """
    train = {u: list(g["item_id"]) for u, g in split.train.frame.groupby("user_id", sort=False)}
    targets: dict[str, str] = {}
    for user, group in split.valid.frame.groupby("user_id", sort=False):
        seen = set(train.get(user, ()))
        new = [i for i in group["item_id"] if i not in seen and i in retriever.item_index_]
        if new and user in train:
            targets[str(user)] = new[0]
    users = list(targets)
    if max_users is not None and len(users) > max_users:
        rng = np.random.default_rng(random_state)
        users = rng.permutation(users)[:max_users].tolist()
    ids, _ = retriever.recommend(users, k=n_hard + 10, histories={u: train[u] for u in users})
    pairs = mine_training_pairs(
        {u: targets[u] for u in users}, dict(zip(users, ids.tolist(), strict=True)),
        list(retriever.item_ids_), n_hard=n_hard, n_random=n_random,
        exclude={u: train[u] for u in users}, random_state=random_state,
    )  # fmt: skip
    contexts = user_contexts(users, split.train, catalog, vectors)
    texts = dict(zip(catalog.item_ids, item_texts(catalog), strict=True))
    logger.info("%d ranker training pairs from %d validation users", len(pairs), len(users))
    return PairSet(
        contexts=[contexts[p.user_id] for p in pairs],
        candidates=[texts[p.item_id] for p in pairs],
        labels=np.array([p.label for p in pairs], dtype=np.int64),
        users=np.array([p.user_id for p in pairs], dtype=object),
        items=np.array([p.item_id for p in pairs], dtype=object),
    )
