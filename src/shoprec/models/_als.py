"""Implicit-feedback matrix factorisation by alternating least squares.

Hu, Koren & Volinsky, "Collaborative Filtering for Implicit Feedback Datasets" (ICDM 2008), fitted
with the conjugate-gradient solver of Takács, Pilászy & Tikk (RecSys 2011) from the ``implicit``
package. Any history is scored by folding its user vector in: the same regularised least-squares
solve that ALS makes for a training user, against the fitted item factors, batched in numpy.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from shoprec._runtime import single_blas_thread
from shoprec.data import Catalog, EncodedInteractions, event_weights, history_matrix
from shoprec.models._base import Recommender

__all__ = ["ALS"]

logger = logging.getLogger(__name__)

_SOLVE_BUDGET = 4_000_000  # float64 values per fold-in chunk (32 MB)


class ALS(Recommender):
    """Weighted matrix factorisation of the user-item matrix (implicit ALS, CPU).

    Each user-item cell holds the user's event count on the item (events weighted by type, see
    ``event_weights``), optionally BM25-weighted. Its confidence is ``alpha`` times that value
    (``implicit``'s convention: observed cells with confidence 1 weigh as much as unobserved
    ones, which have preference 0). Scores are ``x_u . y_i``; ``x_u`` is solved from the history
    (:meth:`fold_in`), so any history can be scored; an empty one gets the popularity order.

    Parameters
    ----------
    factors
        Latent dimensions.
    regularization
        L2 penalty ``lambda`` on the factors.
    alpha
        Confidence scale of observed cells.
    iterations
        ALS sweeps (users then items).
    bm25
        Weight cells by BM25 as ``implicit.nearest_neighbours.bm25_weight`` does on the item-user
        matrix (users are the terms): down-weights heavy users and popular items. A user's idf
        is clipped at 0 (it would turn negative only with nearly every item in one history).
    bm25_k1, bm25_b
        BM25 saturation and length-normalisation parameters.
    event_weights
        Event type -> weight of one event; ``None`` uses
        :data:`shoprec.data.DEFAULT_EVENT_WEIGHTS`. Weights are scaled to average
        1 over the training events; histories given to :meth:`score` count 1 per event.
    random_state
        Seed of the initial factors.
    num_threads
        Solver threads; 0 uses every core. Results do not depend on it.

    The defaults were chosen on the validation split of Amazon 2014 Beauty and Amazon 2023
    Electronics: a high ``alpha`` (10-40) and 128 factors help most; ``regularization`` barely
    matters there, and BM25 hurt on both.

    Attributes
    ----------
    item_factors_, user_factors_
        Fitted factors, ``(n_items, factors)`` and ``(n_users, factors)`` float32; user rows
        follow ``histories_``.
    popularity_
        Weighted event count of each item divided by the largest (cold-start scores).
    item_length_norm_
        BM25 length factor of each item, kept for folding in new histories.
    """

    name: ClassVar[str] = "als"

    def __init__(
        self,
        *,
        factors: int = 128,
        regularization: float = 1.0,
        alpha: float = 20.0,
        iterations: int = 15,
        bm25: bool = False,
        bm25_k1: float = 100.0,
        bm25_b: float = 0.8,
        event_weights: Mapping[str, float] | None = None,
        random_state: int = 0,
        num_threads: int = 0,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.bm25 = bm25
        self.bm25_k1 = bm25_k1
        self.bm25_b = bm25_b
        self.event_weights = event_weights
        self.random_state = random_state
        self.num_threads = num_threads

    def _check_params(self) -> None:
        if self.factors < 1 or self.iterations < 1:
            raise ValueError(
                f"factors and iterations must be at least 1, got {self.factors}, {self.iterations}"
            )
        if self.regularization < 0 or self.alpha <= 0:
            raise ValueError(
                f"need regularization >= 0 and alpha > 0, got {self.regularization}, {self.alpha}"
            )
        if self.bm25 and (self.bm25_k1 < 0 or not 0 <= self.bm25_b <= 1):
            raise ValueError(
                f"need bm25_k1 >= 0 and 0 <= bm25_b <= 1, got {self.bm25_k1}, {self.bm25_b}"
            )

    def _fit(
        self,
        data: EncodedInteractions,
        catalog: Catalog | None,
        validation: EncodedInteractions | None,
    ) -> None:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        self._check_params()
        counts = data.matrix(event_weights(data.event_types, self.event_weights).astype(np.float32))
        counts.sum_duplicates()
        item_totals = np.asarray(counts.sum(axis=0)).ravel().astype(np.float64)
        self.item_length_norm_ = _bm25_length_norm(item_totals, self.bm25_b)
        self.popularity_ = (item_totals / item_totals.max()).astype(np.float32)
        # BLAS threads fight implicit's own threads (implicit warns); its solver is per-user.
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                random_state=self.random_state,
                num_threads=self.num_threads,
            )
            model.fit(self._confidence_values(counts), show_progress=False)
        self.item_factors_ = np.asarray(model.item_factors, dtype=np.float32)
        self.user_factors_ = np.asarray(model.user_factors, dtype=np.float32)

    def _confidence_values(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        """Cell values before the ``alpha`` scale: counts, or their BM25 weights."""
        if not self.bm25:
            return counts.astype(np.float32)
        coo = counts.tocoo()
        n_items = counts.shape[1]
        # implicit's bm25_weight on the item-user matrix: users are the terms, items the documents
        idf = np.maximum(np.log(n_items) - np.log1p(np.diff(counts.indptr)), 0.0)
        data = (
            coo.data
            * (self.bm25_k1 + 1.0)
            / (self.bm25_k1 * self.item_length_norm_[coo.col] + coo.data)
            * idf[coo.row]
        )
        weighted = sp.csr_matrix((data.astype(np.float32), (coo.row, coo.col)), shape=coo.shape)
        weighted.eliminate_zeros()  # zero confidence would count as a negative cell
        return weighted

    def fold_in(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        """User factors solved from item-index histories with the fitted item factors.

        Solves ``(Y'Y + Y'(C_u - I)Y + lambda I) x_u = Y'C_u p_u`` per history, the exact ALS
        step; for a training user this is (up to convergence) its fitted user factor.

        Returns
        -------
        np.ndarray
            Shape ``(len(histories), factors)``, float32; zeros for empty histories.
        """
        self._check_fitted()
        counts = history_matrix(
            [np.asarray(h, dtype=np.int64) for h in histories], len(self.item_factors_)
        )
        confidence = self._confidence_values(counts.astype(np.float32))
        confidence.data = confidence.data.astype(np.float64) * self.alpha
        # Many small solves: threaded BLAS only adds contention (100x slower on a busy machine).
        with single_blas_thread():
            solved = _solve_users(
                confidence, self.item_factors_.astype(np.float64), self.regularization
            )
        return solved.astype(np.float32)

    def _score(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        scores = self.fold_in(histories) @ self.item_factors_.T
        empty = np.fromiter((len(h) == 0 for h in histories), dtype=bool, count=len(histories))
        scores[empty] = self.popularity_
        return scores

    def retrieval_vectors(self) -> np.ndarray:
        """Item factors ``(n_items, factors)``: scores are user factors times these."""
        self._check_fitted()
        return np.asarray(self.item_factors_, dtype=np.float32)

    def query_vectors(
        self, histories: Sequence[np.ndarray], *, event_types: Sequence[Sequence[str]] | None = None
    ) -> np.ndarray:
        """Folded-in user factors (see :meth:`fold_in`); event types are not read."""
        return self.fold_in(histories)

    def _get_state(self) -> dict[str, np.ndarray]:
        return {
            "item_factors": self.item_factors_,
            "user_factors": self.user_factors_,
            "popularity": self.popularity_,
            "item_length_norm": self.item_length_norm_,
        }

    def _forget_user_rows(self, rows: np.ndarray) -> None:
        self.user_factors_ = np.delete(self.user_factors_, rows, axis=0)

    def _set_state(self, state: Mapping[str, np.ndarray]) -> None:
        self.item_factors_ = state["item_factors"]
        self.user_factors_ = state["user_factors"]
        self.popularity_ = state["popularity"]
        self.item_length_norm_ = state["item_length_norm"]


def _bm25_length_norm(item_totals: np.ndarray, b: float) -> np.ndarray:
    """BM25 document-length factor of each item (its total weight against the mean)."""
    mean = item_totals.mean()
    return ((1.0 - b) + b * item_totals / (mean if mean > 0 else 1.0)).astype(np.float64)


def _solve_users(confidence: sp.csr_matrix, item_factors: np.ndarray, reg: float) -> np.ndarray:
    """Implicit-ALS least squares for each row of ``confidence`` (float64), in chunks.

    Rows are processed in order of length, so that padding each chunk to its longest row wastes
    little; a chunk holds at most about ``_SOLVE_BUDGET`` values.
    """
    n_users, n_factors = confidence.shape[0], item_factors.shape[1]
    base = item_factors.T @ item_factors + reg * np.eye(n_factors)
    out = np.zeros((n_users, n_factors))
    lengths = np.diff(confidence.indptr)
    order = np.argsort(lengths, kind="stable")
    order = order[lengths[order] > 0]
    start = 0
    while start < len(order):
        size = max(1, _SOLVE_BUDGET // (n_factors * (n_factors + lengths[order[start]])))
        longest = lengths[order[min(start + size, len(order)) - 1]]
        size = max(1, _SOLVE_BUDGET // (n_factors * (n_factors + longest)))
        rows = order[start : start + size]
        out[rows] = _solve_chunk(confidence, rows, item_factors, base)
        start += size
    return out


def _solve_chunk(
    confidence: sp.csr_matrix, rows: np.ndarray, item_factors: np.ndarray, base: np.ndarray
) -> np.ndarray:
    """Solve the rows ``rows`` (all non-empty) of ``confidence``, padded to the longest."""
    lengths = np.diff(confidence.indptr)[rows]
    width = int(lengths.max())
    slots = np.arange(width)
    valid = slots[None, :] < lengths[:, None]  # (m, width)
    positions = np.where(valid, confidence.indptr[rows][:, None] + slots[None, :], 0)
    conf = np.where(valid, confidence.data[positions], 0.0)  # (m, width)
    factors = item_factors[confidence.indices[positions]]  # (m, width, f)
    # A_u = Y'Y + lambda I + sum_i (c_ui - 1) y_i y_i'; padded slots have weight 0.
    weighted = factors * np.where(valid, conf - 1.0, 0.0)[:, :, None]
    lhs = base[None] + np.matmul(weighted.transpose(0, 2, 1), factors)  # (m, f, f)
    rhs = np.einsum("mw,mwf->mf", conf, factors)  # (m, f)
    solved: np.ndarray = np.linalg.solve(lhs, rhs[:, :, None])[:, :, 0]
    return solved
