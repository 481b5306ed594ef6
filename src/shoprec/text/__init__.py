"""Text: encoders (MiniLM, ONNX, multilingual E5, hashing), item text, cached encoding,
keywords, sentiment."""

from __future__ import annotations

from shoprec.text._catalog_cache import encode_cached, encode_catalog
from shoprec.text._e5 import MultilingualE5Encoder
from shoprec.text._encoder import TextEncoder, file_sha256, l2_normalize
from shoprec.text._hashing import HashingEncoder
from shoprec.text._item_text import (
    ABSOLUTE_PRICE_EDGES,
    PRICE_BAND_QUANTILES,
    PRICE_BANDS,
    PriceBand,
    PriceBands,
    item_text,
    item_texts,
    price_bands,
)
from shoprec.text._keywords import (
    TOKEN_PATTERN,
    KeywordExtractor,
    catalog_texts,
    extract_keywords,
    item_tags,
    query_terms,
    words,
)
from shoprec.text._minilm import MiniLMEncoder, default_model_path
from shoprec.text._onnx_encoder import ONNX_FORMAT, OnnxEncoder, cached_onnx_encoder, export_onnx
from shoprec.text._onnx_graph import file_entries, verify_files, write_graphs
from shoprec.text._registry import ENCODERS, create_encoder, default_cache_dir, encode_texts
from shoprec.text._sentiment import (
    DEFAULT_RATING_SCALE,
    NEGATIVE_THRESHOLD,
    POSITIVE_THRESHOLD,
    SentimentLabel,
    SentimentSource,
    event_sentiments,
    item_sentiment,
    label_sentiment,
    rating_to_sentiment,
    sentiment_score,
    sentiment_scores,
    user_sentiment,
)

__all__ = [
    "ABSOLUTE_PRICE_EDGES",
    "DEFAULT_RATING_SCALE",
    "ENCODERS",
    "NEGATIVE_THRESHOLD",
    "ONNX_FORMAT",
    "POSITIVE_THRESHOLD",
    "PRICE_BANDS",
    "PRICE_BAND_QUANTILES",
    "TOKEN_PATTERN",
    "HashingEncoder",
    "KeywordExtractor",
    "MiniLMEncoder",
    "MultilingualE5Encoder",
    "OnnxEncoder",
    "PriceBand",
    "PriceBands",
    "SentimentLabel",
    "SentimentSource",
    "TextEncoder",
    "cached_onnx_encoder",
    "catalog_texts",
    "create_encoder",
    "default_cache_dir",
    "default_model_path",
    "encode_cached",
    "encode_catalog",
    "encode_texts",
    "event_sentiments",
    "export_onnx",
    "extract_keywords",
    "file_entries",
    "file_sha256",
    "item_sentiment",
    "item_tags",
    "item_text",
    "item_texts",
    "l2_normalize",
    "label_sentiment",
    "price_bands",
    "query_terms",
    "rating_to_sentiment",
    "sentiment_score",
    "sentiment_scores",
    "user_sentiment",
    "verify_files",
    "words",
    "write_graphs",
]
