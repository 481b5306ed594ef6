"""Catalog helpers of the serving state: per-catalog lookups and the store-overlay diff."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from shoprec.data import Catalog
from shoprec.exceptions import ValidationError
from shoprec.profiles import UserPortrait, user_context_text
from shoprec.serve._deployment import Deployment
from shoprec.store import EventStore

__all__ = ["CatalogIndex", "changed_items", "sync_catalog"]


class CatalogIndex:
    """Lookups over one catalog version, built lazily and dropped with it.

    Parameters
    ----------
    catalog
        The catalog (compared by identity: a new catalog object gets a new index).
    """

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._titles: dict[str, str] | None = None
        self._platforms: frozenset[str] | None = None

    def check_platform(self, platform: str) -> None:
        """Raise :class:`~shoprec.exceptions.ValidationError` unless some item is sold on
        ``platform``."""
        if self._platforms is None:
            self._platforms = frozenset(self.catalog.frame["platform"].tolist())
        if platform not in self._platforms:
            raise ValidationError(f"no item is sold on platform {platform!r}", field="platform")

    def context(self, portrait: UserPortrait, history: Sequence[str]) -> str:
        """The CTR ranker's user text: portrait summary and recent titles, newest first."""
        if self._titles is None:
            frame = self.catalog.frame
            self._titles = dict(zip(frame["item_id"], frame["title"], strict=True))
        titles = [self._titles.get(item, "") for item in reversed(history)]
        return user_context_text(portrait, [t for t in titles if t])


def changed_items(current: Catalog, overlay: Catalog) -> Catalog:
    """The items of ``overlay`` that ``current`` lacks or holds with other attributes."""
    if not len(overlay):
        return overlay
    frame = overlay.frame
    known = frame["item_id"].isin(current.item_ids).to_numpy()
    changed = ~known
    if known.any():
        ours = frame.loc[known].reset_index(drop=True)
        theirs = current.frame.set_index("item_id").loc[ours["item_id"]].reset_index()
        theirs = theirs[ours.columns]
        same = (ours == theirs) | (ours.isna() & theirs.isna())
        changed[np.flatnonzero(known)] = ~same.all(axis=1).to_numpy()
    return Catalog(pd.DataFrame(frame.loc[changed]).reset_index(drop=True))


def sync_catalog(deployment: Deployment, store: EventStore, removed: set[str]) -> None:
    """Apply the store's catalog (upserted items) and the removed ids to ``deployment``."""
    pipeline = deployment.pipeline
    overlay = store.catalog()
    updates = changed_items(pipeline.catalog, overlay)
    restore = deployment.removed - removed
    if restore:  # removed here earlier, upserted since: add_items brings them back
        missing = restore - set(updates.item_ids)
        extra = pipeline.catalog.subset(missing)
        updates = Catalog(pd.concat([updates.frame, extra.frame], ignore_index=True))
    if len(updates):
        pipeline.add_items(updates)
    deployment.removed -= restore
    if removed - deployment.removed:
        pipeline.remove_items(removed)
        deployment.removed |= removed
