"""The recommendation pipeline: retrieve from several sources, rank, re-rank, explain."""

from __future__ import annotations

from shoprec.pipeline.artifact import (
    PIPELINE_FORMAT,
    data_fingerprint,
    load_pipeline,
    save_pipeline,
)
from shoprec.pipeline.candidates import Candidates, gather_candidates
from shoprec.pipeline.config import SOURCES, PipelineConfig, Recommendation, Request
from shoprec.pipeline.pipeline import Pipeline
from shoprec.pipeline.ranking import Scorer, fuse_scores, score_within_budget

__all__ = [
    "PIPELINE_FORMAT",
    "SOURCES",
    "Candidates",
    "Pipeline",
    "PipelineConfig",
    "Recommendation",
    "Request",
    "Scorer",
    "data_fingerprint",
    "fuse_scores",
    "gather_candidates",
    "load_pipeline",
    "save_pipeline",
    "score_within_budget",
]
