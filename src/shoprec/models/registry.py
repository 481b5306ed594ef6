"""Explicit registry: model name -> Recommender class."""

from __future__ import annotations

from shoprec.models.base import Recommender
from shoprec.models.popularity import Popularity

__all__ = ["RECOMMENDERS", "create_recommender"]

RECOMMENDERS: dict[str, type[Recommender]] = {
    Popularity.name: Popularity,
}


def create_recommender(name: str, **params: object) -> Recommender:
    """A new, unfitted recommender by registry name, with ``params`` as hyper-parameters."""
    try:
        model_cls = RECOMMENDERS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose from {sorted(RECOMMENDERS)}") from None
    return model_cls(**params)
