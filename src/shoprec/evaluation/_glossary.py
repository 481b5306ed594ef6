"""Evaluation results in shop terms: one line per metric, a plain summary, and what to try next.

The reports and ``shoprec demo`` print these beside the numbers, for readers who run a shop
rather than study ranking metrics. ``docs/metrics.md`` says the same at length.
"""

from __future__ import annotations

from collections.abc import Sequence

from shoprec.evaluation._protocol import EvaluationResult

__all__ = ["METRIC_MEANINGS", "metric_meaning", "plain_summary", "suggestions"]

METRIC_MEANINGS = {
    "hr": "share of customers for whom the item they actually chose next was in the list",
    "recall": "share of the items customers chose next that were in their lists",
    "ndcg": "like hit rate, but a hit near the top counts more than one at the bottom "
    "(1 = always first)",
    "map": "how high the chosen items sit in the list, averaged (1 = always first)",
    "mrr": "1 / the position of the chosen item in the full ranking, averaged: 0.1 means it "
    "sits about 10th",
    "coverage": "share of the catalog that appears in anyone's list: low means everyone is "
    "shown the same few products",
    "ild": "how different the items within one list are, by category (0 = all alike)",
    "ild_emb": "how different the items within one list are, by their text (0 = all alike)",
    "novelty": "how little-known the recommended items are (higher = further from the bestsellers)",
    "popularity_bias": "how much more popular recommended items are than the catalog's typical "
    "item",
    "auc": "chance that a clicked or bought item is scored above one that was not (0.5 = coin "
    "toss)",
    "gauc": "the same per customer, averaged",
    "logloss": "how well predicted click/purchase probabilities match what happened (lower is "
    "better)",
}
"""Metric name (without ``@k``) -> one line in shop terms."""


def metric_meaning(key: str) -> str:
    """The line for a metric key such as ``"ndcg@10"`` (``""`` for an unknown metric); the
    ``@10`` means: of each top-10 list."""
    return METRIC_MEANINGS.get(key.partition("@")[0], "")


def _best(results: Sequence[EvaluationResult], key: str) -> EvaluationResult | None:
    scored = [r for r in results if isinstance(r.metrics.get(key), int | float)]
    return max(scored, key=lambda r: float(r.metrics[key])) if scored else None


def plain_summary(results: Sequence[EvaluationResult], *, k: int = 10) -> list[str]:
    """Sentences saying what the best model's numbers mean for customers, and how far it is
    ahead of plain popularity when that was measured too."""
    best = _best(results, f"hr@{k}")
    if best is None:
        return []
    hr = float(best.metrics[f"hr@{k}"])
    lines = [
        f"With {best.model}, for {hr * 100:.1f} of every 100 test customers the item they chose "
        f"next was among the {k} recommended."
    ]
    baseline = next((r for r in results if r.model in ("popularity", "trending")), None)
    if baseline is not None and baseline is not best:
        base = float(baseline.metrics.get(f"hr@{k}", 0.0))
        times = f" ({hr / base:.1f} times as often)" if base > 0 else ""
        lines.append(
            f"Showing everyone the {baseline.model} list does it for {base * 100:.1f} of 100"
            f"{times}."
        )
    coverage = best.metrics.get(f"coverage@{k}")
    if isinstance(coverage, int | float):
        lines.append(f"Its lists use {coverage * 100:.0f}% of the catalog.")
    return lines


def suggestions(results: Sequence[EvaluationResult], *, k: int = 10) -> list[str]:
    """What to try next, from the numbers: which model to build on, whether personalisation
    pays, whether lists need variety."""
    best = _best(results, f"ndcg@{k}")
    if best is None:
        return []
    tips = [f"Build the pipeline on the best model here: shoprec build --model {best.model}."]
    popular = next((r for r in results if r.model in ("popularity", "trending")), None)
    if popular is not None and popular is not best:
        gain = float(best.metrics[f"ndcg@{k}"]) / max(float(popular.metrics[f"ndcg@{k}"]), 1e-12)
        if gain < 1.2:
            tips.append(
                f"{best.model} is less than 20% ahead of {popular.model}: with this little data "
                "or this split, personalisation barely pays yet; collect more events, or check "
                "that the split matches how the shop is used (docs/data-format.md#splits)."
            )
    coverage = best.metrics.get(f"coverage@{k}")
    if isinstance(coverage, int | float) and coverage < 0.2:
        tips.append(
            "Lists concentrate on few products: try --rerank mmr --diversity 0.3, "
            "--max-per-category 3 or --novelty 0.1 when building, and compare."
        )
    if popular is best:
        tips.append(
            "Plain popularity wins: the shop's customers mostly buy the same things, or the data "
            "is too thin for the personalised models; recommend what is trending and revisit "
            "with more history."
        )
    return tips
