"""Explicit registry: model name -> Recommender class; building and loading by name."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from shoprec.exceptions import ArtifactError, ParameterError
from shoprec.models._als import ALS
from shoprec.models._base import Recommender, saved_model_manifest
from shoprec.models._content import ContentBased
from shoprec.models._covisitation import ItemCoVisitation
from shoprec.models._popularity import Popularity
from shoprec.models._sasrec import SASRec
from shoprec.models._text_sequence import TextSequence

__all__ = ["RECOMMENDERS", "create_recommender", "load_recommender"]

RECOMMENDERS: dict[str, type[Recommender]] = {
    ALS.name: ALS,
    ContentBased.name: ContentBased,
    ItemCoVisitation.name: ItemCoVisitation,
    Popularity.name: Popularity,
    SASRec.name: SASRec,
    TextSequence.name: TextSequence,
}


def create_recommender(
    name: str, *, random_state: int | None = None, progress: bool | None = None, **params: Any
) -> Recommender:
    """A new, unfitted recommender by registry name.

    ``random_state`` and ``progress`` go to the models that take them (a model without
    randomness ignores a seed); an explicit entry in ``params`` wins over both.

    Raises
    ------
    ParameterError
        For an unknown model or a hyper-parameter the model does not have.
    """
    try:
        model_cls = RECOMMENDERS[name]
    except KeyError:
        raise ParameterError(
            f"unknown model {name!r}; choose from {sorted(RECOMMENDERS)}"
        ) from None
    accepted = inspect.signature(model_cls.__init__).parameters
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        known = sorted(p for p in accepted if p != "self")
        raise ParameterError(f"model {name!r} has no parameter {unknown}; it takes {known}")
    for key, value in (("random_state", random_state), ("progress", progress)):
        if value is not None and key in accepted:
            params.setdefault(key, value)
    return model_cls(**params)


def load_recommender(path: str | Path) -> Recommender:
    """Read a model directory written by :meth:`Recommender.save`, whatever its class."""
    path = Path(path)
    name = saved_model_manifest(path).get("model", "")
    try:
        model_cls = RECOMMENDERS[name]
    except KeyError:
        raise ArtifactError(
            f"{path}: unknown model {name!r}; known: {sorted(RECOMMENDERS)}"
        ) from None
    return model_cls.load(path)
