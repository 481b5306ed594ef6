"""Cross-platform transfer of the text-sequence recommender: pretrain on several shops, adapt to
another shop that has little data of its own.

:func:`pretrain` fits one :class:`~shoprec.models.TextSequence` on several platforms joined by
:func:`~shoprec.transfer._platforms.combine_platforms` (ids ``"platform:id"``). It is text-only
by default (no ID embeddings), which makes the network inductive: it scores any catalog from
the item texts. Every epoch draws training windows per platform by temperature
(:func:`~shoprec.transfer._platforms.platform_shares`); each next item is scored against its
own platform's items only (a per-platform softmax, as when one shop is served), and order-only
platforms get no time-gap input.

:func:`adapt` turns the pretrained network into a recommender for a target platform's catalog:

- ``zero_shot``: nothing is trained; target items are represented from their text;
- ``adaptor``: trains only :data:`ADAPTOR_PARAMETERS`, the platform-specific parts: the
  mixture-of-experts text adaptor and the event-type and time-gap embeddings (how customers
  buy over time differs by shop), the popularity weight (with ``popularity_prior``), plus the
  target's ID embeddings when ``use_ids``; the
  transformer blocks, position embeddings, final norm and start token stay frozen, as in
  UniSRec's parameter-efficient fine-tuning;
- ``full``: fine-tunes every parameter, starting from the pretrained weights.

With ``recenter`` (the default) the text whitening statistics (mean and scale of the frozen text
vectors) are those of the target catalog, a statistics-only domain adaptation like AdaBN.

Hou, Y., Mu, S., Zhao, W. X., Li, Y., Ding, B. and Wen, J.-R. (2022). "Towards Universal
Sequence Representation Learning for Recommender Systems" (UniSRec). In *Proceedings of KDD*.
https://arxiv.org/abs/2206.05941
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from shoprec import __version__
from shoprec._artifacts import read_manifest
from shoprec.data import MIN_EPOCH_MS, Catalog, Dataset, EncodedInteractions, Interactions
from shoprec.exceptions import ArtifactError, NotFittedError
from shoprec.models import TextSequence, load_recommender
from shoprec.text import item_texts
from shoprec.transfer._platforms import combine_platforms, platform_shares
from shoprec.transfer._pretraining import MultiPlatformTextSequence, cap_users_per_platform

if TYPE_CHECKING:  # torch is imported lazily so that `import shoprec.models` stays light
    from shoprec.nn import TextSequenceNetwork

__all__ = [
    "ADAPTOR_PARAMETERS",
    "ADAPT_MODES",
    "PRETRAINED_FORMAT",
    "PretrainedTextSequence",
    "adapt",
    "pretrain",
]

logger = logging.getLogger(__name__)

ADAPT_MODES = ("zero_shot", "adaptor", "full")
# Parameter-name prefixes trained by mode "adaptor" (plus "item_embedding." with use_ids).
ADAPTOR_PARAMETERS = ("adaptor.", "event_embedding.", "gap_embedding.", "popularity_weight")
PRETRAINED_FORMAT = "shoprec.pretrained_text_sequence/1"
_ARCHITECTURE = (
    "encoder", "hidden", "n_layers", "n_heads", "max_len", "n_experts", "popularity_prior"
)  # fmt: skip
# Target-specific state never copied from the source network (the start row is, separately).
_OWN_STATE = (
    "text_embeddings", "id_mask", "item_embedding.weight", "event_embedding.weight", "popularity"
)  # fmt: skip
_WHITENING = ("text_mean", "text_scale")
_LEARNED = (
    "item_ids_", "item_index_", "histories_", "network_", "event_types_", "uses_time_", "history_"
)  # fmt: skip
_MANIFEST = "manifest.json"
_MODEL_DIR = "model"


@dataclass
class PretrainedTextSequence:
    """A text-sequence model pretrained on several platforms, the input of :func:`adapt`.

    Attributes
    ----------
    model
        The fitted :class:`~shoprec.models.TextSequence` over all source items (ids
        ``"platform:item"``); it also serves the sources themselves.
    windows
        Training windows (sequence pieces) of each platform.
    shares
        Each platform's share of every training epoch.
    temperature
        The sampling temperature that gave ``shares``.
    """

    model: TextSequence
    windows: dict[str, int]
    shares: dict[str, float]
    temperature: float

    @property
    def platforms(self) -> list[str]:
        """The source platforms, in catalog order."""
        return list(self.windows)

    def save(self, path: str | Path) -> Path:
        """Write ``manifest.json`` and the model's directory ``model/`` under ``path``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.model.save(path / _MODEL_DIR)
        manifest = {
            "format": PRETRAINED_FORMAT,
            "shoprec_version": __version__,
            "temperature": self.temperature,
            "windows": self.windows,
            "shares": self.shares,
        }
        (path / _MANIFEST).write_text(json.dumps(manifest, indent=2))
        return path

    @classmethod
    def load(cls, path: str | Path) -> PretrainedTextSequence:
        """Read a directory written by :meth:`save`.

        Raises
        ------
        ArtifactError
            ``path`` holds no readable pretrained text-sequence model.
        """
        path = Path(path)
        manifest = read_manifest(
            path / _MANIFEST, PRETRAINED_FORMAT, what="a pretrained model directory"
        )
        model = load_recommender(path / _MODEL_DIR)
        if not isinstance(model, TextSequence):
            raise ArtifactError(f"{path / _MODEL_DIR} holds a {model.name}, not a text_sequence")
        return cls(
            model=model,
            windows={k: int(v) for k, v in manifest["windows"].items()},
            shares={k: float(v) for k, v in manifest["shares"].items()},
            temperature=float(manifest["temperature"]),
        )


def pretrain(
    sources: Sequence[Dataset],
    *,
    temperature: float = 1.0,
    epoch_size: int | None = None,
    valid_users: int | None = 1000,
    **params: Any,
) -> PretrainedTextSequence:
    """Fit one text-sequence model on several platforms' training events.

    Parameters
    ----------
    sources
        One dataset per platform, named by the platform (e.g. from
        :func:`~shoprec.transfer._platforms.platform_dataset`); each one's ``split.train``
        trains and ``split.valid`` early-stops.
    temperature
        Platform ``p`` fills a share ``n_p ** temperature / sum_q n_q ** temperature`` of every
        epoch, ``n_p`` its training windows: 1 is proportional, 0 uniform over platforms.
    epoch_size
        Windows per epoch (default: all windows, once each at ``temperature=1``); smaller
        epochs validate more often on large sources.
    valid_users
        Validation users drawn per platform (``None``: all); scoring them runs every epoch.
    **params
        :class:`~shoprec.models.TextSequence` hyper-parameters; ``use_ids`` defaults to False
        here, since source ID embeddings cannot transfer.

    Returns
    -------
    PretrainedTextSequence
    """
    platform_shares({"check": 1}, temperature)  # fail before encoding on a bad temperature
    combined = combine_platforms(sources)
    model = MultiPlatformTextSequence(**{"use_ids": False, **params})
    model.temperature, model.epoch_size = temperature, epoch_size
    valid = cap_users_per_platform(
        combined.split.valid, valid_users, random_state=model.random_state
    )
    logger.info("pretraining on %s: %r", combined.name, combined.split)
    model.fit(combined.split.train, combined.catalog, validation=valid)
    return PretrainedTextSequence(
        model=_as_text_sequence(model),
        windows=model.windows_,
        shares=model.shares_,
        temperature=temperature,
    )


def adapt(
    pretrained: PretrainedTextSequence | TextSequence,
    target_train: Interactions | None,
    target_catalog: Catalog,
    *,
    mode: str = "adaptor",
    validation: Interactions | None = None,
    recenter: bool = True,
    **params: Any,
) -> TextSequence:
    """A recommender for a target platform, started from a pretrained text-sequence network.

    Parameters
    ----------
    pretrained
        From :func:`pretrain`, or any fitted :class:`~shoprec.models.TextSequence`.
    target_train
        The target's training events: trained on unless ``zero_shot``, and the users'
        histories either way. ``None`` (a platform without events) only for ``zero_shot``.
    target_catalog
        The items to recommend; every one is scored from its text.
    mode
        ``zero_shot``, ``adaptor`` or ``full`` (see the module docstring).
    validation
        Target events after ``target_train``, for early stopping.
    recenter
        Whiten the text vectors with the target catalog's statistics instead of the sources'.
    **params
        Training hyper-parameters of :class:`~shoprec.models.TextSequence` (``lr``,
        ``max_epochs``, ``use_ids``, ...); the architecture stays the pretrained one.

    Returns
    -------
    TextSequence
        Fitted on the target catalog; saves and loads like any recommender.

    Raises
    ------
    ValueError
        Unknown mode, a changed architecture parameter, ``use_ids`` with ``zero_shot``, or no
        target events for a training mode.
    """
    if mode not in ADAPT_MODES:
        raise ValueError(f"mode must be one of {ADAPT_MODES}, got {mode!r}")
    source = pretrained.model if isinstance(pretrained, PretrainedTextSequence) else pretrained
    if not source.is_fitted:
        raise NotFittedError("the pretrained TextSequence is not fitted")
    base = source.get_params()
    changed = sorted(k for k in _ARCHITECTURE if k in params and params[k] != base[k])
    if changed:
        raise ValueError(f"adapt keeps the pretrained architecture; cannot change {changed}")
    settings = {**base, "use_ids": False, **params}
    if mode == "zero_shot" and settings["use_ids"]:
        raise ValueError("zero_shot learns no ID embeddings: use_ids must be False")
    model = _Adapting(**settings)
    model._source, model._mode, model._recenter = source, mode, recenter
    empty = target_train is None or not (target_train.frame["item_id"] != "").any()
    if empty and mode != "zero_shot":
        raise ValueError(f"mode {mode!r} needs target training events")
    if target_train is None or empty:
        model._fit_without_events(target_catalog)
    else:
        model.fit(
            target_train, target_catalog, validation=None if mode == "zero_shot" else validation
        )
    logger.info("adapted (%s) to %d target items", mode, len(model.item_ids_))
    return _as_text_sequence(model)


def _as_text_sequence(fitted: TextSequence) -> TextSequence:
    """A plain TextSequence (registry class, saves and loads) with ``fitted``'s learned state."""
    out = TextSequence(**fitted.get_params())
    for name in _LEARNED:
        if hasattr(fitted, name):
            setattr(out, name, getattr(fitted, name))
    for parameter in out.network_.parameters():
        parameter.requires_grad_(True)
    out.network_.eval()
    return out


def _trainable(name: str, mode: str, use_ids: bool) -> bool:
    """Whether parameter ``name`` trains in ``mode``."""
    if mode == "full":
        return True
    return name.startswith(ADAPTOR_PARAMETERS) or (use_ids and name.startswith("item_embedding."))


def _copy_pretrained(
    target: TextSequenceNetwork,
    source: TextSequence,
    target_types: Sequence[str],
    *,
    recenter: bool,
) -> None:
    """Load ``source``'s weights into ``target`` (built for the target catalog): everything
    but the target's own item state; the start row; event types matched by name (new: zero)."""
    import torch

    network = source.network_
    skip = {*_OWN_STATE, *(_WHITENING if recenter else ())}
    own = target.state_dict()  # tensors sharing storage with the parameters and buffers
    with torch.no_grad():
        for name, value in network.state_dict().items():
            if name in skip:
                continue
            if name not in own or own[name].shape != value.shape:
                raise ValueError(f"pretrained {name} {tuple(value.shape)} does not fit the target")
            own[name].copy_(value)
        start = network.item_embedding.weight[network.start_token]
        target.item_embedding.weight[target.start_token].copy_(start)
        rows = {kind: i for i, kind in enumerate(source.event_types_, start=1)}
        for j, kind in enumerate(target_types, start=1):
            row = target.event_embedding.weight[j]
            if kind in rows:
                row.copy_(network.event_embedding.weight[rows[kind]])
            else:
                row.zero_()


class _Adapting(TextSequence):
    """TextSequence whose network starts from a pretrained one, with parts frozen by mode."""

    _source: TextSequence
    _mode: str
    _recenter: bool

    def _network(self, text: np.ndarray, n_id_items: int) -> TextSequenceNetwork:
        network = super()._network(text, n_id_items)
        _copy_pretrained(network, self._source, self.event_types_, recenter=self._recenter)
        for name, parameter in network.named_parameters():
            parameter.requires_grad_(_trainable(name, self._mode, self.use_ids))
        return network

    def _fit(
        self,
        data: EncodedInteractions,
        catalog: Catalog | None,
        validation: EncodedInteractions | None,
    ) -> None:
        if self._mode != "zero_shot":
            super()._fit(data, catalog, validation)
            return
        real_time = bool(len(data.timestamps) == 0 or data.timestamps.max() >= MIN_EPOCH_MS)
        self.event_types_ = list(self._source.event_types_)
        self.uses_time_ = self._source.uses_time_ and real_time
        texts = list(map(str, data.item_ids)) if catalog is None else item_texts(catalog)
        self.network_ = self._network(self._encode(texts), 0)
        self._set_popularity(data)  # the target's own counts: statistics, not training
        self.network_.eval()

    def _fit_without_events(self, catalog: Catalog) -> None:
        """Zero-shot for a platform without events: the catalog, no histories."""
        no_events = Interactions(pd.DataFrame(columns=["user_id", "item_id", "event_type"]))
        data = EncodedInteractions.encode(no_events, catalog.item_ids)
        self.item_ids_ = data.item_ids
        self.item_index_ = {item: i for i, item in enumerate(data.item_ids)}
        self.histories_ = {}
        self._fit(data, catalog, None)
