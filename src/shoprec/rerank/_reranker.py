"""The re-ranking step of a request: exclusions and business rules, a novelty boost, then
diversification (MMR or DPP) under hard caps, down to the top ``k``."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from shoprec.exceptions import ValidationError
from shoprec.rerank._diversity import GroupCaps, capped_top_k, dpp, mmr
from shoprec.rerank._rules import BusinessRules, Caps, ItemAttributes, keep_mask

__all__ = ["DIVERSIFIERS", "RERANK_METHODS", "RerankConfig", "Reranker"]

logger = logging.getLogger(__name__)

Diversifier = Callable[..., np.ndarray]
"""``f(scores, embeddings, *, k, diversity, group_caps) -> positions``, as :func:`mmr`."""

# Explicit registry: method name -> diversifier; "none" is relevance order under the caps.
DIVERSIFIERS: dict[str, Diversifier] = {"dpp": dpp, "mmr": mmr}
RERANK_METHODS: tuple[str, ...] = ("dpp", "mmr", "none")


def _check_fraction(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
        raise ValidationError(f"{name} must be a number, got {value!r}", field=name)
    if not 0.0 <= float(value) <= 1.0:  # also rejects NaN
        raise ValidationError(f"{name} must lie in [0, 1], got {value}", field=name)
    return float(value)


@dataclass(frozen=True)
class RerankConfig:
    """How a :class:`Reranker` orders the allowed candidates.

    Parameters
    ----------
    method
        ``"mmr"``, ``"dpp"`` or ``"none"`` (relevance order; the caps still apply).
    diversity
        Default weight of diversity against relevance in ``[0, 1]``; a request may override it.
        0 gives the relevance order with every method.
    caps
        Hard per-category and per-brand caps on each list.
    novelty_weight
        Weight of the long-tail boost added to the normalised relevance, ``>= 0``.
    exclude_seen
        Drop the items a request names as seen (bought, viewed ...).
    pool
        Diversify among only the ``pool`` most relevant allowed candidates (``None``: all), so
        that diversity trades places within a relevant set rather than pulling in weak ones.
    """

    method: str = "none"
    diversity: float = 0.0
    caps: Caps = field(default_factory=Caps)
    novelty_weight: float = 0.0
    exclude_seen: bool = True
    pool: int | None = None

    def __post_init__(self) -> None:
        if self.method not in RERANK_METHODS:
            raise ValidationError(
                f"unknown method {self.method!r}; choose from {list(RERANK_METHODS)}",
                field="method",
            )
        _check_fraction(self.diversity, "diversity")
        if not isinstance(self.caps, Caps):
            raise ValidationError("caps must be a Caps", field="caps")
        weight = self.novelty_weight
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not weight >= 0:
            raise ValidationError("novelty_weight must be a number >= 0", field="novelty_weight")
        if math.isinf(weight):
            raise ValidationError("novelty_weight must be finite", field="novelty_weight")
        pool = self.pool
        if pool is not None and (isinstance(pool, bool) or not isinstance(pool, int) or pool < 1):
            raise ValidationError("pool must be a positive integer or None", field="pool")


class Reranker:
    """Turns one request's scored candidates into its final top ``k``.

    Steps: drop unknown ids, ``-inf`` scores (cannot be recommended), repeated ids (the first
    occurrence stays), seen items (when ``config.exclude_seen``) and items failing the request's
    :class:`BusinessRules` (out-of-stock items fail the default rules); min-max normalise the
    remaining scores to ``[0, 1]`` and add ``novelty_weight * novelty``, where novelty is the
    item's self-information ``-log2(popularity share)`` min-max scaled to ``[0, 1]`` over the
    catalog (an item without events counts one); then pick ``k`` by ``config.method`` under
    ``config.caps``.

    Parameters
    ----------
    config
        The re-ranking configuration.
    attributes
        Category, brand, price and stock of every item; rows index the arrays below.
    embeddings_by_row
        Item vectors, shape ``(len(attributes), dim)``; needed by ``"mmr"`` and ``"dpp"``.
    popularity_by_row
        Events per item (e.g. training interactions), shape ``(len(attributes),)``; needed when
        ``novelty_weight > 0``.

    Raises
    ------
    ValidationError
        When an array does not fit ``attributes`` or is missing for the configuration.
    """

    def __init__(
        self,
        config: RerankConfig,
        attributes: ItemAttributes,
        embeddings_by_row: np.ndarray | None = None,
        popularity_by_row: np.ndarray | None = None,
    ) -> None:
        self.config = config
        self.attributes = attributes
        self._unit = _unit_embeddings(embeddings_by_row, len(attributes))
        self._novelty = _scaled_novelty(popularity_by_row, len(attributes))
        if config.method in DIVERSIFIERS and self._unit is None:
            raise ValidationError(
                f"method {config.method!r} needs item embeddings", field="embeddings_by_row"
            )
        if config.novelty_weight > 0 and self._novelty is None:
            raise ValidationError(
                "a novelty boost needs item popularity", field="popularity_by_row"
            )

    def __repr__(self) -> str:
        return f"Reranker({self.config!r}, {self.attributes!r})"

    def rerank(
        self,
        candidate_ids: Iterable[str] | np.ndarray,
        scores: np.ndarray,
        *,
        k: int,
        seen: Iterable[str] = (),
        rules: BusinessRules | None = None,
        diversity: float | None = None,
        strict: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The final list of one request.

        Parameters
        ----------
        candidate_ids
            Candidate item ids, shape ``(n,)``, e.g. retrieval output (``""`` padding is dropped
            as unknown).
        scores
            Ranker score of each candidate, shape ``(n,)``; higher is better, no NaN;
            ``-inf`` drops the candidate.
        k
            List length, a positive integer.
        seen
            Ids the user bought or saw, dropped when ``config.exclude_seen``.
        rules
            The request's business rules; ``None`` is ``BusinessRules()`` (in stock only).
        diversity
            Overrides ``config.diversity`` for this request (no effect with method ``"none"``).
        strict
            Raise on a candidate id unknown to ``attributes`` instead of dropping it.

        Returns
        -------
        tuple of numpy.ndarray
            ``(ids, scores)``, at most ``k`` each (fewer when fewer candidates are allowed or the
            caps run out): object ids in rank order and the float64 boosted relevance they were
            ordered by (normalised score + novelty boost, before diversification).

        Raises
        ------
        ValidationError
            Naming the field at fault.
        """
        ids, values = _check_candidates(candidate_ids, scores)
        weight = self.config.diversity if diversity is None else diversity
        weight = _check_fraction(weight, "diversity")
        rows = self.attributes.rows(ids)
        unknown = rows < 0
        if strict and unknown.any():
            first = int(np.flatnonzero(unknown)[0])
            raise ValidationError(
                f"unknown candidate id {ids[first]!r}", row=first + 1, field="candidate_ids"
            )
        keep = ~unknown & (values > -np.inf) & _first_occurrences(rows)
        positions = np.flatnonzero(keep)
        allowed = keep_mask(self.attributes, rows[positions], rules or BusinessRules())
        if self.config.exclude_seen:
            if isinstance(seen, str):
                seen = (seen,)
            allowed &= ~np.isin(rows[positions], self.attributes.rows(seen))
        positions = positions[allowed]
        relevance = self._relevance(values[positions], rows[positions])
        # Without a boost the raw scores keep their exact ties (normalising could merge some).
        order_by = relevance if self.config.novelty_weight > 0 else values[positions]
        pool = self.config.pool
        if pool is not None and len(positions) > pool:  # diversify among the most relevant only
            best = np.sort(np.lexsort((np.arange(len(order_by)), -order_by))[:pool])
            positions, relevance, order_by = positions[best], relevance[best], order_by[best]
        picked = self._order(order_by, rows[positions], k, weight)
        logger.debug(
            "rerank: %d candidates, %d allowed, %d picked", len(ids), len(positions), len(picked)
        )
        return ids[positions[picked]], relevance[picked]

    def _relevance(self, scores: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Min-max normalised scores plus the novelty boost."""
        if len(scores) == 0 or (high := scores.max()) <= (low := scores.min()):
            normalised = np.zeros_like(scores)
        else:
            normalised = (scores - low) / (high - low)
        if self.config.novelty_weight > 0 and self._novelty is not None:
            normalised = normalised + self.config.novelty_weight * self._novelty[rows]
        return normalised

    def _order(
        self, order_by: np.ndarray, rows: np.ndarray, k: int, diversity: float
    ) -> np.ndarray:
        """Positions of the picked candidates among the allowed ones, in rank order."""
        caps: GroupCaps = self.config.caps.group_caps(self.attributes, rows)
        diversify = DIVERSIFIERS.get(self.config.method)
        if diversify is None or self._unit is None:
            return capped_top_k(order_by, k=k, group_caps=caps)
        return diversify(order_by, self._unit[rows], k=k, diversity=diversity, group_caps=caps)


def _check_candidates(candidate_ids: object, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ids = np.asarray(candidate_ids, dtype=object)
    values = np.asarray(scores, dtype=np.float64)
    if ids.ndim != 1:
        raise ValidationError(
            f"candidate_ids must be 1-d, got shape {ids.shape}", field="candidate_ids"
        )
    if values.shape != ids.shape:
        raise ValidationError(
            f"scores have shape {values.shape}; expected {ids.shape}", field="scores"
        )
    if np.isnan(values).any():
        raise ValidationError("scores contain NaN", field="scores")
    if (values == np.inf).any():
        raise ValidationError("scores contain +inf", field="scores")
    return ids, values


def _first_occurrences(rows: np.ndarray) -> np.ndarray:
    """True at the first position of each distinct row."""
    first = np.zeros(len(rows), dtype=bool)
    first[np.unique(rows, return_index=True)[1]] = True
    return first


def _unit_embeddings(embeddings: np.ndarray | None, n_items: int) -> np.ndarray | None:
    if embeddings is None:
        return None
    vectors = np.asarray(embeddings, dtype=np.float64)
    if vectors.ndim != 2 or vectors.shape[0] != n_items or vectors.shape[1] < 1:
        raise ValidationError(
            f"embeddings have shape {vectors.shape}; expected ({n_items}, dim)",
            field="embeddings_by_row",
        )
    if not np.isfinite(vectors).all():
        raise ValidationError("embeddings contain NaN or inf", field="embeddings_by_row")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def _scaled_novelty(popularity: np.ndarray | None, n_items: int) -> np.ndarray | None:
    """Self-information ``-log2`` of each item's popularity share, min-max scaled to [0, 1]."""
    if popularity is None:
        return None
    counts = np.asarray(popularity, dtype=np.float64)
    if counts.shape != (n_items,) or not np.isfinite(counts).all() or (counts < 0).any():
        raise ValidationError(
            f"popularity must be {n_items} finite counts >= 0", field="popularity_by_row"
        )
    if counts.sum() <= 0:
        raise ValidationError("popularity is all zero", field="popularity_by_row")
    information = -np.log2(np.maximum(counts, 1.0) / counts.sum())
    low, high = information.min(), information.max()
    return (information - low) / (high - low) if high > low else np.zeros_like(information)
