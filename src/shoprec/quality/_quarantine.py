"""Quarantine: flagged accounts' events are kept, but apart from what models learn from."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from shoprec.data import Interactions

__all__ = ["Quarantined", "quarantine"]


@dataclass(frozen=True)
class Quarantined:
    """Events split by account: what training, popularity and co-visitation may count, and what
    is held back for review.

    Attributes
    ----------
    interactions
        The events of accounts not flagged.
    held
        The flagged accounts' events, kept (nothing is deleted) so a released account's events
        count again at the next training.
    users
        The flagged accounts, sorted.
    """

    interactions: Interactions
    held: Interactions
    users: np.ndarray


def quarantine(interactions: Interactions, users: Iterable[str]) -> Quarantined:
    """Hold back every event of ``users`` from ``interactions``.

    Parameters
    ----------
    interactions
        All events.
    users
        Flagged account ids (e.g. :attr:`AbuseDetector.flagged_users_`); ids without events are
        ignored.

    Returns
    -------
    Quarantined
    """
    flagged = np.array(sorted({str(u) for u in users}), dtype=object)
    held = interactions.frame["user_id"].isin(flagged).to_numpy()
    return Quarantined(interactions.select(~held), interactions.select(held), flagged)
