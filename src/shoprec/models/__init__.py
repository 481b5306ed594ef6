"""Recommenders behind one contract (:class:`Recommender`)."""

from __future__ import annotations

from shoprec.models.base import Recommender, top_k
from shoprec.models.popularity import Popularity
from shoprec.models.registry import RECOMMENDERS, create_recommender

__all__ = [
    "RECOMMENDERS",
    "Popularity",
    "Recommender",
    "create_recommender",
    "top_k",
]
