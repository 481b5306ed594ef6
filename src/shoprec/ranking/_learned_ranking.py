"""The learned two-stage recommender: several retrievers propose, LambdaRank orders.

Retrievers are fitted on the training period; the ranker learns from the validation period's
targets (grouped per user, early stopping on a held-out fold of users), so nothing about test
targets enters training. For deployment, :meth:`LearnedRanking.use_sources` swaps in retrievers
re-fitted on everything up to now while the ranker keeps what it learned.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from shoprec.data import Catalog, EncodedInteractions, Interactions
from shoprec.exceptions import NotFittedError, ParameterError, ValidationError
from shoprec.models import Recommender, create_recommender
from shoprec.ranking._ltr import LTRRanker
from shoprec.ranking._ltr_artifact import (
    load_learned_ranking,
    read_learned_ranking_params,
    save_learned_ranking,
)
from shoprec.ranking._ltr_context import ItemContext, earlier_period
from shoprec.ranking._ltr_features import candidate_features, feature_names
from shoprec.text import create_encoder, default_cache_dir, encode_catalog

__all__ = ["LTR_SOURCES", "LearnedRanking"]

logger = logging.getLogger(__name__)

# Retrievers by name: (registry model, parameters). Trending sources need real timestamps.
LTR_SOURCES: dict[str, tuple[str, dict[str, Any]]] = {
    "covisitation": ("covisitation", {}),
    "als": ("als", {}),
    "popularity": ("popularity", {}),
    "trending_7d": ("popularity", {"half_life_days": 7.0}),
    "trending_30d": ("popularity", {"half_life_days": 30.0}),
    "sasrec": ("sasrec", {}),
    "text_sequence": ("text_sequence", {}),
}
_TIMED_ONLY = {"trending_7d", "trending_30d"}
_LANGUAGE_SOURCES = {"text_sequence"}
_NOT_CANDIDATE = np.float32(-1e30)  # finite, below every ranker score


class LearnedRanking(Recommender):
    """Candidates from several retrievers, ordered by a LightGBM LambdaRank model.

    Parameters
    ----------
    sources
        Names from :data:`LTR_SOURCES`; trending sources are dropped for order-only data.
    text
        Use the language-model features (text cosine to recent items and to the portrait
        vector, a text-similarity source and new items by text). Needs ``item_embeddings``
        or a catalog and ``text_encoder``.
    text_encoder
        Registry name of the encoder of item texts (see :func:`shoprec.text.create_encoder`).
    depth
        Items each source proposes.
    rank_cap
        Source ranks are exact up to here.
    exclude_seen
        Whether the user's history may be recommended (off: candidates include it, with
        features saying how often and how recently it was seen).
    max_train_users
        Validation users (with a target) sampled for training the ranker.
    extra_periods
        Earlier periods also used as training targets (see :meth:`fit_ranker`).
    batch_size
        Users whose candidates are built at once (memory ~ ``batch_size * n_items * 12`` floats).
    ranker
        Hyper-parameters of :class:`LTRRanker`.
    random_state
        Seed of the user sample, the retrievers and the ranker.
    progress
        Show progress bars.
    """

    name: ClassVar[str] = "ltr"

    def __init__(
        self,
        *,
        sources: Sequence[str] = (
            "covisitation",
            "als",
            "popularity",
            "trending_7d",
            "trending_30d",
        ),
        text: bool = True,
        text_encoder: str = "onnx",
        depth: int = 50,
        rank_cap: int = 200,
        exclude_seen: bool = True,
        max_train_users: int = 20_000,
        extra_periods: int = 0,
        batch_size: int = 256,
        ranker: Mapping[str, Any] | None = None,
        random_state: int = 0,
        progress: bool = False,
    ) -> None:
        self.sources = sources
        self.text = text
        self.text_encoder = text_encoder
        self.depth = depth
        self.rank_cap = rank_cap
        self.exclude_seen = exclude_seen
        self.max_train_users = max_train_users
        self.extra_periods = extra_periods
        self.batch_size = batch_size
        self.ranker = ranker
        self.random_state = random_state
        self.progress = progress

    # -- fitting ----------------------------------------------------------------------------------
    def _check_params(self) -> None:
        unknown = sorted(set(self.sources) - set(LTR_SOURCES))
        if unknown or not self.sources:
            raise ParameterError(f"unknown source(s) {unknown}; choose from {sorted(LTR_SOURCES)}")
        if self.text is False and _LANGUAGE_SOURCES & set(self.sources):
            raise ParameterError("text=False excludes the language-model source text_sequence")
        for name in ("depth", "rank_cap", "max_train_users", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name} must be a positive integer, got {value!r}")
        if (
            isinstance(self.extra_periods, bool)
            or not isinstance(self.extra_periods, int)
            or (self.extra_periods < 0)
        ):
            raise ParameterError(f"extra_periods must be an int >= 0, got {self.extra_periods!r}")
        if self.rank_cap < self.depth:
            raise ParameterError(
                f"rank_cap ({self.rank_cap}) must be at least depth ({self.depth})"
            )
        LTRRanker(**dict(self.ranker or {}))._check_params()

    def source_names(self, interactions: Interactions) -> list[str]:
        """The sources used on these events (trending ones need real timestamps)."""
        timed = interactions.has_timestamps
        return [s for s in self.sources if timed or s not in _TIMED_ONLY]

    def create_sources(self, interactions: Interactions) -> dict[str, Recommender]:
        """Fresh, unfitted retrievers for these events."""
        self._check_params()
        return {
            name: create_recommender(
                LTR_SOURCES[name][0], random_state=self.random_state, **LTR_SOURCES[name][1]
            )
            for name in self.source_names(interactions)
        }

    def fit(
        self,
        interactions: Interactions,
        catalog: Catalog | None = None,
        *,
        validation: Interactions | None = None,
        item_embeddings: np.ndarray | None = None,
    ) -> Self:
        """Fit the retrievers on ``interactions`` and the ranker on ``validation``'s targets.

        ``item_embeddings`` (aligned with the catalog) saves encoding the catalog's texts.
        """
        if validation is None:
            raise ValidationError("the learned ranking stage needs validation events (targets)")
        sources = self.create_sources(interactions)
        for name, source in sources.items():
            logger.info("fitting source %s", name)
            source.fit(interactions, catalog)
        return self.fit_ranker(
            sources, interactions, validation, catalog, item_embeddings=item_embeddings
        )

    def fit_ranker(
        self,
        sources: Mapping[str, Recommender],
        interactions: Interactions,
        validation: Interactions,
        catalog: Catalog | None = None,
        *,
        item_embeddings: np.ndarray | None = None,
    ) -> Self:
        """Learn the ranker on ``validation``'s targets, with ``sources`` already fitted on
        ``interactions`` (all on one item vocabulary: fit them with the same catalog).

        With ``extra_periods``, the same is repeated on earlier periods of ``interactions``
        (fresh retrievers fitted on what came before each), adding training groups at other
        request times.
        """
        self._check_params()
        start = time.perf_counter()
        vocabulary = next(iter(sources.values())).item_ids_
        vectors = self._embeddings(catalog, vocabulary, item_embeddings) if self.text else None
        parts, n_targets = [], 0
        period = (dict(sources), interactions, validation)
        for index in range(self.extra_periods + 1):
            if index:
                try:
                    earlier, targets = earlier_period(period[1], period[2])
                except ValidationError as error:
                    logger.warning("training on %d earlier period(s) only: %s", index - 1, error)
                    break
                fresh = self.create_sources(earlier)
                for source in fresh.values():
                    source.fit(earlier, catalog)
                period = (fresh, earlier, targets)
            self.use_sources(period[0], period[1], catalog, item_embeddings=vectors)
            part, count = self._period_data(period[1], period[2])
            parts.append((part[0], part[1], part[2] + 2 * index * self.max_train_users))
            n_targets += count
            logger.info("period %d: %d groups with a positive", index, len(np.unique(part[2])))
        self.use_sources(sources, interactions, catalog, item_embeddings=vectors)
        labels = np.concatenate([p[1] for p in parts])
        self.ranker_ = LTRRanker(**{"random_state": self.random_state, **dict(self.ranker or {})})
        self.ranker_.fit(
            np.concatenate([p[0] for p in parts]),
            labels,
            np.concatenate([p[2] for p in parts]),
            feature_names=self.feature_names_,
        )
        self.recall_ = float(labels.sum() / max(n_targets, 1))
        logger.info(
            "ranker fitted in %.1fs; candidate recall %.3f",
            time.perf_counter() - start,
            self.recall_,
        )
        return self

    def _period_data(
        self, interactions: Interactions, validation: Interactions
    ) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], int]:
        """Features, labels and groups of the sampled users with a target among their
        candidates, and the number of targets, with the current sources."""
        histories, targets = self._training_cases(interactions, validation)
        features, labels, groups = [], [], []
        for lo, batch in self._batches(len(histories), "ranker features"):
            part = self._candidates(histories[batch])
            codes = (part.owner + lo) * len(self.item_ids_) + part.items
            hit = np.isin(codes, targets)
            keep = np.isin(part.owner, np.unique(part.owner[hit]))  # groups with a positive
            features.append(part.features[keep])
            labels.append(hit[keep].astype(np.float64))
            groups.append(part.owner[keep] + lo)
        if not any(len(g) for g in groups):
            raise ValidationError("no validation target is among the candidates; cannot train")
        data = (np.concatenate(features), np.concatenate(labels), np.concatenate(groups))
        return data, len(targets)

    def use_sources(
        self,
        sources: Mapping[str, Recommender],
        interactions: Interactions,
        catalog: Catalog | None = None,
        *,
        item_embeddings: np.ndarray | None = None,
    ) -> Self:
        """Serve with ``sources`` fitted on ``interactions`` (e.g. re-fitted on everything up to
        now); the request time and item context move to the end of ``interactions``."""
        names = self.source_names(interactions)
        if sorted(sources) != sorted(names):
            raise ParameterError(f"expected fitted sources {names}, got {sorted(sources)}")
        vocabulary = next(iter(sources.values())).item_ids_
        for name, source in sources.items():
            if not source.is_fitted or not np.array_equal(source.item_ids_, vocabulary):
                raise ValidationError(f"source {name!r} is not fitted on the shared vocabulary")
        embeddings = self._embeddings(catalog, vocabulary, item_embeddings) if self.text else None
        data = EncodedInteractions.encode(interactions, vocabulary)
        self.sources_ = {name: sources[name] for name in names}
        self.item_ids_ = vocabulary
        self.item_index_ = {item: i for i, item in enumerate(vocabulary)}
        self.histories_ = dict(zip(data.user_ids, data.sequences(), strict=True))
        self.context_ = ItemContext.build(
            data, timed=interactions.has_timestamps, catalog=catalog, embeddings=embeddings
        )
        self.feature_names_ = feature_names(
            names, self.context_, covisitation="covisitation" in names, text=self.text
        )
        if hasattr(self, "ranker_") and self.ranker_.feature_names_ != self.feature_names_:
            raise ValidationError("these sources and events give other features than the ranker's")
        return self

    def _embeddings(
        self, catalog: Catalog | None, vocabulary: np.ndarray, given: np.ndarray | None
    ) -> np.ndarray:
        if given is not None:
            if len(given) != len(vocabulary):
                raise ValidationError(
                    f"item_embeddings need {len(vocabulary)} rows, got {len(given)}"
                )
            return np.asarray(given, dtype=np.float32)
        if catalog is None:
            raise ValidationError("text features need a catalog (item texts) or item_embeddings")

        encoder = create_encoder(self.text_encoder)
        vectors = encode_catalog(
            catalog, encoder, cache_dir=default_cache_dir() / "vectors", progress=self.progress
        )
        rows = pd.Index(catalog.item_ids).get_indexer(vocabulary)
        if (rows < 0).any():
            raise ValidationError("the sources' vocabulary has items outside the catalog")
        return vectors[rows]

    def _training_cases(
        self, interactions: Interactions, validation: Interactions
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """Histories of sampled validation users and their targets as ``user * n_items + item``
        codes (targets in the history are dropped when ``exclude_seen``)."""
        frame = validation.frame[validation.frame["item_id"] != ""]
        items = pd.Index(self.item_ids_).get_indexer(frame["item_id"].to_numpy())
        users = frame["user_id"].to_numpy()[items >= 0]
        items = items[items >= 0]
        empty = np.empty(0, dtype=np.int64)
        if self.exclude_seen:
            seen = (
                np.array(
                    [
                        item in set(self.histories_.get(u, empty).tolist())
                        for u, item in zip(users, items, strict=True)
                    ],
                    dtype=bool,
                )
                if len(users)
                else np.empty(0, dtype=bool)
            )
            users, items = users[~seen], items[~seen]
        chosen = pd.unique(users)
        rng = np.random.default_rng(self.random_state)
        if len(chosen) > self.max_train_users:
            chosen = rng.choice(chosen, self.max_train_users, replace=False)
        if not len(chosen):
            raise ValidationError("no validation user has a target to learn from")
        position = pd.Index(chosen).get_indexer(users)
        codes = position[position >= 0] * len(self.item_ids_) + items[position >= 0]
        histories = [self.histories_.get(u, empty) for u in chosen]
        return histories, np.unique(codes)

    # -- scoring ----------------------------------------------------------------------------------
    def _batches(self, n: int, desc: str):
        starts = range(0, n, self.batch_size)
        for lo in tqdm(starts, desc=desc, disable=not self.progress or n <= self.batch_size):
            yield lo, slice(lo, lo + self.batch_size)

    def _candidates(self, histories: Sequence[np.ndarray]):
        covisitation = self.sources_.get("covisitation")
        return candidate_features(
            self.sources_,
            self.context_,
            histories,
            depth=self.depth,
            rank_cap=self.rank_cap,
            exclude_seen=self.exclude_seen,
            text=self.text,
            covisitation=covisitation,
        )

    def _score(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        self._check_ranker()
        scores = np.full((len(histories), len(self.item_ids_)), _NOT_CANDIDATE, dtype=np.float32)
        for lo, batch in self._batches(len(histories), "ranking"):
            part = self._candidates(list(histories[batch]))
            scores[part.owner + lo, part.items] = self.ranker_.decision_function(part.features)
        return scores

    def _check_ranker(self) -> None:
        if not hasattr(self, "ranker_"):
            raise NotFittedError("LearnedRanking has no fitted ranker; call fit() first")

    def _fit(self, data: EncodedInteractions, catalog: Catalog | None, validation: Any) -> None:
        raise NotImplementedError  # fit() is overridden: the sources need the raw events

    def _get_state(self) -> dict[str, np.ndarray]:
        return {}

    def _set_state(self, state: Mapping[str, np.ndarray]) -> None:
        """Nothing: :meth:`load` restores the parts."""

    # -- persistence ------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write a directory (see :mod:`shoprec.ranking._ltr_artifact`), atomically."""
        self._check_ranker()
        return save_learned_ranking(
            self, path, params={**self.get_params(), "sources": list(self.sources)}
        )

    @classmethod
    def load(cls, path: str | Path) -> LearnedRanking:
        """Read a directory written by :meth:`save`."""
        model = cls(**read_learned_ranking_params(path))
        load_learned_ranking(model, path)
        return model
