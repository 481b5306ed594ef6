"""Content-based recommendation from item text: the portrait recommender.

Items are represented by the embedding of their text (:func:`shoprec.text.item_texts` through a
:class:`~shoprec.text.TextEncoder`). A user's interest vector is the recency-weighted mean of the
embeddings of the items in their history, the same quantity a
:class:`~shoprec.profiles.UserPortrait` keeps per event; items are ranked by cosine similarity to
it. Because nothing is learned per item id, an item with only text is recommendable at once
(:meth:`ContentBased.add_items`), a user with a single event gets results from it, and a user
known only by a search query from the query's text (:meth:`ContentBased.recommend_text`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np

from shoprec.data import Catalog, EncodedInteractions
from shoprec.models._base import Recommender, top_k
from shoprec.text import encode_texts, item_texts, l2_normalize

__all__ = ["ContentBased"]


class ContentBased(Recommender):
    """Ranks items by the cosine between their text embedding and the user's interest vector.

    Parameters
    ----------
    encoder
        Text encoder registry name (:data:`shoprec.text.ENCODERS`): ``minilm``, ``onnx``,
        ``hashing``.
    recency_half_life
        The interest vector weighs the ``j``-th most recent history item by
        ``2 ** (-j / recency_half_life)``; ``None`` weighs the history evenly.
    max_history
        Only this many most recent items form the interest vector.
    popularity_weight
        Adds ``popularity_weight * log1p(count) / log1p(max count)`` to the cosine: a small prior
        that breaks ties among near-identical texts in favour of items people buy.
    cache_dir
        Where item encodings are cached (default :func:`shoprec.text.default_cache_dir`).
    progress
        Show a progress bar while encoding the catalog.

    Notes
    -----
    Without a catalog, item ids are the only text: fit with a catalog.
    """

    name: ClassVar[str] = "content"
    supports_new_items: ClassVar[bool] = True

    def __init__(
        self,
        *,
        encoder: str = "minilm",
        recency_half_life: float | None = 3.0,
        max_history: int = 50,
        popularity_weight: float = 0.05,
        cache_dir: str | None = None,
        progress: bool = False,
    ) -> None:
        self.encoder = encoder
        self.recency_half_life = recency_half_life
        self.max_history = max_history
        self.popularity_weight = popularity_weight
        self.cache_dir = cache_dir
        self.progress = progress

    def _fit(
        self,
        data: EncodedInteractions,
        catalog: Catalog | None,
        validation: EncodedInteractions | None,
    ) -> None:
        texts = list(data.item_ids) if catalog is None else item_texts(catalog)
        self.item_embeddings_ = self._encode(texts)
        counts = np.bincount(data.items, minlength=data.n_items).astype(np.float32)
        self.item_popularity_ = counts

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        return encode_texts(self.encoder, texts, cache_dir=self.cache_dir, progress=self.progress)

    def add_items(self, catalog: Catalog) -> None:
        """Make new items recommendable from their text alone (no retraining); known ids in
        ``catalog`` get their text re-encoded."""
        self._check_fitted()
        vectors = self._encode(item_texts(catalog))
        for item_id, vector in zip(catalog.item_ids, vectors, strict=True):
            row = self.item_index_.get(item_id)
            if row is None:
                self.item_index_[item_id] = len(self.item_ids_)
                self.item_ids_ = np.append(self.item_ids_, np.array([item_id], dtype=object))
                self.item_embeddings_ = np.vstack([self.item_embeddings_, vector[None]])
                self.item_popularity_ = np.append(self.item_popularity_, np.float32(0))
            else:
                self.item_embeddings_[row] = vector

    def user_vectors(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        """Interest vectors, shape ``(len(histories), dim)``, unit rows (zeros for no history)."""
        out = np.zeros((len(histories), self.item_embeddings_.shape[1]), dtype=np.float32)
        for row, history in enumerate(histories):
            recent = history[-self.max_history :][::-1]  # most recent first
            if len(recent) == 0:
                continue
            age = np.arange(len(recent), dtype=np.float32)
            half_life = self.recency_half_life
            weights = np.ones_like(age) if half_life is None else 2.0 ** (-age / half_life)
            out[row] = weights.astype(np.float32) @ self.item_embeddings_[recent]
        return l2_normalize(out)

    def recommend_text(self, texts: Sequence[str], *, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` items for users known only by free text, e.g. their one search query:
        the text is encoded into the item space and used as the interest vector."""
        self._check_fitted()
        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of str; wrap one text in a list")
        scores = self.score_vectors(self._encode(list(texts)))
        top, top_scores = top_k(scores, k)
        return self.item_ids_[top].astype(object), top_scores

    def score_vectors(self, user_vectors: np.ndarray) -> np.ndarray:
        """Scores of every item for given interest vectors ``(n, dim)`` -> ``(n, n_items)``;
        e.g. a portrait's :meth:`~shoprec.profiles.UserPortrait.interest_vector`."""
        return np.asarray(user_vectors, dtype=np.float32) @ self.item_embeddings_.T + self._prior()

    def _prior(self) -> np.ndarray:
        prior = np.log1p(self.item_popularity_) / max(np.log1p(self.item_popularity_.max()), 1e-9)
        return (self.popularity_weight * prior).astype(np.float32)

    def retrieval_vectors(self) -> np.ndarray:
        """``(n_items, dim + 1)``: the item embeddings and the popularity prior as a last column
        (queries carry a 1 there), so inner products equal :meth:`score_vectors`."""
        self._check_fitted()
        return np.hstack([self.item_embeddings_, self._prior()[:, None]]).astype(np.float32)

    def query_vectors(
        self, histories: Sequence[np.ndarray], *, event_types: Sequence[Sequence[str]] | None = None
    ) -> np.ndarray:
        """Interest vectors (:meth:`user_vectors`) with a trailing 1 for the prior column."""
        self._check_fitted()
        users = self.user_vectors([np.asarray(h, dtype=np.int64) for h in histories])
        return np.hstack([users, np.ones((len(users), 1), dtype=np.float32)])

    def _score(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        scores = self.score_vectors(self.user_vectors(histories))
        cold = np.array([len(h) == 0 for h in histories])
        if cold.any():  # no interests yet: popularity order
            scores[cold] = self.item_popularity_
        return scores

    def _get_state(self) -> dict[str, np.ndarray]:
        return {
            "item_embeddings": self.item_embeddings_,
            "item_popularity": self.item_popularity_,
        }

    def _set_state(self, state: Mapping[str, np.ndarray]) -> None:
        self.item_embeddings_ = state["item_embeddings"]
        self.item_popularity_ = state["item_popularity"]
