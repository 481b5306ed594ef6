"""Offline work beyond one process: the Ray engine (``shoprec --engine ray``)."""

from __future__ import annotations

from shoprec.distributed._ray import RayEngine, create_engine

__all__ = ["RayEngine", "create_engine"]
