"""The TextEncoder contract: texts in, L2-normalised float32 vectors out, batch-first."""

from __future__ import annotations

import hashlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from shoprec._runtime import current_engine

__all__ = ["TextEncoder", "file_sha256", "l2_normalize"]

logger = logging.getLogger(__name__)

_NORM_EPS = 1e-12
_HASH_CHUNK = 1 << 20
# (resolved path, size, mtime_ns) -> sha256 hex: hashing a 90 MB model file takes ~0.3 s.
_SHA_CACHE: dict[tuple[str, int, int], str] = {}


class TextEncoder(ABC):
    """Turns texts into unit-length vectors whose dot product is their cosine similarity.

    Contract
    --------
    - ``dim: int`` is the vector size, known before any model is loaded.
    - ``fingerprint: str`` changes whenever the outputs for the same input could change: the
      model weights' hash, maximum token length, pooling, quantisation, hashing parameters...
      Caches of vectors (e.g. :func:`shoprec.text.encode_catalog`) are keyed by it. ``name`` is a
      short human-readable label (``"minilm"``, ``"onnx-int8"``, ``"hashing"``).
    - ``encode(texts, *, batch_size=64, progress=False) -> np.ndarray`` of shape
      ``(len(texts), dim)``, dtype float32, C-contiguous, rows L2-normalised (norm 1), in input
      order. ``batch_size`` bounds memory and never changes results beyond float tolerance
      (exact for fp32 up to ~1e-5; dynamic int8 quantisation picks activation scales per batch,
      so int8 rows agree to cosine ~0.99, ~0.96 for near-empty texts). Empty input returns shape
      ``(0, dim)``. ``progress`` shows a tqdm bar over batches.
    - ``encode_one(text) -> np.ndarray`` of shape ``(dim,)`` is the single-text wrapper.
    - ``encode_queries(texts)`` encodes search queries, to be matched against encoded items;
      it is :meth:`encode` except for models with separate query and document forms.
    - Encoders are deterministic: the same text always gives the same vector.
    - Heavy models load lazily on first use; constructing an encoder does no IO.

    Subclasses implement :meth:`_encode_batch` (one batch of texts -> raw vectors) and the
    ``dim``, ``name`` and ``fingerprint`` properties; :meth:`encode` handles ordering, batching,
    normalisation and the progress bar. Texts are batched in order of length so that batches
    carry little padding; the output is put back in input order. Under a distributed engine
    (:func:`shoprec._runtime.use_engine`) the same batches are encoded on its workers, each
    with its own encoder built by ``batch_factory`` (set by :func:`create_encoder`).
    """

    batch_factory: Callable[[], Callable[[list[str]], np.ndarray]] | None = None

    @property
    @abstractmethod
    def dim(self) -> int:
        """Size of each vector."""

    @property
    @abstractmethod
    def name(self) -> str:
        """Short label for logs and reports."""

    @property
    @abstractmethod
    def fingerprint(self) -> str:
        """Identifier that changes whenever the encoder's outputs would change."""

    @abstractmethod
    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        """Raw (not necessarily normalised) vectors of one batch, shape ``(len(texts), dim)``."""

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False
    ) -> np.ndarray:
        """Encode ``texts`` into an ``(n, dim)`` float32 array of L2-normalised rows.

        Parameters
        ----------
        texts
            The texts, any sequence of ``str`` (a bare ``str`` is refused: wrap it in a list or
            call :meth:`encode_one`).
        batch_size
            Texts per model call.
        progress
            Show a tqdm progress bar over batches.

        Returns
        -------
        numpy.ndarray
            Shape ``(len(texts), dim)``, float32, rows in input order.
        """
        texts = _check_texts(texts)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        batches = list(_length_sorted_batches(texts, batch_size))
        engine = current_engine()
        if engine.distributed and self.batch_factory is not None and len(batches) > 1:
            # the same batches as here, so the vectors are the same bit for bit
            parts = engine.map_batches(self.batch_factory, [[texts[i] for i in b] for b in batches])
            for index, part in zip(batches, parts, strict=True):
                out[index] = part
            return l2_normalize(out)
        bar = _progress(len(texts), f"encoding ({self.name})", enabled=progress)
        try:
            for index in batches:
                out[index] = self.encode_batch([texts[i] for i in index])
                bar.update(len(index))
        finally:
            bar.close()
        return l2_normalize(out)

    def encode_batch(self, texts: list[str]) -> np.ndarray:
        """Un-normalised vectors of one batch, ``(len(texts), dim)`` (what :meth:`encode` runs
        per batch; engines call it on their workers)."""
        return np.asarray(self._encode_batch(texts), dtype=np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Encode search queries, shape ``(len(texts), dim)``: the same as :meth:`encode` unless
        the model was trained to embed queries differently from documents (E5's prefixes)."""
        return self.encode(texts)

    def encode_one(self, text: str) -> np.ndarray:
        """Encode one text; shape ``(dim,)``, float32, unit norm."""
        if not isinstance(text, str):
            raise TypeError(f"text must be str, got {type(text).__name__}")
        return self.encode([text], batch_size=1)[0]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dim={self.dim}, fingerprint={self.fingerprint!r})"


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows of ``vectors`` scaled to unit L2 norm as float32 (all-zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, _NORM_EPS), dtype=np.float32)


def file_sha256(path: str | Path) -> str:
    """SHA-256 hex digest of a file, memoised per (path, size, modification time)."""
    path = Path(path).resolve()
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    digest = _SHA_CACHE.get(key)
    if digest is None:
        sha = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(_HASH_CHUNK):
                sha.update(chunk)
        digest = _SHA_CACHE[key] = sha.hexdigest()
        logger.debug("sha256 of %s: %s", path, digest)
    return digest


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of str, not a str; use encode_one for one text")
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] must be str, got {type(text).__name__}")
    return texts


def _length_sorted_batches(texts: list[str], batch_size: int) -> Iterator[np.ndarray]:
    """Index arrays of consecutive batches, longest texts first (stable for equal lengths)."""
    order = np.argsort([-len(t) for t in texts], kind="stable")
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


class _Bar(Protocol):
    def update(self, n: int) -> object: ...

    def close(self) -> object: ...


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, desc: str, *, enabled: bool) -> _Bar:
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    bar: _Bar = tqdm(total=total, desc=desc, unit="text")
    return bar
