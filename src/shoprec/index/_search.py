"""Semantic product search and similar items over item text embeddings.

A query is encoded by the same :class:`~shoprec.text.TextEncoder` as the catalog and matched
against the item vectors in a :class:`~shoprec.index.VectorIndex`. Personalised search re-scores
an over-fetched candidate set by mixing query relevance with the user's interest vector (from a
:class:`~shoprec.profiles.UserPortrait` or :class:`~shoprec.models.ContentBased`), so a user who
buys Sony gets Sony headphones first for "headphones" without losing relevance to the query.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np

from shoprec import __version__
from shoprec.data import Catalog
from shoprec.exceptions import ArtifactError, NotFittedError, ValidationError
from shoprec.index._base import VectorIndex
from shoprec.index._registry import create_index, load_index
from shoprec.text import TextEncoder, create_encoder, encode_texts, item_texts

__all__ = ["SemanticSearch"]

logger = logging.getLogger(__name__)

_FORMAT = "shoprec.semantic_search/1"
_OVERFETCH = 5  # candidates per result re-scored when personalising


class SemanticSearch:
    """Free-text search and similar items over a catalog.

    Parameters
    ----------
    encoder
        Text encoder registry name (``minilm``, ``onnx``, ``hashing``); queries and items must
        use the same one.
    index
        Vector index registry name (``exact``, ``hnsw``, ``ivf``).
    index_params
        Hyper-parameters of the index.
    cache_dir
        Encoder and vector cache (default :func:`shoprec.text.default_cache_dir`).
    progress
        Show a progress bar while encoding the catalog.
    """

    def __init__(
        self,
        *,
        encoder: str = "minilm",
        index: str = "exact",
        index_params: dict[str, Any] | None = None,
        cache_dir: str | None = None,
        progress: bool = False,
    ) -> None:
        self.encoder = encoder
        self.index = index
        self.index_params = index_params
        self.cache_dir = cache_dir
        self.progress = progress

    def fit(self, catalog: Catalog, item_embeddings: np.ndarray | None = None) -> Self:
        """Index ``catalog`` (its texts are encoded unless ``item_embeddings`` are given, one
        unit row per catalog item)."""
        vectors = self._encode(item_texts(catalog)) if item_embeddings is None else item_embeddings
        if len(vectors) != len(catalog):
            raise ValidationError(
                f"{len(vectors)} embeddings for {len(catalog)} catalog items", field="embeddings"
            )
        self.index_ = create_index(self.index, **(self.index_params or {}))
        self.index_.build(catalog.item_ids, vectors)
        return self

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        return encode_texts(self.encoder, texts, cache_dir=self.cache_dir, progress=self.progress)

    def _check_fitted(self) -> VectorIndex:
        if not hasattr(self, "index_"):
            raise NotFittedError("SemanticSearch is not fitted; call fit() first")
        return self.index_

    def add_items(self, catalog: Catalog) -> None:
        """Upsert items: new ones become searchable at once, known ones get their new text."""
        self._check_fitted().add(catalog.item_ids, self._encode(item_texts(catalog)))

    def remove_items(self, item_ids: Collection[str]) -> None:
        """Stop returning ``item_ids`` (unknown ids are ignored)."""
        self._check_fitted().remove(item_ids, missing="ignore")

    def search(
        self,
        queries: Sequence[str],
        *,
        k: int = 10,
        user_vectors: np.ndarray | None = None,
        personalization: float = 0.3,
        exclude: Sequence[Collection[str]] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best items for each query, shapes ``(n, k)`` (ids, scores), best first.

        With ``user_vectors`` (``(n, dim)``, unit rows; zero rows mean no profile), the top
        ``5 * k`` matches are re-scored as ``(1 - personalization) * query_cosine +
        personalization * user_cosine``.
        """
        index = self._check_fitted()
        if not 0.0 <= personalization <= 1.0:
            raise ValidationError(
                f"personalization must be in [0, 1], got {personalization}", field="personalization"
            )
        if isinstance(queries, str):
            raise TypeError("queries must be a sequence of str; wrap one query in a list")
        query_vectors = self._queries(list(queries))
        if user_vectors is None or personalization == 0.0:
            return index.search(query_vectors, k=k, exclude=exclude)
        users = np.asarray(user_vectors, dtype=np.float32)
        if users.shape != query_vectors.shape:
            raise ValidationError(
                f"user_vectors must have shape {query_vectors.shape}, got {users.shape}",
                field="user_vectors",
            )
        ids, query_scores = index.search(query_vectors, k=k * _OVERFETCH, exclude=exclude)
        return _rescore(index, ids, query_scores, users, personalization, k)

    def use_query_encoder(self, encoder: TextEncoder) -> None:
        """Encode queries with ``encoder`` (of this engine's kind), e.g. one already open."""
        self.__dict__["_query_encoder"] = encoder

    def _queries(self, queries: list[str]) -> np.ndarray:
        """Query vectors (E5 embeds queries differently from items); the encoder is made once
        per instance, since opening an ONNX session costs ~200 ms."""
        encoder = self.__dict__.get("_query_encoder")
        if encoder is None:
            encoder = self.__dict__["_query_encoder"] = create_encoder(
                self.encoder, cache_dir=self.cache_dir
            )
        return encoder.encode_queries(queries)

    def similar_items(
        self, item_ids: Sequence[str], *, k: int = 10
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` items whose text is closest to each given item's, itself excluded."""
        index = self._check_fitted()
        unknown = [i for i in item_ids if i not in index]
        if unknown:
            raise ValidationError(f"unknown item id(s) {unknown[:5]}", field="item_id")
        vectors = index.vectors(item_ids)
        return index.search(vectors, k=k, exclude=[[i] for i in item_ids])

    def save(self, path: str | Path) -> Path:
        """Write a directory: ``manifest.json`` and the index in ``index/``."""
        index = self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        index.save(path / "index")
        params = {
            "encoder": self.encoder,
            "index": self.index,
            "index_params": self.index_params,
            "cache_dir": self.cache_dir,
        }
        manifest = {"format": _FORMAT, "shoprec_version": __version__, "params": params}
        (path / "manifest.json").write_text(json.dumps(manifest, indent=2))
        return path

    @classmethod
    def load(cls, path: str | Path) -> SemanticSearch:
        """Read a directory written by :meth:`save`."""
        path = Path(path)
        try:
            manifest = json.loads((path / "manifest.json").read_text())
        except (OSError, ValueError) as error:
            raise ArtifactError(f"{path} is not a readable search directory: {error}") from error
        if manifest.get("format") != _FORMAT:
            raise ArtifactError(f"{path}: unknown search format {manifest.get('format')!r}")
        search = cls(**manifest["params"])
        search.index_ = load_index(path / "index")
        return search


def _rescore(
    index: VectorIndex,
    ids: np.ndarray,
    query_scores: np.ndarray,
    users: np.ndarray,
    weight: float,
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Re-rank each row's candidates by the query/user mix; rows without a profile keep order."""
    out_ids = np.full((len(ids), k), "", dtype=object)
    out_scores = np.full((len(ids), k), -np.inf, dtype=np.float32)
    for row in range(len(ids)):
        found = ids[row] != ""
        candidates, scores = ids[row][found], query_scores[row][found]
        if np.any(users[row]) and len(candidates):
            user_scores = index.vectors(list(candidates)) @ users[row]
            scores = (1.0 - weight) * scores + weight * user_scores
        order = np.argsort(-scores, kind="stable")[:k]
        out_ids[row, : len(order)] = candidates[order]
        out_scores[row, : len(order)] = scores[order]
    return out_ids, out_scores
