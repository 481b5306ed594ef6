"""A recommendation request to the service, and the pipeline request it becomes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from shoprec.data import Event, EventType
from shoprec.pipeline import Request
from shoprec.profiles import UserPortrait
from shoprec.rerank import BusinessRules
from shoprec.serve._catalog import CatalogIndex

__all__ = ["RecommendQuery"]


@dataclass(frozen=True)
class RecommendQuery:
    """One user's recommendation request to the service.

    Attributes
    ----------
    user_id
        Whose history to use; ``None`` for an anonymous visitor.
    k
        Length of the list.
    diversity
        Re-ranking weight for this request (``None``: the pipeline's setting).
    rules
        Business rules (filters) for this request.
    exclude
        Item ids never to recommend.
    explain
        Whether each item gets a reason.
    platform
        Only this platform's items, from the user's events on it.
    """

    user_id: str | None
    k: int = 10
    diversity: float | None = None
    rules: BusinessRules | None = None
    exclude: Sequence[str] = ()
    explain: bool = True
    platform: str | None = None

    def to_request(
        self, history: Sequence[Event], index: CatalogIndex, portrait: UserPortrait | None
    ) -> Request:
        """The pipeline request from the user's ``history`` (oldest first), with the ranker's
        context text when a ``portrait`` is given."""
        rules = self.rules
        if self.platform is not None:
            index.check_platform(self.platform)
            rules = replace(rules or BusinessRules(), platform=self.platform)
        events = [e for e in history if e.item_id]
        items = [e.item_id for e in events]
        return Request(
            history=items,
            event_types=[EventType(e.event_type).value for e in events],
            k=self.k,
            diversity=self.diversity,
            rules=rules,
            exclude=self.exclude,
            explain=self.explain,
            context=None if portrait is None else index.context(portrait, items),
        )
