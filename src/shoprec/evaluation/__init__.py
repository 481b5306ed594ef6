"""Evaluation: pure metric functions, the full-ranking protocol, pipelines, experiments, reports."""

from __future__ import annotations

from shoprec.evaluation.experiment import BASELINES, ModelRun, baseline_models, compare_models
from shoprec.evaluation.pipeline_eval import diversity_sweep, evaluate_pipeline, pipeline_test_users
from shoprec.evaluation.protocol import HISTORY_BUCKETS, SLICE_K, EvaluationResult, evaluate
from shoprec.evaluation.report import (
    format_table,
    write_html_report,
    write_json,
    write_tradeoff_report,
)

__all__ = [
    "BASELINES",
    "HISTORY_BUCKETS",
    "SLICE_K",
    "EvaluationResult",
    "ModelRun",
    "baseline_models",
    "compare_models",
    "diversity_sweep",
    "evaluate",
    "evaluate_pipeline",
    "format_table",
    "pipeline_test_users",
    "write_html_report",
    "write_json",
    "write_tradeoff_report",
]
