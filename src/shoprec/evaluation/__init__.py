"""Evaluation: pure metric functions, the full-ranking protocol, experiments and reports."""

from __future__ import annotations

from shoprec.evaluation.experiment import BASELINES, ModelRun, baseline_models, compare_models
from shoprec.evaluation.protocol import HISTORY_BUCKETS, SLICE_K, EvaluationResult, evaluate
from shoprec.evaluation.report import format_table, write_html_report, write_json

__all__ = [
    "BASELINES",
    "HISTORY_BUCKETS",
    "SLICE_K",
    "EvaluationResult",
    "ModelRun",
    "baseline_models",
    "compare_models",
    "evaluate",
    "format_table",
    "write_html_report",
    "write_json",
]
