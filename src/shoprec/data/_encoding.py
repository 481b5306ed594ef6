"""Interactions encoded as integer indices: the form models train on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from shoprec.data._schema import Interactions

__all__ = ["EncodedInteractions"]


@dataclass(frozen=True)
class EncodedInteractions:
    """Item events as parallel index arrays, in time order.

    Attributes
    ----------
    user_ids, item_ids
        The vocabularies, shapes ``(n_users,)`` and ``(n_items,)``; indices point into them.
    users, items
        Per event, shape ``(n_events,)``, int64.
    event_types, timestamps
        Per event, shape ``(n_events,)``: str objects and int64.
    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    users: np.ndarray
    items: np.ndarray
    event_types: np.ndarray
    timestamps: np.ndarray

    @classmethod
    def encode(
        cls, interactions: Interactions, item_ids: np.ndarray | None = None
    ) -> EncodedInteractions:
        """Encode the item events of ``interactions``.

        ``item_ids`` fixes the item vocabulary (e.g. the whole catalog); events on items outside
        it are left out. By default the vocabulary is the items seen, in order of first event.
        """
        frame = interactions.frame
        frame = frame[frame["item_id"] != ""]
        if item_ids is None:
            item_ids = frame["item_id"].unique()
        item_ids = np.asarray(item_ids, dtype=object)
        item_codes = _codes(frame["item_id"].to_numpy(), item_ids)
        frame = frame[item_codes >= 0]
        item_codes = item_codes[item_codes >= 0]
        user_ids = frame["user_id"].unique()
        return cls(
            user_ids=user_ids,
            item_ids=item_ids,
            users=_codes(frame["user_id"].to_numpy(), user_ids),
            items=item_codes,
            event_types=frame["event_type"].to_numpy(),
            timestamps=frame["timestamp"].to_numpy(),
        )

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def matrix(self, weights: np.ndarray | None = None) -> sp.csr_matrix:
        """User-item matrix, shape ``(n_users, n_items)``, float32; repeated events add up."""
        data = np.ones(len(self.users), np.float32) if weights is None else weights
        return sp.csr_matrix(
            (data.astype(np.float32), (self.users, self.items)), shape=(self.n_users, self.n_items)
        )

    def sequences(self) -> list[np.ndarray]:
        """Each user's item indices in time order, indexed like ``user_ids``."""
        order = np.argsort(self.users, kind="stable")  # stable keeps time order within a user
        bounds = np.searchsorted(self.users[order], np.arange(self.n_users + 1))
        items = self.items[order]
        return [items[bounds[u] : bounds[u + 1]] for u in range(self.n_users)]


def _codes(values: np.ndarray, vocabulary: np.ndarray) -> np.ndarray:
    """Index of each value in ``vocabulary``; -1 where absent."""
    index = {v: i for i, v in enumerate(vocabulary)}
    return np.fromiter((index.get(v, -1) for v in values), dtype=np.int64, count=len(values))
