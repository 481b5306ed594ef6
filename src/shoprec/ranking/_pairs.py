"""Pairs for the CTR ranker: the user-context text, mined (user, item, label) pairs, validation."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import NamedTuple

import numpy as np

from shoprec.exceptions import ValidationError

__all__ = [
    "Pairs",
    "TrainingPair",
    "check_pairs",
    "hold_out_groups",
    "mine_training_pairs",
]

Pairs = tuple[Sequence[str], Sequence[str], np.ndarray]  # contexts, candidates, labels


class TrainingPair(NamedTuple):
    """One mined (user, item, label) training pair; ``label`` 1 for the user's next item."""

    user_id: str
    item_id: str
    label: int


def mine_training_pairs(
    targets: Mapping[str, str],
    candidates: Mapping[str, Sequence[str]] | Callable[[str], Sequence[str]],
    item_pool: Sequence[str],
    *,
    n_hard: int = 4,
    n_random: int = 4,
    exclude: Mapping[str, Collection[str]] | None = None,
    random_state: int | None = 0,
) -> list[TrainingPair]:
    """Positives plus hard (retrieved) and random negatives for training :class:`CTRRanker`.

    Parameters
    ----------
    targets
        Each user's next item (the positive), in the order the pairs are produced.
    candidates
        Retrieval results per user, best first: a mapping or a function ``user -> item ids``.
        The ``n_hard`` best that are neither the target nor excluded become hard negatives.
    item_pool
        Items random negatives are drawn from (uniformly, without replacement per user).
    n_hard, n_random
        Hard and random negatives per user (fewer when not enough items qualify).
    exclude
        Items per user that must not be negatives (e.g. their history: possibly liked).
    random_state
        Seeds the random negatives.

    Returns
    -------
    list of TrainingPair
        Per user: the positive, then hard negatives, then random negatives.
    """
    if n_hard < 0 or n_random < 0:
        raise ValueError(f"n_hard and n_random must be >= 0, got {n_hard}, {n_random}")
    rng = np.random.default_rng(random_state)
    pool = np.asarray(list(item_pool), dtype=object)
    retrieve = candidates if callable(candidates) else candidates.get
    pairs = []
    for user, target in targets.items():
        banned = {target, *((exclude or {}).get(user, ()))}
        pairs.append(TrainingPair(user, target, 1))
        hard = [i for i in dict.fromkeys(retrieve(user) or ()) if i not in banned][:n_hard]
        banned.update(hard)
        pairs.extend(TrainingPair(user, item, 0) for item in hard)
        allowed = [str(i) for i in pool[rng.permutation(len(pool))] if i not in banned]
        pairs.extend(TrainingPair(user, item, 0) for item in allowed[:n_random])
    return pairs


def check_pairs(
    contexts: Sequence[str], candidates: Sequence[str], labels: np.ndarray | None, source: str
) -> Pairs:
    """Validated ``(contexts, candidates, labels)``: equal lengths, all str, 0/1 labels.

    ``labels=None`` (scoring) checks the texts only and returns empty labels; otherwise the
    labels come back as int64. Errors are :class:`~shoprec.exceptions.ValidationError` naming
    ``source``, the 1-based row and the field.
    """
    if isinstance(contexts, str) or isinstance(candidates, str):
        raise ValidationError("contexts and candidates must be sequences of str", source=source)
    if len(contexts) != len(candidates):
        raise ValidationError(
            f"{len(contexts)} contexts but {len(candidates)} candidates", source=source
        )
    for field, texts in (("contexts", contexts), ("candidates", candidates)):
        for row, text in enumerate(texts):
            if not isinstance(text, str):
                raise ValidationError(f"not a str: {text!r}", source=source, row=row + 1,
                                      field=field)  # fmt: skip
    if labels is None:
        return contexts, candidates, np.empty(0, dtype=np.int64)
    y = np.asarray(labels)
    if y.shape != (len(contexts),):
        raise ValidationError(f"labels must have shape ({len(contexts)},), got {y.shape}",
                              source=source, field="labels")  # fmt: skip
    bad = np.flatnonzero(~np.isin(y, (0, 1)))
    if len(bad):
        raise ValidationError(f"label {y[bad[0]]!r} is not 0/1", source=source,
                              row=int(bad[0]) + 1, field="labels")  # fmt: skip
    if len(y) == 0:
        raise ValidationError("no pairs", source=source)
    return contexts, candidates, y.astype(np.int64)


def hold_out_groups(
    pairs: Pairs, groups: np.ndarray | Sequence[str], *, fraction: float, random_state: int | None
) -> tuple[Pairs, Pairs]:
    """Split off ``fraction`` of the groups (e.g. users; at least one, and one remains):
    ``(kept, held_out)``, so that no group is on both sides."""
    groups = np.asarray(groups)
    if groups.shape != (len(pairs[2]),):
        raise ValidationError(
            f"groups must have one entry per pair ({len(pairs[2])}), got {groups.shape}",
            source="fit",
            field="groups",
        )
    unique = np.unique(groups)
    if len(unique) < 2:
        raise ValidationError("need at least two groups to hold some out", field="groups")
    rng = np.random.default_rng(random_state)
    n_valid = min(len(unique) - 1, max(1, round(fraction * len(unique))))
    held = np.isin(groups, rng.choice(unique, size=n_valid, replace=False))

    def take(mask: np.ndarray) -> Pairs:
        rows = np.flatnonzero(mask).tolist()
        return [pairs[0][i] for i in rows], [pairs[1][i] for i in rows], pairs[2][mask]

    return take(~held), take(held)
