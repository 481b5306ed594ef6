"""A deterministic, model-free TextEncoder: hashed word (and character) n-grams.

The feature-hashing trick (Weinberger et al., 2009, "Feature Hashing for Large Scale Multitask
Learning"): every n-gram is hashed into one of ``dim`` buckets with a pseudo-random sign, so
collisions cancel out on average. Texts that share words get a positive cosine; texts without
shared features are near-orthogonal. Fast and dependency-free: the encoder of the fast tests.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from functools import lru_cache

import numpy as np

from shoprec.text._encoder import TextEncoder

__all__ = ["HashingEncoder"]

_WORD = re.compile(r"\w+")
_EMPTY_FEATURE = "\x00empty"  # gives texts without any word a fixed unit vector
_FORMAT_VERSION = 1  # bump when tokenisation or hashing changes


@lru_cache(maxsize=1 << 16)
def _bucket(feature: str, dim: int) -> tuple[int, float]:
    """Stable (bucket, sign) of a feature; blake2b, never Python's per-process salted hash()."""
    digest = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little")
    return digest % dim, (1.0 if (digest >> 63) & 1 else -1.0)


class HashingEncoder(TextEncoder):
    """Lower-cased word unigrams, word bigrams and optional character n-grams, hashed.

    Parameters
    ----------
    dim
        Number of hash buckets, the vector size.
    bigrams
        Also hash adjacent word pairs (word order then matters a little).
    char_ngrams
        ``(min_n, max_n)`` to also hash character n-grams of each word (padded with spaces), which
        makes ``"headphone"`` and ``"headphones"`` similar; ``None`` for words only.
    char_weight
        Weight (L2 norm) of a word's character n-grams together, relative to the word itself.

    Examples
    --------
    >>> enc = HashingEncoder(dim=64)
    >>> a, b, c = enc.encode(["red wool scarf", "wool scarf", "garden hose"])
    >>> bool(a @ b > a @ c)
    True
    """

    def __init__(
        self,
        *,
        dim: int = 256,
        bigrams: bool = True,
        char_ngrams: tuple[int, int] | None = None,
        char_weight: float = 1.0,
    ) -> None:
        self._dim = dim
        self.bigrams = bigrams
        self.char_ngrams = char_ngrams
        self.char_weight = char_weight

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def name(self) -> str:
        return "hashing"

    @property
    def fingerprint(self) -> str:
        chars = "none" if self.char_ngrams is None else "-".join(map(str, self.char_ngrams))
        return (
            f"hashing/v{_FORMAT_VERSION}:dim={self._dim}:bigrams={int(self.bigrams)}"
            f":chars={chars}:char_weight={self.char_weight:g}"
        )

    def _check_params(self) -> None:
        if not isinstance(self._dim, int) or self._dim < 1:
            raise ValueError(f"dim must be a positive int, got {self._dim!r}")
        if self.char_ngrams is not None:
            low, high = self.char_ngrams
            if not 1 <= low <= high:
                raise ValueError(f"char_ngrams must satisfy 1 <= min_n <= max_n, got {low, high}")

    def features(self, text: str) -> dict[str, float]:
        """The weighted n-gram features of one text (before hashing); useful for debugging."""
        words = _WORD.findall(text.lower())
        feats: dict[str, float] = {}
        for word in words:
            feats["w:" + word] = feats.get("w:" + word, 0.0) + 1.0
        if self.bigrams:
            for left, right in itertools.pairwise(words):
                key = f"b:{left} {right}"
                feats[key] = feats.get(key, 0.0) + 1.0
        if self.char_ngrams is not None:
            low, high = self.char_ngrams
            for word in words:
                grams = _char_grams(f" {word} ", low, high)
                weight = self.char_weight / np.sqrt(
                    len(grams)
                )  # the word's grams: L2 norm = weight
                for gram in grams:
                    key = "c:" + gram
                    feats[key] = feats.get(key, 0.0) + weight
        return feats or {_EMPTY_FEATURE: 1.0}

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        self._check_params()
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature, weight in self.features(text).items():
                bucket, sign = _bucket(feature, self._dim)
                out[row, bucket] += sign * weight
        # Features can cancel exactly in a shared bucket; a zero row could not be normalised.
        bucket, sign = _bucket(_EMPTY_FEATURE, self._dim)
        out[~out.any(axis=1), bucket] = sign
        return out


def _char_grams(padded: str, low: int, high: int) -> list[str]:
    grams = [padded[i : i + n] for n in range(low, high + 1) for i in range(len(padded) - n + 1)]
    return grams or [padded]
