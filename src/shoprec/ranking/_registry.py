"""Explicit registry: saved scorer class name -> class, and loading a scorer by it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shoprec.exceptions import ArtifactError
from shoprec.ranking._ctr_onnx import OnnxCTRRanker

__all__ = ["SCORERS", "load_scorer"]

SCORERS: dict[str, Any] = {OnnxCTRRanker.__name__: OnnxCTRRanker}


def load_scorer(path: str | Path, name: str) -> Any:
    """The scorer of class ``name`` saved at ``path`` (see :class:`~shoprec.ranking.Scorer`)."""
    try:
        scorer_cls = SCORERS[name]
    except KeyError:
        raise ArtifactError(f"{path}: unknown scorer {name!r}; known: {sorted(SCORERS)}") from None
    return scorer_cls.load(path)
