"""The :class:`Dataset` value: a shop's catalog and its events, split for evaluation."""

from __future__ import annotations

from dataclasses import dataclass, replace

from shoprec.data._schema import Catalog, Interactions
from shoprec.data._splits import Split, split_events

__all__ = ["Dataset"]


@dataclass(frozen=True)
class Dataset:
    """A shop's catalog and its events, split for evaluation.

    Attributes
    ----------
    name
        The registry name (``amazon2014_beauty``), ``synthetic``, or an ingested directory's name.
    catalog
        Every item the events refer to (and possibly more: items without events).
    split
        Train / validation / test events under the dataset's standard protocol.
    description
        One line for listings and reports.
    """

    name: str
    catalog: Catalog
    split: Split
    description: str = ""

    @property
    def interactions(self) -> Interactions:
        """All events: train, validation and test together, in time order."""
        return self.split.train_valid.concat(self.split.test)

    def with_split(self, protocol: str) -> Dataset:
        """The same events split again under ``protocol`` (``"loo"`` or ``"temporal"``); the
        dataset itself when it already uses that protocol.

        Raises
        ------
        ValidationError
            An unknown protocol, or ``"temporal"`` on order-only events.
        """
        if protocol == self.split.protocol:
            return self
        return replace(self, split=split_events(self.interactions, protocol))
