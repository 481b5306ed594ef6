"""Text: encoders (MiniLM, ONNX, hashing), item text, cached encoding, keywords, sentiment."""

from __future__ import annotations

from shoprec.text.catalog_cache import encode_cached, encode_catalog
from shoprec.text.encoder import TextEncoder, file_sha256, l2_normalize
from shoprec.text.hashing import HashingEncoder
from shoprec.text.item_text import (
    ABSOLUTE_PRICE_EDGES,
    PRICE_BAND_QUANTILES,
    PRICE_BANDS,
    PriceBand,
    PriceBands,
    item_text,
    item_texts,
    price_bands,
)
from shoprec.text.keywords import (
    TOKEN_PATTERN,
    KeywordExtractor,
    catalog_texts,
    extract_keywords,
    item_tags,
    query_terms,
)
from shoprec.text.minilm import MiniLMEncoder, default_model_path, torch_threads
from shoprec.text.onnx_encoder import ONNX_FORMAT, OnnxEncoder, cached_onnx_encoder, export_onnx
from shoprec.text.onnx_graph import (
    atomic_directory,
    file_entries,
    fuse_bert_graph,
    quantize_int8,
    verify_files,
    write_graphs,
)
from shoprec.text.registry import ENCODERS, create_encoder, default_cache_dir, encode_texts
from shoprec.text.sentiment import (
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
    "OnnxEncoder",
    "PriceBand",
    "PriceBands",
    "SentimentLabel",
    "SentimentSource",
    "TextEncoder",
    "atomic_directory",
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
    "fuse_bert_graph",
    "item_sentiment",
    "item_tags",
    "item_text",
    "item_texts",
    "l2_normalize",
    "label_sentiment",
    "price_bands",
    "quantize_int8",
    "query_terms",
    "rating_to_sentiment",
    "sentiment_score",
    "sentiment_scores",
    "torch_threads",
    "user_sentiment",
    "verify_files",
    "write_graphs",
]
