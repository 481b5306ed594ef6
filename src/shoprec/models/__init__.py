"""Recommenders behind one contract (:class:`Recommender`) and the registry that names them."""

from __future__ import annotations

from shoprec.models._als import ALS
from shoprec.models._base import Recommender, VectorScoring, top_k
from shoprec.models._content import ContentBased
from shoprec.models._covisitation import ItemCoVisitation
from shoprec.models._popularity import Popularity
from shoprec.models._registry import RECOMMENDERS, create_recommender, load_recommender
from shoprec.models._sasrec import SASRec
from shoprec.models._sequential import SequentialRecommender
from shoprec.models._text_sequence import ADAPTOR_PARAMETERS, TextSequence

__all__ = [
    "ADAPTOR_PARAMETERS",
    "ALS",
    "RECOMMENDERS",
    "ContentBased",
    "ItemCoVisitation",
    "Popularity",
    "Recommender",
    "SASRec",
    "SequentialRecommender",
    "TextSequence",
    "VectorScoring",
    "create_recommender",
    "load_recommender",
    "top_k",
]
