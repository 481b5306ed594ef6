"""Encoding a catalog's item texts with an on-disk cache, so only new or changed items are encoded.

Cache layout, one pair of files per encoder fingerprint under ``cache_dir``::

    <encoder name>-<sha256(fingerprint)[:16]>.npz    keys: (m,) SHA-256 hex of each text,
                                                   vectors: (m, dim) float32
    <encoder name>-<sha256(fingerprint)[:16]>.json   format, fingerprint, encoder, dim, count

Both are written to a temporary file and renamed into place (the ``.npz`` first), so a crash
never leaves a torn cache; a cache that fails to load or disagrees with its index is ignored and
rewritten. The cache only grows: entries of texts no longer in the catalog stay.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import numpy as np

from shoprec.data import Catalog
from shoprec.text._encoder import TextEncoder
from shoprec.text._item_text import item_texts

__all__ = ["encode_cached", "encode_catalog"]

logger = logging.getLogger(__name__)

_FORMAT = "shoprec.text-cache/1"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def encode_catalog(
    catalog: Catalog,
    encoder: TextEncoder,
    *,
    cache_dir: str | Path | None = None,
    batch_size: int = 64,
    progress: bool = False,
) -> np.ndarray:
    """Vectors of the catalog's item texts (:func:`shoprec.text.item_texts`), in catalog order.

    Parameters
    ----------
    catalog
        The items.
    encoder
        Any :class:`~shoprec.text.TextEncoder`.
    cache_dir
        Directory of the vector cache (created if needed); ``None`` encodes everything.
    batch_size, progress
        Passed to ``encoder.encode``.

    Returns
    -------
    numpy.ndarray
        Shape ``(len(catalog), encoder.dim)``, float32, unit rows.
    """
    return encode_cached(
        item_texts(catalog),
        encoder,
        cache_dir=cache_dir,
        batch_size=batch_size,
        progress=progress,
    )


def encode_cached(
    texts: Sequence[str],
    encoder: TextEncoder,
    *,
    cache_dir: str | Path | None = None,
    batch_size: int = 64,
    progress: bool = False,
) -> np.ndarray:
    """``encoder.encode(texts)`` through the cache: each distinct text is encoded at most once.

    The cache maps the SHA-256 of a text to its vector, per encoder fingerprint; see the module
    docstring. Logs how many distinct texts were reused and how many encoded.
    """
    texts = list(texts)
    keys = [hashlib.sha256(text.encode("utf-8")).hexdigest() for text in texts]
    text_of = dict(zip(keys, texts, strict=True))  # distinct texts in first-appearance order
    fingerprint = encoder.fingerprint  # once: some encoders hash weights to compute it
    stem = _stem(encoder.name, fingerprint)
    cached_keys, cached_vectors = (
        _load(Path(cache_dir), stem, fingerprint, encoder.dim)
        if cache_dir is not None
        else ([], np.zeros((0, encoder.dim), dtype=np.float32))
    )
    row_of = {key: row for row, key in enumerate(cached_keys)}
    missing = [key for key in text_of if key not in row_of]
    fresh = encoder.encode(
        [text_of[key] for key in missing], batch_size=batch_size, progress=progress
    )
    logger.info(
        "%s: %d distinct texts, %d reused from cache, %d encoded",
        encoder.name,
        len(text_of),
        len(text_of) - len(missing),
        len(missing),
    )
    all_keys = cached_keys + missing
    all_vectors = np.concatenate([cached_vectors, fresh]) if missing else cached_vectors
    if cache_dir is not None and missing:
        _save(Path(cache_dir), stem, fingerprint, encoder.name, all_keys, all_vectors)
    row_of.update({key: len(cached_keys) + i for i, key in enumerate(missing)})
    rows = np.fromiter((row_of[key] for key in keys), dtype=np.int64, count=len(keys))
    return np.ascontiguousarray(all_vectors[rows], dtype=np.float32)


def _stem(name: str, fingerprint: str) -> str:
    return f"{_UNSAFE.sub('_', name)}-{hashlib.sha256(fingerprint.encode()).hexdigest()[:16]}"


def _load(cache_dir: Path, stem: str, fingerprint: str, dim: int) -> tuple[list[str], np.ndarray]:
    """Keys and vectors of the cache, or empty ones when it is absent or unusable."""
    empty: tuple[list[str], np.ndarray] = ([], np.zeros((0, dim), dtype=np.float32))
    index_file, vectors_file = cache_dir / f"{stem}.json", cache_dir / f"{stem}.npz"
    if not index_file.is_file() or not vectors_file.is_file():
        return empty
    try:
        index = json.loads(index_file.read_text())
        with np.load(vectors_file, allow_pickle=False) as data:
            keys, vectors = data["keys"].tolist(), data["vectors"]
    except (OSError, ValueError, KeyError) as error:
        logger.warning("ignoring unreadable text cache %s: %s", vectors_file, error)
        return empty
    problem = (
        "format" if index.get("format") != _FORMAT
        else "fingerprint" if index.get("fingerprint") != fingerprint
        else "shape" if vectors.shape != (len(keys), dim) or index.get("count") != len(keys)
        else None
    )  # fmt: skip
    if problem:
        logger.warning("ignoring text cache %s: %s mismatch", vectors_file, problem)
        return empty
    return keys, vectors.astype(np.float32, copy=False)


def _save(
    cache_dir: Path,
    stem: str,
    fingerprint: str,
    name: str,
    keys: list[str],
    vectors: np.ndarray,
) -> None:
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _atomic(cache_dir / f"{stem}.npz") as handle:
        np.savez(handle, keys=np.array(keys, dtype="<U64"), vectors=vectors)
    index = {
        "format": _FORMAT,
        "fingerprint": fingerprint,
        "encoder": name,
        "dim": int(vectors.shape[1]),
        "count": len(keys),
        "vectors_file": f"{stem}.npz",
        "updated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    with _atomic(cache_dir / f"{stem}.json") as handle:
        handle.write((json.dumps(index, indent=2) + "\n").encode())
    logger.debug("text cache %s now holds %d vectors", cache_dir / stem, len(keys))


@contextmanager
def _atomic(path: Path) -> Iterator[IO[bytes]]:
    """Write to a temporary file in the target's directory, then rename it over the target."""
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, then renamed
        dir=path.parent, prefix=f".{path.name}.", delete=False
    )
    try:
        with handle:
            yield handle
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
