"""Why an item was recommended: one human-readable reason per item, grounded in the user's own
events, the catalog and the candidate sources, with the evidence behind it.

Reasons, in order of preference (the first that applies wins):

1. ``covisitation``: "Because you bought <title>", the history item most often bought or viewed
   together with the candidate;
2. ``interest``: "Matches your interest in <category>", when the user's recent items include
   at least two from the candidate's category;
3. ``similar``: "Similar to <title>, which you viewed", the history item with the closest text
   (cosine at least ``min_similarity``);
4. ``trending``: "Trending in <category>" for candidates from the trending source;
5. ``new``: "New in <category>" for new items;
6. ``model``: "Picked for you from your recent activity" for other personalised candidates;
7. ``popular``: "Popular in <category>" (or "Popular right now").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from shoprec.rerank._rules import ItemAttributes

__all__ = ["EVENT_VERBS", "Explainer", "Explanation"]

EVENT_VERBS: dict[str, str] = {
    "view": "viewed",
    "click": "clicked",
    "search": "searched for",
    "cart": "added to your cart",
    "purchase": "bought",
    "rating": "rated",
    "review": "reviewed",
}
_INTEREST_MIN_ITEMS = 2


@dataclass(frozen=True)
class Explanation:
    """A reason and what it rests on.

    Attributes
    ----------
    reason
        One sentence for the shopper.
    kind
        ``covisitation``, ``interest``, ``similar``, ``trending``, ``new``, ``model`` or
        ``popular``.
    evidence
        What the reason rests on: ``anchor_item`` (the history item it names), ``category``,
        ``similarity``, ``co_visitation`` weight, ``items_in_category`` ...
    """

    reason: str
    kind: str
    evidence: dict[str, Any] = field(default_factory=dict)


class Explainer:
    """Explains recommended items from a user's history, over catalog rows.

    Parameters
    ----------
    attributes
        Category (and stock, price ...) per catalog row.
    titles
        Title per catalog row.
    embeddings
        Unit text vectors per catalog row, for the ``similar`` reason (``None``: not used).
    co_visitation
        Item-to-item weights over catalog rows (row = history item, column = candidate), for
        the ``covisitation`` reason (``None``: not used).
    min_similarity
        Smallest text cosine for a ``similar`` reason.
    """

    def __init__(
        self,
        attributes: ItemAttributes,
        titles: Sequence[str],
        *,
        embeddings: np.ndarray | None = None,
        co_visitation: sp.csr_matrix | None = None,
        min_similarity: float = 0.5,
    ) -> None:
        self.attributes = attributes
        self.titles = titles
        self.embeddings = embeddings
        self.co_visitation = co_visitation
        self.min_similarity = min_similarity

    def explain(
        self,
        item_rows: Sequence[int],
        sources: Sequence[Mapping[str, float]],
        history_rows: Sequence[int] | np.ndarray,
        history_types: Sequence[str] | None = None,
    ) -> list[Explanation]:
        """One explanation per recommended item.

        Parameters
        ----------
        item_rows
            Catalog rows of the recommended items.
        sources
            Per item, the candidate sources that proposed it and their scores.
        history_rows
            Catalog rows of the user's items, oldest first (unknown items as ``-1``).
        history_types
            Event type of each history item (``None``: all "view").
        """
        history = np.asarray(history_rows, dtype=np.int64)
        types = list(history_types) if history_types is not None else ["view"] * len(history)
        known = history >= 0
        history, types = history[known], [t for t, k in zip(types, known, strict=True) if k]
        categories = Counter(self.attributes.categories[history].tolist())
        categories.pop("", None)
        rows = np.asarray(item_rows, dtype=np.int64)
        weights = self._co_visitation_weights(rows, history)
        return [
            self._one(int(row), dict(source), history, types, categories, weights[:, column])
            for column, (row, source) in enumerate(zip(rows, sources, strict=True))
        ]

    def _one(
        self,
        row: int,
        sources: dict[str, float],
        history: np.ndarray,
        types: list[str],
        categories: Counter[str],
        co_visitation: np.ndarray,
    ) -> Explanation:
        category = str(self.attributes.categories[row]) if row >= 0 else ""
        evidence: dict[str, Any] = {"sources": sources}
        if len(history):
            anchor = _strongest(co_visitation)
            if anchor is not None:
                position, weight = anchor
                evidence["co_visitation"] = weight
                return self._anchored(
                    "covisitation", "Because you {verb} {title}", history, types, position, evidence
                )
            if categories.get(category, 0) >= _INTEREST_MIN_ITEMS:
                return Explanation(
                    f"Matches your interest in {category}",
                    "interest",
                    evidence | {"category": category, "items_in_category": categories[category]},
                )
            similar = self._most_similar(row, history)
            if similar is not None:
                position, cosine = similar
                evidence["similarity"] = cosine
                template = "Similar to {title}, which you {verb}"
                return self._anchored("similar", template, history, types, position, evidence)
        where = f" in {category}" if category else ""
        if "trending" in sources:
            return Explanation(f"Trending{where}", "trending", evidence | {"category": category})
        if "new" in sources:
            return Explanation(f"New{where}", "new", evidence | {"category": category})
        if "model" in sources or "covisitation" in sources:
            return Explanation("Picked for you from your recent activity", "model", evidence)
        reason = f"Popular{where}" if where else "Popular right now"
        return Explanation(reason, "popular", evidence | {"category": category})

    def _anchored(
        self,
        kind: str,
        template: str,
        history: np.ndarray,
        types: list[str],
        position: int,
        evidence: dict[str, Any],
    ) -> Explanation:
        anchor = int(history[position])
        verb = EVENT_VERBS.get(str(types[position]), "viewed")
        reason = template.format(verb=verb, title=_short(self.titles[anchor]))
        return Explanation(
            reason, kind, evidence | {"anchor_item": str(self.attributes.item_ids[anchor])}
        )

    def _co_visitation_weights(self, rows: np.ndarray, history: np.ndarray) -> np.ndarray:
        """``(len(history), len(rows))`` co-visitation weights from each history item to each
        recommended item (0 where either is outside the matrix), in one sparse lookup."""
        weights = np.zeros((len(history), len(rows)))
        matrix = self.co_visitation
        if matrix is None or not len(history) or not len(rows):
            return weights
        inside_history = history < matrix.shape[0]
        inside_rows = (rows >= 0) & (rows < matrix.shape[1])
        if inside_history.any() and inside_rows.any():
            block = matrix[history[inside_history]][:, rows[inside_rows]].toarray()
            weights[np.ix_(inside_history, inside_rows)] = block
        return weights

    def _most_similar(self, row: int, history: np.ndarray) -> tuple[int, float] | None:
        if self.embeddings is None:
            return None
        cosines = self.embeddings[history] @ self.embeddings[row]
        cosines[history == row] = -1.0
        position = int(np.argmax(cosines))
        cosine = float(cosines[position])
        return (position, cosine) if cosine >= self.min_similarity else None


def _strongest(weights: np.ndarray) -> tuple[int, float] | None:
    """Position and weight of the largest positive entry (ties: the most recent item)."""
    if not len(weights):
        return None
    position = len(weights) - 1 - int(np.argmax(weights[::-1]))
    return (position, float(weights[position])) if weights[position] > 0 else None


def _short(title: str, limit: int = 60) -> str:
    """``title`` cut at a word boundary to at most ``limit`` characters."""
    title = " ".join(str(title).split())
    if len(title) <= limit:
        return title
    return title[:limit].rsplit(" ", 1)[0].rstrip(",;:-") + "..."
