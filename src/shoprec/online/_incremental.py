"""Incremental fine-tuning of the sequence models (SASRec, text_sequence) from a previous fit.

:func:`fine_tune` trains a copy of a fitted model on new events only, for a few epochs,
starting from the previous weights. The new model's vocabulary is the current catalog, so new
items are added: every weight indexed by item (ID embeddings; the text table, which new items
get from their text) is copied row by row for the items both vocabularies share, and new items
keep their fresh initialisation (text_sequence scores them from their text from the start). An
item that was trained before keeps its learned ID embedding even without new events.

The previous weights are put in place through the model's own network factory for this one
fit (an instance attribute shadows ``_network`` and is removed afterwards), so the models are
unchanged; this becomes ``fit(..., warm_start=...)`` once the sequence core offers it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from shoprec.data import Catalog, Interactions
from shoprec.exceptions import ShoprecError
from shoprec.models import Recommender, create_recommender

__all__ = ["INCREMENTAL_MODELS", "fine_tune"]

logger = logging.getLogger(__name__)

INCREMENTAL_MODELS = ("sasrec", "text_sequence")
_PAD_ROWS = 1  # token 0 is padding: item index i is row i + 1 of item-indexed tables


def _row_map(old_ids: Sequence[str], new_ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``(new, old)`` of the items both vocabularies hold (item index space)."""
    old = {item: i for i, item in enumerate(old_ids)}
    pairs = [(j, old[item]) for j, item in enumerate(new_ids) if item in old]
    if not pairs:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    new_rows, old_rows = zip(*pairs, strict=True)
    return np.asarray(new_rows, dtype=np.int64), np.asarray(old_rows, dtype=np.int64)


def _copy_state(previous: Any, network: Any, old_ids: Sequence[str], new_ids: Sequence[str]) -> int:
    """Copy ``previous``'s tensors into ``network``: equal shapes as they are, item-indexed ones
    (first dimension ``n_items + k`` in both) by item id. Returns tensors copied."""
    import torch

    new_rows, old_rows = _row_map(old_ids, new_ids)
    same_vocabulary = list(old_ids) == list(new_ids)
    old_state, copied = previous.state_dict(), 0
    with torch.no_grad():
        for name, tensor in network.state_dict().items():
            source = old_state.get(name)
            if source is None or source.dim() != tensor.dim():
                continue
            if tensor.dim() == 0:  # scalars (e.g. the popularity weight)
                tensor.copy_(source)
                copied += 1
                continue
            extra = tensor.shape[0] - len(new_ids)
            indexed = (
                tensor.dim() >= 1 and extra in (0, 1, 2) and source.shape[0] - len(old_ids) == extra
            )
            if source.shape == tensor.shape and (same_vocabulary or not indexed):
                tensor.copy_(source)
            elif indexed and source.shape[1:] == tensor.shape[1:]:
                offset = _PAD_ROWS if extra else 0
                tensor[new_rows + offset] = source[old_rows + offset]
                if extra:  # padding and start rows
                    tensor[:offset] = source[:offset]
                    tensor[len(new_ids) + offset :] = source[len(old_ids) + offset :]
            else:
                continue
            copied += 1
    return copied


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
        The new events (with enough of each active user's recent history for context).
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
    factory = model._network  # type: ignore[attr-defined]
    old_ids = list(previous.item_ids_)
    old_network = previous.network_  # type: ignore[attr-defined]

    def warm_network(*args: Any, **kwargs: Any) -> Any:
        network = factory(*args, **kwargs)
        copied = _copy_state(old_network, network, old_ids, list(model.item_ids_))
        logger.info("fine-tuning %s from %d previous tensors", previous.name, copied)
        return network

    model._network = warm_network  # type: ignore[attr-defined]
    try:
        model.fit(interactions, catalog, validation=validation)
    finally:
        del model._network  # type: ignore[attr-defined]
    _keep_trained_ids(previous, model)
    return model


def _keep_trained_ids(previous: Recommender, model: Recommender) -> None:
    """text_sequence masks the IDs of items without training events; here, items trained
    before keep theirs."""
    import torch

    network, old = model.network_, previous.network_  # type: ignore[attr-defined]
    if not hasattr(network, "id_mask") or not hasattr(old, "id_mask") or not len(network.id_mask):
        return
    new_rows, old_rows = _row_map(list(previous.item_ids_), list(model.item_ids_))
    with torch.no_grad():
        mask = network.id_mask.clone()
        if len(old.id_mask) and len(new_rows):
            mask[new_rows] = torch.maximum(mask[new_rows], old.id_mask[old_rows])
        network.id_mask.copy_(mask)
