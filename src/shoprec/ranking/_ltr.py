"""LightGBM LambdaRank over candidate features: the learned scorer of the ranking stage.

Burges, "From RankNet to LambdaRank to LambdaMART: An Overview" (MSR-TR-2010-82); LightGBM's
``lambdarank`` objective optimises NDCG at ``eval_at`` directly. Saved as LightGBM's own text
model plus a JSON manifest (never pickle).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np

from shoprec._artifacts import reading
from shoprec.exceptions import ArtifactError, NotFittedError, ParameterError

__all__ = ["LTR_FORMAT", "LTRRanker"]

logger = logging.getLogger(__name__)

LTR_FORMAT = "shoprec.ltr-ranker/1"
_MODEL = "model.txt"
_MANIFEST = "manifest.json"


class LTRRanker:
    """Learning to rank with LightGBM's LambdaRank on per-user candidate groups.

    Parameters
    ----------
    n_estimators
        Most boosting rounds; early stopping on a held-out fold of groups picks fewer.
    learning_rate, num_leaves, min_child_samples, feature_fraction
        LightGBM tree settings.
    early_stopping_rounds
        Rounds without NDCG@``eval_at`` improvement on the held-out groups before stopping.
    valid_fraction
        Share of groups (users) held out for early stopping.
    eval_at
        The cut-off of the NDCG being optimised and monitored.
    n_jobs
        LightGBM threads.
    random_state
        Seed of the held-out fold and of LightGBM's sampling.
    """

    def __init__(
        self,
        *,
        n_estimators: int = 500,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 50,
        feature_fraction: float = 0.8,
        early_stopping_rounds: int = 50,
        valid_fraction: float = 0.2,
        eval_at: int = 10,
        n_jobs: int = 2,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.feature_fraction = feature_fraction
        self.early_stopping_rounds = early_stopping_rounds
        self.valid_fraction = valid_fraction
        self.eval_at = eval_at
        self.n_jobs = n_jobs
        self.random_state = random_state

    def get_params(self) -> dict[str, Any]:
        """Hyper-parameters as given."""
        return {name: getattr(self, name) for name in _PARAMS}

    def _check_params(self) -> None:
        for name in ("n_estimators", "num_leaves", "min_child_samples", "eval_at", "n_jobs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.early_stopping_rounds, int) or self.early_stopping_rounds < 1:
            raise ParameterError(
                f"early_stopping_rounds must be a positive integer, got "
                f"{self.early_stopping_rounds!r}"
            )
        if not 0 < self.learning_rate <= 1:
            raise ParameterError(f"learning_rate must be in (0, 1], got {self.learning_rate!r}")
        if not 0 < self.feature_fraction <= 1:
            raise ParameterError(
                f"feature_fraction must be in (0, 1], got {self.feature_fraction!r}"
            )
        if not 0 < self.valid_fraction < 1:
            raise ParameterError(f"valid_fraction must be in (0, 1), got {self.valid_fraction!r}")

    def _lgb_params(self) -> dict[str, Any]:
        return {
            "objective": "lambdarank",
            "metric": "ndcg",
            "eval_at": [self.eval_at],
            "lambdarank_truncation_level": 2 * self.eval_at,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "num_threads": self.n_jobs,
            "seed": self.random_state,
            "deterministic": True,
            "verbosity": -1,
        }

    def fit(
        self,
        features: np.ndarray,
        labels: np.ndarray,
        groups: np.ndarray,
        *,
        feature_names: Sequence[str] | None = None,
    ) -> Self:
        """Learn to order each group's rows by ``labels``.

        Parameters
        ----------
        features
            ``(n_rows, n_features)``; ``NaN`` means missing.
        labels
            ``(n_rows,)`` relevance (0 = not relevant; higher is better).
        groups
            ``(n_rows,)`` group id of each row (a user's candidates), rows of a group contiguous.
        feature_names
            Column names, kept with the model.
        """
        import lightgbm as lgb

        self._check_params()
        features, labels, groups = _check_data(features, labels, groups)
        names = list(feature_names) if feature_names is not None else None
        if names is not None and len(names) != features.shape[1]:
            raise ValueError(f"{len(names)} feature names for {features.shape[1]} columns")
        starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
        sizes = np.diff(np.r_[starts, len(groups)])
        rng = np.random.default_rng(self.random_state)
        held = rng.random(len(starts)) < self.valid_fraction
        if held.all() or not held.any():
            raise ValueError(f"need at least two groups to hold some out, got {len(starts)}")
        row_held = np.repeat(held, sizes)
        train = lgb.Dataset(
            features[~row_held], labels[~row_held], group=sizes[~held], feature_name=names or "auto"
        )
        valid = lgb.Dataset(
            features[row_held], labels[row_held], group=sizes[held], reference=train
        )
        booster = lgb.train(
            self._lgb_params(),
            train,
            num_boost_round=self.n_estimators,
            valid_sets=[valid],
            callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
        )
        self.booster_ = booster
        self.best_iteration_ = int(booster.best_iteration or booster.current_iteration())
        self.feature_names_ = list(booster.feature_name())
        self.best_score_ = float(next(iter(booster.best_score["valid_0"].values()), np.nan))
        logger.info(
            "LambdaRank: %d rounds, held-out NDCG@%d %.4f (%d groups)",
            self.best_iteration_,
            self.eval_at,
            self.best_score_,
            len(starts),
        )
        return self

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "booster_")

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() first")

    def decision_function(self, features: np.ndarray) -> np.ndarray:
        """Scores of rows ``(n_rows, n_features)`` -> ``(n_rows,)`` float64; higher is better."""
        self._check_fitted()
        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 2 or features.shape[1] != len(self.feature_names_):
            raise ValueError(
                f"features must have shape (n, {len(self.feature_names_)}), got {features.shape}"
            )
        if not len(features):
            return np.empty(0)
        return np.asarray(
            self.booster_.predict(features, num_iteration=self.best_iteration_), dtype=np.float64
        )

    def feature_importances(self) -> dict[str, float]:
        """Total split gain per feature, largest first."""
        self._check_fitted()
        gains = self.booster_.feature_importance("gain", iteration=self.best_iteration_)
        pairs = sorted(zip(self.feature_names_, gains, strict=True), key=lambda p: -p[1])
        return {name: float(gain) for name, gain in pairs}

    def save(self, path: str | Path) -> Path:
        """Write ``model.txt`` (LightGBM text format) and ``manifest.json`` into ``path``."""
        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.booster_.save_model(str(path / _MODEL), num_iteration=self.best_iteration_)
        manifest = {
            "format": LTR_FORMAT,
            "params": self.get_params(),
            "feature_names": self.feature_names_,
            "best_iteration": self.best_iteration_,
            "best_score": self.best_score_,
        }
        (path / _MANIFEST).write_text(json.dumps(manifest, indent=2))
        return path

    @classmethod
    def load(cls, path: str | Path) -> LTRRanker:
        """Read a ranker written by :meth:`save`."""
        import lightgbm as lgb

        path = Path(path)
        with reading(path / _MANIFEST):
            manifest = json.loads((path / _MANIFEST).read_text())
        if not isinstance(manifest, dict) or manifest.get("format") != LTR_FORMAT:
            raise ArtifactError(f"{path / _MANIFEST}: not a {LTR_FORMAT} manifest")
        ranker = cls(**manifest["params"])
        with reading(path / _MODEL):
            ranker.booster_ = lgb.Booster(model_file=str(path / _MODEL))
        ranker.feature_names_ = list(manifest["feature_names"])
        if ranker.booster_.feature_name() != ranker.feature_names_:
            raise ArtifactError(f"{path / _MODEL}: features differ from {path / _MANIFEST}")
        ranker.best_iteration_ = int(manifest["best_iteration"])
        ranker.best_score_ = float(manifest["best_score"])
        return ranker


_PARAMS = (
    "n_estimators",
    "learning_rate",
    "num_leaves",
    "min_child_samples",
    "feature_fraction",
    "early_stopping_rounds",
    "valid_fraction",
    "eval_at",
    "n_jobs",
    "random_state",
)


def _check_data(
    features: np.ndarray, labels: np.ndarray, groups: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    features = np.asarray(features, dtype=np.float32)
    labels = np.asarray(labels, dtype=np.float64)
    groups = np.asarray(groups)
    if features.ndim != 2 or labels.shape != (len(features),) or groups.shape != labels.shape:
        raise ValueError(
            f"features (n, f), labels (n,) and groups (n,) must agree; got {features.shape}, "
            f"{labels.shape}, {groups.shape}"
        )
    if len(features) == 0:
        raise ValueError("cannot fit on zero rows")
    if np.any(labels < 0) or not np.all(np.isfinite(labels)):
        raise ValueError("labels must be finite and non-negative")
    change = np.flatnonzero(groups[1:] != groups[:-1]) + 1
    if len(np.unique(groups)) != len(change) + 1:
        raise ValueError("rows of a group must be contiguous")
    return features, labels, groups
