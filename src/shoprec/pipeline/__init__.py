"""The recommendation pipeline: retrieve from several sources, rank, re-rank, explain."""

from __future__ import annotations

from shoprec.pipeline._artifact import (
    PIPELINE_FORMAT,
    PipelineParts,
    data_fingerprint,
    load_pipeline,
    save_pipeline,
)
from shoprec.pipeline._candidates import Candidates, gather_candidates
from shoprec.pipeline._config import SOURCES, PipelineConfig, Recommendation, Request
from shoprec.pipeline._forget import forget_users, training_users
from shoprec.pipeline._pipeline import Pipeline
from shoprec.pipeline._sources import CANDIDATE_SOURCES, CandidateSource

__all__ = [
    "CANDIDATE_SOURCES",
    "PIPELINE_FORMAT",
    "SOURCES",
    "CandidateSource",
    "Candidates",
    "Pipeline",
    "PipelineConfig",
    "PipelineParts",
    "Recommendation",
    "Request",
    "data_fingerprint",
    "forget_users",
    "gather_candidates",
    "load_pipeline",
    "save_pipeline",
    "training_users",
]
