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
- ``adaptor``: trains only :data:`~shoprec.models.ADAPTOR_PARAMETERS`, the platform-specific
  parts: the mixture-of-experts text adaptor and the event-type and time-gap embeddings (how
  customers buy over time differs by shop), the popularity weight (with ``popularity_prior``),
  plus the target's ID embeddings when ``use_ids``; the
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

import pandas as pd

from shoprec import __version__
from shoprec._artifacts import read_manifest
from shoprec.data import Catalog, Dataset, Interactions
from shoprec.exceptions import ArtifactError, NotFittedError, ParameterError
from shoprec.models import TextSequence, load_recommender
from shoprec.transfer._platforms import combine_platforms, platform_shares
from shoprec.transfer._pretraining import MultiPlatformTextSequence, cap_users_per_platform

if TYPE_CHECKING:  # torch is imported lazily so that `import shoprec.models` stays light
    pass

__all__ = [
    "ADAPT_MODES",
    "PRETRAINED_FORMAT",
    "PretrainedTextSequence",
    "adapt",
    "pretrain",
]

logger = logging.getLogger(__name__)

ADAPT_MODES = ("zero_shot", "adaptor", "full")
_TRAINABLE = {"zero_shot": "none", "adaptor": "adaptor", "full": "full"}
PRETRAINED_FORMAT = "shoprec.pretrained_text_sequence/1"
_ARCHITECTURE = (
    "encoder", "hidden", "n_layers", "n_heads", "max_len", "n_experts", "popularity_prior"
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
        model=model,  # a TextSequence: saves and loads as one
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
    ParameterError
        Unknown mode, a changed architecture parameter, ``use_ids`` with ``zero_shot``, or no
        target events for a training mode.
    """
    if mode not in ADAPT_MODES:
        raise ParameterError(f"mode must be one of {ADAPT_MODES}, got {mode!r}")
    source = pretrained.model if isinstance(pretrained, PretrainedTextSequence) else pretrained
    if not source.is_fitted:
        raise NotFittedError("the pretrained TextSequence is not fitted")
    base = source.get_params()
    changed = sorted(k for k in _ARCHITECTURE if k in params and params[k] != base[k])
    if changed:
        raise ParameterError(f"adapt keeps the pretrained architecture; cannot change {changed}")
    settings = {**base, "use_ids": False, **params, "recenter": recenter}
    if mode == "zero_shot" and settings["use_ids"]:
        raise ParameterError("zero_shot learns no ID embeddings: use_ids must be False")
    if target_train is None:
        target_train = Interactions(pd.DataFrame(columns=["user_id", "item_id", "event_type"]))
    if mode != "zero_shot" and not (target_train.frame["item_id"] != "").any():
        raise ParameterError(f"mode {mode!r} needs target training events")
    model = TextSequence(**settings).fit(
        target_train,
        target_catalog,
        validation=None if mode == "zero_shot" else validation,
        warm_start=source,
        trainable=_TRAINABLE[mode],
    )
    logger.info("adapted (%s) to %d target items", mode, len(model.item_ids_))
    return model
