"""Incremental fine-tuning of the sequence models (SASRec, text_sequence) from a previous fit.

:func:`fine_tune` trains a copy of a fitted model on new events only, for a few epochs,
starting from the previous weights (``fit(..., warm_start=previous)``: weights copied by item
id). The new model's vocabulary is the current catalog, so new items are added with a fresh
start; text_sequence scores them from their text from the first request. An item trained
before keeps its learned ID embedding in use even when the new events do not mention it.
"""

from __future__ import annotations

import logging
from typing import Any

from shoprec.data import Catalog, Interactions
from shoprec.exceptions import ShoprecError
from shoprec.models import Recommender, create_recommender

__all__ = ["INCREMENTAL_MODELS", "fine_tune"]

logger = logging.getLogger(__name__)

INCREMENTAL_MODELS = ("sasrec", "text_sequence")


def fine_tune(
    previous: Recommender,
    interactions: Interactions,
    catalog: Catalog | None = None,
    *,
    epochs: int = 3,
    validation: Interactions | None = None,
    **params: Any,
) -> Recommender:
    """A new model of ``previous``'s kind, started from its weights, trained on ``interactions``.

    Parameters
    ----------
    previous
        A fitted SASRec or TextSequence.
    interactions
        The new events.
    catalog
        The current catalog: its items form the new vocabulary (new items are added).
    epochs
        Epoch budget of the fine-tuning (the learning-rate schedule spans it).
    validation
        Optional events after ``interactions`` for early stopping.
    **params
        Hyper-parameters to change (e.g. ``lr``).

    Raises
    ------
    ShoprecError
        For a model that cannot be fine-tuned.
    """
    if previous.name not in INCREMENTAL_MODELS:
        raise ShoprecError(f"{previous.name} cannot be fine-tuned; use one of {INCREMENTAL_MODELS}")
    previous._check_fitted()
    settings = {**previous.get_params(), "max_epochs": epochs, **params}
    model = create_recommender(previous.name, **settings)
    model.fit(  # type: ignore[call-arg]
        interactions, catalog, validation=validation, warm_start=previous
    )
    _keep_trained_ids(previous, model)
    logger.info("fine-tuned %s on %d new events", previous.name, len(interactions))
    return model


def _keep_trained_ids(previous: Recommender, model: Recommender) -> None:
    """text_sequence masks the IDs of items without training events; here, items trained
    before keep theirs."""
    import torch

    network, old = model.network_, previous.network_  # type: ignore[attr-defined]
    if not hasattr(network, "id_mask") or not hasattr(old, "id_mask") or not len(network.id_mask):
        return
    index = previous.item_index_
    pairs = [(j, index[item]) for j, item in enumerate(model.item_ids_) if item in index]
    pairs = [(j, i) for j, i in pairs if j < len(network.id_mask) and i < len(old.id_mask)]
    if not pairs:
        return
    new_rows = torch.tensor([j for j, _ in pairs])
    old_rows = torch.tensor([i for _, i in pairs])
    with torch.no_grad():
        network.id_mask[new_rows] = torch.maximum(network.id_mask[new_rows], old.id_mask[old_rows])
