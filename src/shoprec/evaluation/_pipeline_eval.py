"""Evaluating a whole pipeline (candidates, ranking, re-ranking) the way shoppers see it.

The same protocol as :func:`shoprec.evaluation.evaluate`: a test user's history is their
``split.train_valid`` events, targets are their test items outside that history, and a target
the final list misses counts as a miss. Besides accuracy, the list properties that re-ranking
trades it for: intra-list diversity (cosine distance of the item text vectors), catalog
coverage and novelty.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from shoprec.data import Split
from shoprec.metrics import (
    catalog_coverage,
    intra_list_diversity,
    ndcg_from_ranks,
    novelty,
    reciprocal_rank_from_ranks,
)
from shoprec.pipeline import Pipeline, Request
from shoprec.rerank import RerankConfig

__all__ = ["diversity_sweep", "evaluate_pipeline", "pipeline_test_users"]

logger = logging.getLogger(__name__)


def pipeline_test_users(
    split: Split, *, max_users: int | None = None, random_state: int = 0
) -> list[tuple[str, list[str], list[str], set[str]]]:
    """``(user, history, event_types, targets)`` of the evaluable test users, at most
    ``max_users`` of them (a seeded sample, in test order)."""
    past = split.train_valid.frame
    by_user = {u: g for u, g in past.groupby("user_id", sort=False)}
    cases = []
    for user, group in split.test.frame.groupby("user_id", sort=False):
        history = by_user.get(user)
        seen = set() if history is None else set(history["item_id"])
        targets = {i for i in group["item_id"] if i and i not in seen}
        if targets:
            items = [] if history is None else history["item_id"].tolist()
            types = [] if history is None else history["event_type"].astype(str).tolist()
            cases.append((str(user), items, types, targets))
    if max_users is not None and len(cases) > max_users:
        keep = np.sort(np.random.default_rng(random_state).choice(len(cases), max_users, False))
        cases = [cases[i] for i in keep]
    return cases


def evaluate_pipeline(
    pipeline: Pipeline,
    cases: Sequence[tuple[str, list[str], list[str], set[str]]],
    *,
    k: int = 10,
    diversity: float | None = None,
    batch_size: int = 256,
    progress: bool = False,
) -> dict[str, float]:
    """``ndcg@k``, ``hr@k``, ``mrr``, ``coverage@k``, ``ild@k`` and ``novelty@k`` of the
    pipeline's final lists for ``cases`` (from :func:`pipeline_test_users`)."""
    catalog = pipeline.catalog
    rows = {item: i for i, item in enumerate(catalog.item_ids)}
    lists = np.full((len(cases), k), -1, dtype=np.int64)
    width = max((len(c[3]) for c in cases), default=1)
    ranks = np.full((len(cases), width), np.inf)
    batches = range(0, len(cases), batch_size)
    for lo in tqdm(batches, desc="pipeline lists", disable=not progress, leave=False):
        chunk = cases[lo : lo + batch_size]
        requests = [
            Request(history=h, event_types=t, k=k, diversity=diversity, explain=False)
            for _, h, t, _ in chunk
        ]
        for offset, (case, result) in enumerate(zip(chunk, pipeline.recommend(requests),
                                                    strict=True)):  # fmt: skip
            ids = [r.item_id for r in result]
            lists[lo + offset, : len(ids)] = [rows[i] for i in ids]
            found = sorted(position + 1 for position, i in enumerate(ids) if i in case[3])
            ranks[lo + offset, : len(found)] = found
    n_targets = np.array([len(c[3]) for c in cases])
    popularity = pipeline.popularity_by_row()
    return {
        f"ndcg@{k}": float(ndcg_from_ranks(ranks, n_targets, k=k).mean()),
        f"hr@{k}": float((ranks.min(axis=1) <= k).mean()),
        "mrr": float(reciprocal_rank_from_ranks(ranks, n_targets).mean()),  # within the list
        f"coverage@{k}": catalog_coverage(lists, len(catalog)),
        f"ild@{k}": intra_list_diversity(lists, embeddings=pipeline.item_vectors()),
        f"novelty@{k}": novelty(lists, popularity) if popularity.sum() > 0 else float("nan"),
    }


def diversity_sweep(
    pipeline: Pipeline,
    cases: Sequence[tuple[str, list[str], list[str], set[str]]],
    settings: Iterable[tuple[str, RerankConfig]],
    *,
    weights: Sequence[float] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
    k: int = 10,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """One row per (setting, diversity weight): the setting's name, ``diversity`` and the
    metrics of :func:`evaluate_pipeline`. The pipeline's own re-rank config is restored."""
    original = pipeline.settings.rerank
    rows: list[dict[str, Any]] = []
    try:
        for name, rerank in settings:
            pipeline.configure_rerank(rerank)
            for weight in weights if rerank.method != "none" else (0.0,):
                metrics = evaluate_pipeline(
                    pipeline, cases, k=k, diversity=weight, progress=progress
                )
                rows.append({"setting": name, "diversity": weight, **metrics})
                logger.info("%s diversity=%.1f: %s", name, weight, metrics)
    finally:
        pipeline.configure_rerank(original)
    return rows
