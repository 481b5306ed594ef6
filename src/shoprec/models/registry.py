"""Explicit registry: model name -> Recommender class."""

from __future__ import annotations

from shoprec.models.als import ALS
from shoprec.models.base import Recommender
from shoprec.models.content import ContentBased
from shoprec.models.covisitation import ItemCoVisitation
from shoprec.models.popularity import Popularity
from shoprec.models.sasrec import SASRec
from shoprec.models.text_sequence import TextSequence

__all__ = ["RECOMMENDERS", "create_recommender"]

RECOMMENDERS: dict[str, type[Recommender]] = {
    ALS.name: ALS,
    ContentBased.name: ContentBased,
    ItemCoVisitation.name: ItemCoVisitation,
    Popularity.name: Popularity,
    SASRec.name: SASRec,
    TextSequence.name: TextSequence,
}


def create_recommender(name: str, **params: object) -> Recommender:
    """A new, unfitted recommender by registry name, with ``params`` as hyper-parameters."""
    try:
        model_cls = RECOMMENDERS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose from {sorted(RECOMMENDERS)}") from None
    return model_cls(**params)
