"""The deletion list applied to a dataset read from files: users deleted through a store stay
out of the next training even when it reads an export that still holds them."""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import replace

from shoprec.data import Dataset, Interactions
from shoprec.store._base import user_digest

__all__ = ["drop_deleted_users"]

logger = logging.getLogger(__name__)


def drop_deleted_users(dataset: Dataset, digests: Collection[str]) -> tuple[Dataset, int]:
    """``dataset`` without the events of users whose :func:`user_digest` is in ``digests``
    (e.g. :meth:`EventStore.deleted_users`); returns it and how many users were dropped."""
    if not digests:
        return dataset, 0
    users = dataset.interactions.frame["user_id"].astype(str).unique()
    gone = {user for user in users if user_digest(user) in digests}
    if not gone:
        return dataset, 0

    def keep(part: Interactions) -> Interactions:
        frame = part.frame[~part.frame["user_id"].astype(str).isin(gone)]
        return Interactions(frame.reset_index(drop=True), has_timestamps=part.has_timestamps)

    split = replace(
        dataset.split,
        train=keep(dataset.split.train),
        valid=keep(dataset.split.valid),
        test=keep(dataset.split.test),
    )
    logger.info("dropped %d users on the deletion list from the training data", len(gone))
    return replace(dataset, split=split), len(gone)
