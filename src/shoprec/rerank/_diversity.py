"""Diversity re-ranking of one request's candidates: MMR and DPP greedy MAP, with hard caps.

Every function here takes the candidates of one request as aligned arrays (``scores`` of shape
``(n,)``, ``embeddings`` of shape ``(n, dim)``) and returns **positions** into those arrays,
``min(k, n)`` of them (fewer when caps leave nothing to pick), best first, all distinct.

Conventions shared by all of them:

- Relevance is the min-max normalised score, in ``[0, 1]`` (all zeros when every score is
  equal). Similarity is the cosine of L2-normalised embeddings; a zero vector has similarity 0
  to everything.
- ``diversity`` lies in ``[0, 1]``: 0 is pure relevance, exactly the order of
  :func:`capped_top_k` (descending score, ties by lower position); 1 ignores relevance except
  for breaking ties.
- Ties of the greedy objective go to the higher raw score, then to the lower position.
- ``group_caps`` holds hard caps as ``(codes, limit)`` pairs: ``codes`` gives each candidate's
  group (e.g. its category or brand) as an integer of shape ``(n,)``, ``-1`` for "no group";
  at most ``limit`` candidates of one group are picked. Caps are applied inside the greedy
  loop: a group that reaches its limit is masked out of every later step.

References
----------
Carbonell and Goldstein (1998), "The use of MMR, diversity-based reranking for reordering
documents and producing summaries", SIGIR. Chen, Zhang and Zhou (2018), "Fast Greedy MAP
Inference for Determinantal Point Process to Improve Recommendation Diversity", NeurIPS.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from shoprec.exceptions import ValidationError

__all__ = ["GroupCaps", "capped_top_k", "dpp", "mmr"]

GroupCaps = Sequence[tuple[np.ndarray, int]]
"""Hard caps: ``(codes, limit)`` pairs, ``codes`` an integer group per candidate (``-1``: none)."""

# Conditional variance below which a candidate adds nothing new to the DPP kernel's span.
_EPS = 1e-10


class _Picker:
    """Greedy bookkeeping: which positions may still be picked, given the caps."""

    def __init__(self, n: int, group_caps: GroupCaps) -> None:
        self.allowed = np.ones(n, dtype=bool)
        self._caps = [
            (codes, limit, np.zeros(int(codes.max(initial=-1)) + 1, dtype=np.int64))
            for codes, limit in group_caps
        ]

    def best(self, objective: np.ndarray, scores: np.ndarray) -> int:
        """The allowed position maximising ``objective`` (ties: higher score, lower position);
        ``-1`` when nothing is allowed."""
        if not self.allowed.any():
            return -1
        top = np.max(objective, where=self.allowed, initial=-np.inf)
        tied = self.allowed & (objective >= top)
        return int(np.argmax(np.where(tied, scores, -np.inf)))

    def take(self, position: int) -> None:
        self.allowed[position] = False
        for codes, limit, counts in self._caps:
            group = codes[position]
            if group >= 0:
                counts[group] += 1
                if counts[group] >= limit:
                    self.allowed &= codes != group


# -- validation --------------------------------------------------------------------------------
def _check_scores(scores: np.ndarray) -> np.ndarray:
    values = np.asarray(scores, dtype=np.float64)
    if values.ndim != 1:
        raise ValidationError(f"scores must be 1-d, got shape {values.shape}", field="scores")
    if np.isnan(values).any():
        raise ValidationError("scores contain NaN", field="scores")
    if np.isinf(values).any():
        raise ValidationError("scores must be finite", field="scores")
    return values


def _check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValidationError(f"k must be a positive integer, got {k!r}", field="k")
    return int(k)


def _check_diversity(diversity: object) -> float:
    if isinstance(diversity, bool) or not isinstance(diversity, int | float | np.floating):
        raise ValidationError(f"diversity must be a number, got {diversity!r}", field="diversity")
    value = float(diversity)
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise ValidationError(f"diversity must lie in [0, 1], got {value}", field="diversity")
    return value


def _unit_rows(embeddings: np.ndarray, n: int) -> np.ndarray:
    """L2-normalised rows (zero rows stay zero), float64, shape ``(n, dim)``."""
    vectors = np.asarray(embeddings, dtype=np.float64)
    if vectors.ndim != 2 or vectors.shape[0] != n or vectors.shape[1] < 1:
        raise ValidationError(
            f"embeddings have shape {vectors.shape}; expected ({n}, dim >= 1)", field="embeddings"
        )
    if not np.isfinite(vectors).all():
        raise ValidationError("embeddings contain NaN or inf", field="embeddings")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def _check_caps(group_caps: GroupCaps, n: int) -> list[tuple[np.ndarray, int]]:
    checked = []
    for codes, limit in group_caps:
        codes = np.asarray(codes)
        if codes.shape != (n,) or (n and not np.issubdtype(codes.dtype, np.integer)):
            raise ValidationError(
                f"cap codes must be {n} integers, got a {codes.dtype} array of shape {codes.shape}",
                field="group_caps",
            )
        if isinstance(limit, bool) or not isinstance(limit, int | np.integer) or limit < 1:
            raise ValidationError(
                f"cap limits must be positive integers, got {limit!r}", field="group_caps"
            )
        checked.append((codes.astype(np.int64, copy=False), int(limit)))
    return checked


def _min_max(scores: np.ndarray) -> np.ndarray:
    if len(scores) == 0 or (high := scores.max()) <= (low := scores.min()):
        return np.zeros_like(scores)
    return (scores - low) / (high - low)


# -- re-rankers --------------------------------------------------------------------------------
def capped_top_k(scores: np.ndarray, *, k: int, group_caps: GroupCaps = ()) -> np.ndarray:
    """Positions of the ``k`` best scores, best first (ties by lower position), honouring caps.

    Parameters
    ----------
    scores
        Relevance of each candidate, shape ``(n,)``, finite.
    k
        How many to pick, a positive integer.
    group_caps
        Hard caps, see the module docstring.

    Returns
    -------
    numpy.ndarray
        int64 positions, at most ``min(k, n)`` of them.
    """
    values = _check_scores(scores)
    k = _check_k(k)
    caps = _check_caps(group_caps, len(values))
    if not caps:
        return np.lexsort((np.arange(len(values)), -values))[:k].astype(np.int64)
    return _greedy_relevance(values, k, caps)


def _greedy_relevance(scores: np.ndarray, k: int, caps: GroupCaps) -> np.ndarray:
    picker = _Picker(len(scores), caps)
    picked: list[int] = []
    for _ in range(min(k, len(scores))):
        position = picker.best(scores, scores)
        if position < 0:
            break
        picked.append(position)
        picker.take(position)
    return np.asarray(picked, dtype=np.int64)


def mmr(
    scores: np.ndarray,
    embeddings: np.ndarray,
    *,
    k: int,
    diversity: float,
    group_caps: GroupCaps = (),
) -> np.ndarray:
    """Maximal marginal relevance: greedily pick the candidate maximising
    ``(1 - diversity) * relevance - diversity * max cosine similarity to those already picked``.

    The first pick is the most relevant candidate (the picked set is empty). With
    ``diversity=0`` the result is :func:`capped_top_k`'s; with ``diversity=1`` each later pick is
    the candidate least similar to the picked set. Cost ``O(k * n * dim)``.

    Parameters
    ----------
    scores
        Relevance of each candidate, shape ``(n,)``, finite; min-max normalised internally.
    embeddings
        Candidate vectors, shape ``(n, dim)``; L2-normalised internally.
    k
        How many to pick, a positive integer.
    diversity
        Weight of novelty against relevance, in ``[0, 1]``.
    group_caps
        Hard caps, see the module docstring.

    Returns
    -------
    numpy.ndarray
        int64 positions into the candidate arrays in rank order, at most ``min(k, n)``.

    Raises
    ------
    ValidationError
        Naming the field (``scores``, ``embeddings``, ``k``, ``diversity``, ``group_caps``).
    """
    values = _check_scores(scores)
    unit = _unit_rows(embeddings, len(values))
    k, weight = _check_k(k), _check_diversity(diversity)
    caps = _check_caps(group_caps, len(values))
    if weight == 0.0:
        return capped_top_k(values, k=k, group_caps=caps)
    relevance = _min_max(values)
    picker = _Picker(len(values), caps)
    objective = relevance
    closest = np.full(len(values), -np.inf)
    picked: list[int] = []
    for _ in range(min(k, len(values))):
        position = picker.best(objective, values)
        if position < 0:
            break
        picked.append(position)
        picker.take(position)
        closest = np.maximum(closest, unit @ unit[position])
        objective = (1.0 - weight) * relevance - weight * closest
    return np.asarray(picked, dtype=np.int64)


def dpp(
    scores: np.ndarray,
    embeddings: np.ndarray,
    *,
    k: int,
    diversity: float,
    group_caps: GroupCaps = (),
) -> np.ndarray:
    """Greedy MAP inference of a determinantal point process (Chen et al. 2018, Algorithm 1).

    The kernel is ``L = diag(q) S diag(q)`` with ``S`` the cosine-similarity matrix and quality
    ``q = exp(alpha * relevance)``, relevance the min-max normalised score. Diversity ``d`` maps
    to ``alpha = (1 - d) / (2 d)``, the relevance/diversity trade-off of the paper's section 5
    with ``theta = 1 - d``: each greedy step maximises the gain in
    ``log det L_Y = (theta / (1 - theta)) * sum(relevance_Y) + log det S_Y``. So ``d = 1`` is a
    pure-diversity DPP (``q = 1``), ``alpha`` grows as ``d`` falls, and ``d = 0`` (infinite
    ``alpha``) is the relevance order of :func:`capped_top_k`.

    The Cholesky factor of ``S`` over the picked set is grown one row per step, so the cost is
    ``O(n * k^2 + n * k * dim)``; gains are computed in log space (no overflow for small ``d``).
    Once every remaining candidate lies in the span of the picked ones (the kernel has rank at
    most ``dim``, and duplicates add nothing), the rest are filled in relevance order.

    Parameters
    ----------
    scores, embeddings, k, diversity, group_caps
        As :func:`mmr`.

    Returns
    -------
    numpy.ndarray
        int64 positions into the candidate arrays in rank order, at most ``min(k, n)``.

    Raises
    ------
    ValidationError
        Naming the field at fault.
    """
    values = _check_scores(scores)
    unit = _unit_rows(embeddings, len(values))
    k, weight = _check_k(k), _check_diversity(diversity)
    caps = _check_caps(group_caps, len(values))
    if weight == 0.0:
        return capped_top_k(values, k=k, group_caps=caps)
    steps = min(k, len(values))
    log_quality = 2.0 * (1.0 - weight) / (2.0 * weight) * _min_max(values)  # log q_i^2
    picker = _Picker(len(values), caps)
    factor = np.zeros((steps, len(values)))  # rows of the incremental Cholesky factor
    # Conditional variance under S, exactly 1 (0 for a zero vector) so first-step ties are exact.
    residual = np.asarray(unit.any(axis=1), dtype=np.float64)
    picked: list[int] = []
    for step in range(steps):
        spanned: np.ndarray = residual <= _EPS
        gain = np.where(spanned, -np.inf, log_quality + np.log(np.maximum(residual, _EPS)))
        position = picker.best(gain, values)
        if position < 0:
            break
        picked.append(position)
        picker.take(position)
        if spanned[position]:
            continue  # relevance fill: no Cholesky update through a zero pivot
        row = unit @ unit[position] - factor[:step].T @ factor[:step, position]
        row /= math.sqrt(residual[position])
        factor[step] = row
        residual = residual - row * row
    return np.asarray(picked, dtype=np.int64)
