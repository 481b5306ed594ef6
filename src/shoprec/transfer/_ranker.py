"""Cross-platform transfer of the CTR ranker: pretrain on several shops' pairs, adapt to another.

Both sides of a ranker pair are text (the user's context, the candidate item), so a ranker
trained on some shops applies to any other catalog as it is. :func:`pretrain_ranker` fits one
:class:`~shoprec.models.CTRRanker` on several platforms' pairs, each platform's share of the
training users set by a sampling temperature (:func:`combine_pair_sets`, the rule the
text-sequence pretraining uses). :func:`adapt_ranker` turns it into the target's ranker:

- ``zero_shot``: the pretrained ranker as it is; the target gives no pairs;
- ``lora``: new LoRA adapters and the head train on the target's pairs, over the pretrained
  encoder (its own adapters merged in);
- ``full``: every weight fine-tunes on the target's pairs, from the pretrained ones.

:func:`platform_pairs` mines a platform's pairs the way ``shoprec train-ranker`` does, with a
co-visitation retriever fitted on the platform for the hard negatives.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from shoprec.data import Dataset, Split
from shoprec.models import ItemCoVisitation
from shoprec.ranking import CTRRanker, PairSet, validation_pairs
from shoprec.transfer._platforms import platform_id, platform_shares

__all__ = [
    "RANKER_ADAPT_MODES",
    "adapt_ranker",
    "combine_pair_sets",
    "platform_pairs",
    "pretrain_ranker",
    "subsample_pairs",
]

logger = logging.getLogger(__name__)

RANKER_ADAPT_MODES = ("zero_shot", "lora", "full")


def platform_pairs(
    dataset: Dataset,
    vectors: np.ndarray,
    *,
    period: str = "valid",
    max_users: int | None = 1000,
    random_state: int = 0,
    **mining: Any,
) -> PairSet:
    """A platform's ranker pairs (:func:`~shoprec.ranking._ctr_data.validation_pairs`).

    Parameters
    ----------
    dataset
        The platform's data.
    vectors
        Item text vectors in catalog order (for the user portraits).
    period
        ``"valid"``: positives from the validation period, contexts from training events (to
        train on); ``"test"``: positives from the test period, contexts from training and
        validation events (to evaluate on).
    max_users
        A seeded sample of at most this many users.
    random_state
        Seeds the user sample and the random negatives.
    **mining
        ``n_hard`` and ``n_random`` negatives per user.
    """

    split = dataset.split
    if period == "test":
        split = Split(split.train_valid, split.test, split.test, split.protocol)
    elif period != "valid":
        raise ValueError(f"period must be 'valid' or 'test', got {period!r}")
    retriever = ItemCoVisitation().fit(split.train, dataset.catalog)
    return validation_pairs(
        split, dataset.catalog, retriever, vectors, max_users=max_users,
        random_state=random_state, **mining,
    )  # fmt: skip


def subsample_pairs(pairs: PairSet, fraction: float, *, random_state: int = 0) -> PairSet:
    """The pairs of a seeded ``fraction`` of the users (whole users; at least one). Samples are
    nested: a smaller fraction's users are among a larger one's with the same seed."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    users = np.unique(pairs.users)
    order = np.random.default_rng(random_state).permutation(len(users))
    kept = set(users[order[: max(1, round(fraction * len(users)))]].tolist())
    # a set: numpy's isin on object arrays compares every pair
    return pairs.take(np.flatnonzero([user in kept for user in pairs.users]))


def combine_pair_sets(
    sources: Mapping[str, PairSet], *, temperature: float = 1.0, random_state: int = 0
) -> PairSet:
    """Several platforms' pairs in one set, ids prefixed ``"platform:"``.

    Platform ``p`` with ``n_p`` users gets a share ``n_p ** temperature / sum_q n_q **
    temperature`` of the ``sum_q n_q`` users drawn: a seeded sample of its users when the share
    is smaller than its size, all of them repeated (then a seeded sample) when larger. At
    ``temperature=1`` every user appears once; at 0 every platform weighs the same.
    """
    counts = {name: len(np.unique(pairs.users)) for name, pairs in sources.items()}
    shares = platform_shares(counts, temperature)
    total = sum(counts.values())
    rng = np.random.default_rng(random_state)
    parts = []
    for name, pairs in sources.items():
        users, inverse = np.unique(pairs.users, return_inverse=True)
        wanted = max(1, round(shares[name] * total))
        repeats, extra = divmod(wanted, len(users))
        drawn = np.concatenate(
            [np.tile(np.arange(len(users)), repeats), rng.choice(len(users), extra, replace=False)]
        )
        order = np.argsort(inverse, kind="stable")  # rows grouped by user
        bounds = np.searchsorted(inverse[order], np.arange(len(users) + 1))
        rows = np.concatenate([order[bounds[u] : bounds[u + 1]] for u in drawn])
        part = pairs.take(rows)
        parts.append(
            PairSet(
                contexts=part.contexts,
                candidates=part.candidates,
                labels=part.labels,
                users=np.array([platform_id(name, u) for u in part.users], dtype=object),
                items=np.array([platform_id(name, i) for i in part.items], dtype=object),
            )
        )
        logger.info("%s: %d of %d users' pairs (share %.2f)", name, len(drawn), len(users),
                    shares[name])  # fmt: skip
    return PairSet.concat(parts)


def pretrain_ranker(
    sources: Mapping[str, PairSet],
    *,
    temperature: float = 1.0,
    validation: Mapping[str, PairSet] | None = None,
    random_state: int = 0,
    **params: Any,
) -> CTRRanker:
    """One :class:`~shoprec.models.CTRRanker` fitted on several platforms' pairs.

    Parameters
    ----------
    sources
        Training pairs per platform (e.g. from :func:`platform_pairs`).
    temperature
        Platform sampling temperature (see :func:`combine_pair_sets`).
    validation
        Pairs per platform for early stopping and calibration (all of them, unweighted);
        ``None``: the ranker holds out a share of the training users.
    random_state
        Seeds the platform sampling and the ranker.
    **params
        :class:`~shoprec.models.CTRRanker` hyper-parameters (``mode``, ``max_epochs`` ...).
    """
    pairs = combine_pair_sets(sources, temperature=temperature, random_state=random_state)
    ranker = CTRRanker(random_state=random_state, **params)
    held = None if validation is None else PairSet.concat(list(validation.values()))
    return ranker.fit(
        pairs.contexts, pairs.candidates, pairs.labels,
        groups=pairs.users if held is None else None,
        validation=None if held is None else (held.contexts, held.candidates, held.labels),
    )  # fmt: skip


def adapt_ranker(
    pretrained: CTRRanker,
    target: PairSet | None,
    *,
    mode: str = "lora",
    validation: PairSet | None = None,
    **params: Any,
) -> CTRRanker:
    """A ranker for a target platform, started from a pretrained one.

    Parameters
    ----------
    pretrained
        From :func:`pretrain_ranker` (or any fitted ranker).
    target
        The target's training pairs; ``None`` only for ``zero_shot``.
    mode
        ``zero_shot``, ``lora`` or ``full`` (see the module docstring).
    validation
        Target pairs for early stopping and calibration; ``None``: a share of the target's
        users is held out.
    **params
        :class:`~shoprec.models.CTRRanker` hyper-parameters overriding the pretrained ones
        (``lr``, ``max_epochs`` ...).

    Returns
    -------
    CTRRanker
        ``pretrained`` itself for ``zero_shot``, else a new fitted ranker.

    Raises
    ------
    ValueError
        Unknown mode, or no target pairs for a training mode.
    """
    if mode not in RANKER_ADAPT_MODES:
        raise ValueError(f"mode must be one of {RANKER_ADAPT_MODES}, got {mode!r}")
    if mode == "zero_shot":
        return pretrained
    if target is None or not len(target):
        raise ValueError(f"mode {mode!r} needs target pairs")
    ranker = CTRRanker(**{**pretrained.get_params(), **params, "mode": mode})
    return ranker.fit(
        target.contexts, target.candidates, target.labels,
        groups=target.users if validation is None else None,
        validation=None
        if validation is None
        else (validation.contexts, validation.candidates, validation.labels),
        warm_start=pretrained,
    )  # fmt: skip
