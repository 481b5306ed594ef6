"""Evaluation: pure metric functions, the full-ranking protocol, pipelines, experiments, reports."""

from __future__ import annotations

from shoprec.evaluation._experiment import BASELINES, ModelRun, baseline_models, compare_models
from shoprec.evaluation._glossary import (
    METRIC_MEANINGS,
    metric_meaning,
    plain_summary,
    suggestions,
)
from shoprec.evaluation._pipeline_eval import (
    diversity_sweep,
    evaluate_pipeline,
    pipeline_test_users,
)
from shoprec.evaluation._protocol import HISTORY_BUCKETS, SLICE_K, EvaluationResult, evaluate
from shoprec.evaluation._report import (
    format_table,
    write_html_report,
    write_json,
    write_tradeoff_report,
)
from shoprec.evaluation._selection import (
    CHEAP_BASELINES,
    SELECTION_CANDIDATES,
    Selection,
    choose_model,
)

__all__ = [
    "BASELINES",
    "CHEAP_BASELINES",
    "HISTORY_BUCKETS",
    "METRIC_MEANINGS",
    "SELECTION_CANDIDATES",
    "SLICE_K",
    "EvaluationResult",
    "ModelRun",
    "Selection",
    "baseline_models",
    "choose_model",
    "compare_models",
    "diversity_sweep",
    "evaluate",
    "evaluate_pipeline",
    "format_table",
    "metric_meaning",
    "pipeline_test_users",
    "plain_summary",
    "suggestions",
    "write_html_report",
    "write_json",
    "write_tradeoff_report",
]
