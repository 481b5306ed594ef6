"""Text: the TextEncoder contract and its encoders, catalog item text, cached catalog encoding."""

from __future__ import annotations

from shoprec.text.catalog_cache import encode_cached, encode_catalog
from shoprec.text.encoder import TextEncoder, file_sha256, l2_normalize
from shoprec.text.hashing import HashingEncoder
from shoprec.text.item_text import (
    ABSOLUTE_PRICE_EDGES,
    PRICE_BANDS,
    item_text,
    item_texts,
    price_bands,
)
from shoprec.text.minilm import MiniLMEncoder, default_model_path
from shoprec.text.onnx_encoder import ONNX_FORMAT, OnnxEncoder, cached_onnx_encoder, export_onnx

__all__ = [
    "ABSOLUTE_PRICE_EDGES",
    "ONNX_FORMAT",
    "PRICE_BANDS",
    "HashingEncoder",
    "MiniLMEncoder",
    "OnnxEncoder",
    "TextEncoder",
    "cached_onnx_encoder",
    "default_model_path",
    "encode_cached",
    "encode_catalog",
    "export_onnx",
    "file_sha256",
    "item_text",
    "item_texts",
    "l2_normalize",
    "price_bands",
]
