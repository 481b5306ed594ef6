"""Turning ranking scores into probabilities: the logistic function and Platt scaling."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["platt_scaling", "sigmoid"]


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, computed without overflow for large ``|x|``."""
    return np.exp(-np.logaddexp(0.0, -x))


def platt_scaling(
    logits: np.ndarray, labels: np.ndarray, *, iterations: int = 50
) -> tuple[float, float]:
    """Platt (1999) scaling: ``(a, b)`` of ``sigmoid(a * logit + b)``.

    Newton's method on the log-loss against Platt's smoothed targets
    (``(n_pos + 1) / (n_pos + 2)`` and ``1 / (n_neg + 2)``), which keep separable data from
    diverging.

    Parameters
    ----------
    logits
        ``(n,)`` uncalibrated scores.
    labels
        ``(n,)`` 0/1 labels.
    iterations
        At most this many Newton steps (it stops earlier once a step is below 1e-10).
    """
    x = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels)
    n_pos = float(labels.sum())
    n_neg = len(labels) - n_pos
    target = np.where(labels == 1, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    a, b = 1.0, 0.0
    for _ in range(iterations):
        p = sigmoid(a * x + b)
        g = np.array([((p - target) * x).sum(), (p - target).sum()])
        w = p * (1 - p) + 1e-12
        h = np.array([[(w * x * x).sum(), (w * x).sum()], [(w * x).sum(), w.sum()]])
        step = np.linalg.solve(h + 1e-9 * np.eye(2), g)
        a, b = a - step[0], b - step[1]
        if math.hypot(*step) < 1e-10:
            break
    return float(a), float(b)
