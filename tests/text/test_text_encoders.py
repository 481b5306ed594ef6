"""TextEncoder contract suite over every encoder, plus encoder-specific behaviour.

HashingEncoder runs always. The real MiniLM is loaded once per session by a fast fixture (a few
seconds) for a semantic sanity check; the rest of the MiniLM and all ONNX checks are slow.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from shoprec.exceptions import ArtifactError
from shoprec.text import (
    ONNX_FORMAT,
    HashingEncoder,
    MiniLMEncoder,
    MultilingualE5Encoder,
    OnnxEncoder,
    TextEncoder,
    cached_onnx_encoder,
    default_model_path,
    export_onnx,
)
from shoprec.text import _onnx_encoder as onnx_module

TEXTS = [
    "Sony WH-1000XM4 Wireless Noise Cancelling Headphones, black",
    "Apple AirPods Pro bluetooth earbuds",
    "Flexible garden hose, 50 ft, green",
    "USB-C to Lightning cable 2m",
    "",
    "Logitech MX Master 3 wireless mouse. Brand: Logitech. Category: Computers > Mice. "
    "Price: premium.",
    "Café crème — naïve façade 日本語",
]
PRODUCT_TEXTS = [t for t in TEXTS if t]


# -- encoders under test ---------------------------------------------------------------------------
@pytest.fixture(scope="session")
def minilm() -> MiniLMEncoder:
    """The real pretrained MiniLM, loaded once per test session."""
    encoder = MiniLMEncoder(num_threads=2)
    encoder.model  # noqa: B018 - load now, so tests time their own work only
    return encoder


@pytest.fixture(scope="session")
def onnx_export(minilm: MiniLMEncoder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx(minilm, tmp_path_factory.mktemp("onnx") / "minilm")


ENCODERS = {
    "hashing": lambda request: HashingEncoder(dim=128),
    "hashing_chars": lambda request: HashingEncoder(dim=512, char_ngrams=(3, 4), bigrams=False),
    "minilm": lambda request: request.getfixturevalue("minilm"),
    "onnx_int8": lambda request: OnnxEncoder(request.getfixturevalue("onnx_export"), num_threads=2),
    "onnx_fp32": lambda request: OnnxEncoder(
        request.getfixturevalue("onnx_export"), quantized=False, num_threads=2
    ),
    "multilingual": lambda request: MultilingualE5Encoder(),  # loads in ~0.05 s
}
SLOW = {"minilm", "onnx_int8", "onnx_fp32"}


@pytest.fixture(
    params=[
        pytest.param(name, marks=[pytest.mark.slow] if name in SLOW else []) for name in ENCODERS
    ]
)
def encoder(request: pytest.FixtureRequest) -> TextEncoder:
    return ENCODERS[request.param](request)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


# -- the contract ----------------------------------------------------------------------------------
def test_shape_dtype_and_unit_rows(encoder: TextEncoder) -> None:
    vectors = encoder.encode(TEXTS, batch_size=3)
    assert vectors.shape == (len(TEXTS), encoder.dim)
    assert vectors.dtype == np.float32
    assert vectors.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_empty_input_gives_zero_rows(encoder: TextEncoder) -> None:
    assert encoder.encode([]).shape == (0, encoder.dim)
    assert encoder.encode([]).dtype == np.float32


def test_batch_equals_single(encoder: TextEncoder) -> None:
    batch = encoder.encode(TEXTS)
    single = np.stack([encoder.encode_one(text) for text in TEXTS])
    if encoder.name == "onnx-int8":
        # Dynamic quantisation picks activation scales per batch: close, not equal; the
        # near-empty text (two special tokens) is the most sensitive.
        cosines = _cosines(batch, single)
        assert np.delete(cosines, TEXTS.index("")).min() >= 0.98
        assert cosines[TEXTS.index("")] >= 0.95
    else:
        np.testing.assert_allclose(batch, single, atol=1e-5)


def test_order_and_batch_size_do_not_change_vectors(encoder: TextEncoder) -> None:
    forward = encoder.encode(PRODUCT_TEXTS, batch_size=64)
    backward = encoder.encode(PRODUCT_TEXTS[::-1], batch_size=2)[::-1]
    if encoder.name == "onnx-int8":
        assert _cosines(forward, backward).min() >= 0.98
    else:
        np.testing.assert_allclose(forward, backward, atol=1e-5)


def test_deterministic(encoder: TextEncoder) -> None:
    np.testing.assert_array_equal(encoder.encode(TEXTS), encoder.encode(TEXTS))
    assert encoder.fingerprint == encoder.fingerprint


def test_refuses_bare_string_and_non_text(encoder: TextEncoder) -> None:
    with pytest.raises(TypeError, match="encode_one"):
        encoder.encode("one text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        encoder.encode(["ok", 3])  # type: ignore[list-item]


# -- HashingEncoder --------------------------------------------------------------------------------
def test_hashing_known_similarity() -> None:
    # Features: {wool, scarf, "wool scarf"} vs {red, wool, scarf, "red wool", "wool scarf"}:
    # 3 shared of 3 and 5, so cosine 3 / sqrt(15) when no buckets collide (true for dim 4096).
    encoder = HashingEncoder(dim=4096)
    a, b, c = encoder.encode(["wool scarf", "Red WOOL scarf!", "garden hose"])
    assert a @ b == pytest.approx(3 / np.sqrt(15), abs=1e-6)
    assert a @ c == pytest.approx(0.0, abs=1e-6)


def test_hashing_is_a_stable_blake2b_hash_not_pythons_salted_hash() -> None:
    encoder = HashingEncoder(dim=64, bigrams=False)
    digest = int.from_bytes(hashlib.blake2b(b"w:wool", digest_size=8).digest(), "little")
    expected = np.zeros(64, dtype=np.float32)
    expected[digest % 64] = 1.0 if digest >> 63 else -1.0
    np.testing.assert_array_equal(encoder.encode_one("wool"), expected)


def test_hashing_char_ngrams_match_word_variants() -> None:
    words_only = HashingEncoder(dim=2048, bigrams=False)
    with_chars = HashingEncoder(dim=2048, bigrams=False, char_ngrams=(3, 4))
    assert words_only.encode_one("headphone") @ words_only.encode_one("headphones") < 0.05
    # 15 of the 17 / 19 padded 3- and 4-grams are shared: char-block cosine 15 / sqrt(17 * 19).
    expected = 15 / np.sqrt(17 * 19) / 2  # the unshared word features hold half of each norm
    similarity = with_chars.encode_one("headphone") @ with_chars.encode_one("headphones")
    assert similarity == pytest.approx(expected, abs=0.02)


def test_hashing_fingerprint_tracks_parameters() -> None:
    fingerprints = {
        HashingEncoder().fingerprint,
        HashingEncoder(dim=128).fingerprint,
        HashingEncoder(bigrams=False).fingerprint,
        HashingEncoder(char_ngrams=(3, 5)).fingerprint,
        HashingEncoder(char_ngrams=(3, 5), char_weight=0.5).fingerprint,
    }
    assert len(fingerprints) == 5
    assert HashingEncoder(dim=128).fingerprint == HashingEncoder(dim=128).fingerprint


def test_hashing_rejects_bad_parameters_on_use() -> None:
    with pytest.raises(ValueError, match="dim"):
        HashingEncoder(dim=0).encode(["x"])
    with pytest.raises(ValueError, match="char_ngrams"):
        HashingEncoder(char_ngrams=(4, 2)).encode(["x"])


# -- MiniLM: fast checks (one model load per session) ----------------------------------------------
def test_minilm_semantic_sanity(minilm: MiniLMEncoder) -> None:
    query, near, far = minilm.encode(
        ["wireless headphones", "bluetooth earbuds", "garden hose"], batch_size=2
    )
    assert query @ near > query @ far + 0.3
    assert minilm.dim == 384


def test_minilm_config_and_fingerprint(minilm: MiniLMEncoder) -> None:
    assert minilm.pooling == ("mean", True, 384)  # from 1_Pooling/config.json and modules.json
    weights = default_model_path() / "model.safetensors"
    assert minilm.model_sha256 == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert minilm.model_sha256[:16] in minilm.fingerprint
    other = MiniLMEncoder(max_length=64)
    assert other.fingerprint != minilm.fingerprint  # no model load needed for that
    assert other._model is None


def test_minilm_is_lazy_and_names_a_missing_model(tmp_path: Path) -> None:
    encoder = MiniLMEncoder(tmp_path / "nowhere")  # no IO in __init__
    with pytest.raises(ArtifactError, match="nowhere"):
        encoder.encode(["x"])


def test_onnx_module_does_not_import_torch() -> None:
    code = (
        "import sys, shoprec.text._onnx_encoder, shoprec.text._minilm; "
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_onnx_encoder_refuses_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"manifest\.json is missing"):
        OnnxEncoder(tmp_path).encode(["x"])


def test_onnx_encoder_refuses_mismatched_manifest(tmp_path: Path) -> None:
    (tmp_path / "model.int8.onnx").write_bytes(b"not the exported graph")
    (tmp_path / "tokenizer.json").write_text("{}")
    manifest = {
        "format": ONNX_FORMAT,
        "dim": 384,
        "max_length": 128,
        "pooling": "mean",
        "normalize": True,
        "pad_id": 0,
        "pad_token": "[PAD]",
        "files": {
            "model.int8.onnx": {"sha256": "0" * 64, "bytes": 22},
            "tokenizer.json": {"sha256": hashlib.sha256(b"{}").hexdigest(), "bytes": 2},
        },
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match=r"model\.int8\.onnx does not match"):
        OnnxEncoder(tmp_path).encode(["x"])
    with pytest.raises(ArtifactError, match=r"lists no model\.onnx"):
        OnnxEncoder(tmp_path, quantized=False).encode(["x"])
    (tmp_path / "manifest.json").write_text(json.dumps({**manifest, "format": "other/9"}))
    with pytest.raises(ArtifactError, match=r"manifest\.json has format 'other/9'"):
        OnnxEncoder(tmp_path).encode(["x"])


# -- MiniLM and ONNX: slow checks ------------------------------------------------------------------
@pytest.mark.slow
def test_minilm_matches_sentence_transformers(minilm: MiniLMEncoder) -> None:
    from sentence_transformers import SentenceTransformer  # independent reference, slow import

    reference = SentenceTransformer(str(default_model_path()), device="cpu")
    reference.max_seq_length = minilm.max_length
    expected = reference.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    assert _cosines(minilm.encode(TEXTS), expected).min() > 0.9999


@pytest.mark.slow
def test_minilm_embed_is_differentiable_and_training_changes_fingerprint() -> None:
    import torch

    encoder = MiniLMEncoder()
    before = encoder.fingerprint
    batch = encoder.tokenize(["wireless headphones", "garden hose"])
    assert set(batch) >= {"input_ids", "attention_mask"}
    embeddings = encoder.embed(batch)
    assert embeddings.shape == (2, 384) and embeddings.requires_grad
    (embeddings[0] @ embeddings[1]).backward()
    assert encoder.fingerprint == before  # gradients alone change nothing
    torch.optim.SGD(encoder.model.parameters(), lr=1e-3).step()
    assert encoder.fingerprint != before  # live weights are hashed once they changed


@pytest.mark.slow
def test_onnx_export_manifest_and_int8_agreement(minilm: MiniLMEncoder, onnx_export: Path) -> None:
    manifest = json.loads((onnx_export / "manifest.json").read_text())
    assert manifest["format"] == ONNX_FORMAT
    assert manifest["opset"] == 17
    assert manifest["source"]["model_sha256"] == minilm.model_sha256
    assert manifest["source"]["fingerprint"] == minilm.fingerprint
    assert manifest["quantization"]["per_channel"] is True
    for name in ("model.onnx", "model.int8.onnx", "tokenizer.json"):
        digest = hashlib.sha256((onnx_export / name).read_bytes()).hexdigest()
        assert manifest["files"][name]["sha256"] == digest
    assert not [p for p in onnx_export.parent.iterdir() if p.name.startswith(".")]  # no temp dirs

    reference = minilm.encode(PRODUCT_TEXTS)
    fp32 = OnnxEncoder(onnx_export, quantized=False).encode(PRODUCT_TEXTS)
    int8 = OnnxEncoder(onnx_export).encode(PRODUCT_TEXTS)
    assert _cosines(fp32, reference).min() > 0.9999
    assert _cosines(int8, fp32).min() >= 0.98
    assert (
        OnnxEncoder(onnx_export).fingerprint
        != OnnxEncoder(onnx_export, quantized=False).fingerprint
    )


@pytest.mark.slow
def test_cached_onnx_encoder_exports_only_when_the_source_changes(
    minilm: MiniLMEncoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []
    real_export = onnx_module.export_onnx

    def counting_export(encoder: MiniLMEncoder, out_dir: Path, *, quantize: bool = True) -> Path:
        calls.append(Path(out_dir))
        return real_export(encoder, out_dir, quantize=quantize)

    monkeypatch.setattr(onnx_module, "export_onnx", counting_export)
    first = cached_onnx_encoder(tmp_path, minilm)
    second = cached_onnx_encoder(tmp_path, minilm, quantized=False)
    assert len(calls) == 1 and Path(first.path) == Path(second.path)
    np.testing.assert_allclose(
        second.encode(PRODUCT_TEXTS), minilm.encode(PRODUCT_TEXTS), atol=1e-4
    )

    manifest_file = Path(first.path) / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    manifest["source"]["fingerprint"] = "minilm:weights=stale"
    manifest_file.write_text(json.dumps(manifest))
    cached_onnx_encoder(tmp_path, minilm)
    assert len(calls) == 2
