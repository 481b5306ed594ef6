"""Choosing a shop's model by validation: train the candidates, cheap baselines included, and
compare them on validation users the learned stage did not train on.

The validation users are split in two halves by a seeded draw: the learned ranking stage learns
from the first half's targets, and every candidate is scored on the second half (their history:
the training events). Test targets are never read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from shoprec.data import Dataset, Split
from shoprec.evaluation._experiment import BASELINES, ModelRun
from shoprec.evaluation._protocol import evaluate
from shoprec.exceptions import ValidationError
from shoprec.models import Recommender, create_recommender
from shoprec.ranking import LearnedRanking

__all__ = ["CHEAP_BASELINES", "SELECTION_CANDIDATES", "Selection", "choose_model"]

logger = logging.getLogger(__name__)

# Trained in seconds; a named model that loses to one of them earns a warning.
CHEAP_BASELINES = ("popularity", "popularity-recent", "covisitation", "als")
# What `choose_model` tries when no model is named.
SELECTION_CANDIDATES = ("popularity-recent", "covisitation", "als", "ltr")


@dataclass(frozen=True)
class Selection:
    """The comparison on validation and the choice.

    Attributes
    ----------
    runs
        Every candidate fitted on the training events and scored on the held-out validation
        users, best NDCG@10 first.
    chosen
        The named model, else the best candidate.
    model
        The chosen model, fitted (the learned stage's ranker re-fitted on all validation users).
    warning
        Set when the named model scores below a cheap baseline.
    """

    runs: list[ModelRun]
    chosen: str
    model: Recommender
    warning: str | None = None


def choose_model(
    dataset: Dataset,
    *,
    named: str | None = None,
    params: Mapping[str, Any] | None = None,
    candidates: Sequence[str] = SELECTION_CANDIDATES,
    encoder: str = "onnx",
    random_state: int = 0,
    progress: bool = False,
) -> Selection:
    """Fit the candidates on ``dataset.split.train`` and compare them on validation.

    Parameters
    ----------
    dataset
        The shop's catalog and split.
    named
        A model to keep whatever the comparison says (compared with the cheap baselines); any
        :data:`~shoprec.models.RECOMMENDERS` name, a :data:`BASELINES` name or ``"ltr"``.
    params
        Hyper-parameters of the named model.
    candidates
        What to compare when no model is named.
    encoder
        Text encoder of the learned stage's language-model features.
    random_state, progress
        Seed and progress bars of every model.
    """
    split = dataset.split
    fit_half, score_half = _halves(split, random_state)
    names = [*CHEAP_BASELINES, named] if named else list(candidates)
    names = list(dict.fromkeys(names))
    runs = []
    for name in names:
        model = _create(name, params if name == named else None, encoder, random_state, progress)
        start = time.perf_counter()
        model.fit(split.train, dataset.catalog, validation=fit_half)
        train_s = time.perf_counter() - start
        result = evaluate(model, Split(split.train, fit_half, score_half, split.protocol))
        result.model = name
        runs.append(ModelRun(name=name, model=model, result=result, train_s=train_s))
        logger.info("%s: validation NDCG@10 %.4f", name, result.metrics["ndcg@10"])
    runs.sort(key=lambda run: -run.result.metrics["ndcg@10"])
    chosen = named or runs[0].name
    run = next(r for r in runs if r.name == chosen)
    model = run.model
    if isinstance(model, LearnedRanking):  # learn from every validation user now
        model.fit_ranker(model.sources_, split.train, split.valid, dataset.catalog)
    return Selection(runs=runs, chosen=chosen, model=model, warning=_warning(runs, named))


def _halves(split: Split, random_state: int) -> tuple[Any, Any]:
    users = split.valid.frame["user_id"].unique()
    if len(users) < 2:
        raise ValidationError("choosing a model needs validation events of at least two users")
    rng = np.random.default_rng(random_state)
    first = rng.permutation(users)[: len(users) // 2]
    mask = split.valid.frame["user_id"].isin(first).to_numpy()
    return split.valid.select(mask), split.valid.select(~mask)


def _create(
    name: str, params: Mapping[str, Any] | None, encoder: str, random_state: int, progress: bool
) -> Recommender:
    given = dict(params or {})
    if name == LearnedRanking.name:
        given.setdefault("text_encoder", encoder)
        return LearnedRanking(random_state=random_state, progress=progress, **given)
    if name in BASELINES and not given:
        model_name, given = BASELINES[name]
        return create_recommender(model_name, random_state=random_state, **given)
    return create_recommender(name, random_state=random_state, progress=progress, **given)


def _warning(runs: list[ModelRun], named: str | None) -> str | None:
    if not named:
        return None
    scores = {run.name: run.result.metrics["ndcg@10"] for run in runs}
    cheap = {n: s for n, s in scores.items() if n in CHEAP_BASELINES and n != named}
    best = max(cheap, key=cheap.__getitem__, default=None)
    if best is None or scores[named] >= cheap[best]:
        return None
    return (
        f"{named} scores validation NDCG@10 {scores[named]:.4f}, below the cheap baseline "
        f"{best} ({cheap[best]:.4f}); consider building with --model {best} or without --model"
    )
