"""The CTR ranker for serving: ONNX export (LoRA merged, fused, int8) and an onnxruntime scorer.

An exported ranker is a directory::

    model.onnx        fp32 graph: (input_ids, attention_mask, token_type_ids) -> logit (batch,)
    model.int8.onnx   the same with int8 weights (dynamic quantisation, per channel)
    tokenizer.json    the ranker's ``tokenizers`` file (pairs: [CLS] context [SEP] item [SEP])
    manifest.json     format, calibration, max_length, padding, files and their hashes

:class:`OnnxCTRRanker` needs only onnxruntime and ``tokenizers``: no torch, no transformers, no
peft. LoRA adapters are merged into the base weights before export (``W + B A * alpha / r``), so
the served graph is a plain BERT that onnxruntime can fuse.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shoprec._artifacts import atomic_directory, read_manifest
from shoprec.ranking._calibration import sigmoid
from shoprec.ranking._pairs import check_pairs
from shoprec.text import file_entries, verify_files, write_graphs

if TYPE_CHECKING:
    from shoprec.ranking._ctr_ranker import CTRRanker

__all__ = ["CTR_ONNX_FORMAT", "OnnxCTRRanker", "export_ctr_onnx"]

logger = logging.getLogger(__name__)

CTR_ONNX_FORMAT = "shoprec-ctr-onnx/1"
_MANIFEST = "manifest.json"
_FP32 = "model.onnx"
_INT8 = "model.int8.onnx"
_TOKENIZER = "tokenizer.json"
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_OPSET = 17
_BATCH = 64


def export_ctr_onnx(
    ranker: CTRRanker, out_dir: str | Path, *, quantize: bool = True, fuse: bool = True
) -> Path:
    """Export a fitted :class:`~shoprec.models.CTRRanker` to an ONNX directory, atomically.

    The ranker itself is left untouched (adapters are merged into a copy).

    Parameters
    ----------
    ranker
        A fitted ranker in any mode.
    out_dir
        Target directory; an existing export there is replaced only once the new one is complete.
    quantize
        Also write ``model.int8.onnx``.
    fuse
        Fuse attention, layer norms and GELU with onnxruntime's BERT optimizer first.

    Returns
    -------
    pathlib.Path
        ``out_dir``.
    """
    from shoprec.nn import merged_copy  # torch: only when exporting

    ranker._check_fitted()
    network = merged_copy(ranker.network_)
    config: Any = network.encoder.config
    with atomic_directory(out_dir) as tmp:
        fused = write_graphs(
            tmp, lambda raw: _export_graph(network, ranker, raw), config,
            fp32=_FP32, int8=_INT8, fuse=fuse, quantize=quantize,
        )  # fmt: skip
        ranker.tokenizer_.backend_tokenizer.save(str(tmp / _TOKENIZER))
        files = file_entries(tmp)
        manifest = {
            "format": CTR_ONNX_FORMAT,
            "params": ranker.get_params(),
            "calibration": list(ranker.calibration_),
            "max_length": ranker.max_length,
            "pad_id": ranker.tokenizer_.pad_token_id,
            "pad_token": ranker.tokenizer_.pad_token,
            "opset": _OPSET,
            "fused_operators": fused,
            "files": files,
            "quantization": {"file": _INT8, "per_channel": True} if quantize else None,
            "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        (tmp / _MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    logger.info("exported the CTR ranker (%s) to %s", ranker.mode, out_dir)
    return Path(out_dir)


class OnnxCTRRanker:
    """Serving-time CTR ranker on an export from :func:`export_ctr_onnx`.

    The same scoring interface as :class:`~shoprec.models.CTRRanker`
    (:meth:`decision_function`, :meth:`predict_proba`), with onnxruntime and ``tokenizers``
    only. Loads lazily on first use.

    Parameters
    ----------
    path
        The export directory.
    quantized
        Run the int8 graph (default) rather than fp32.
    num_threads
        onnxruntime intra-op threads (``None``: all cores).

    Raises
    ------
    shoprec.exceptions.ArtifactError
        On first use, when the manifest or a file it lists is missing, of an unknown format, or
        does not match its SHA-256.
    """

    def __init__(
        self, path: str | Path, *, quantized: bool = True, num_threads: int | None = None
    ) -> None:
        self.path = path
        self.quantized = quantized
        self.num_threads = num_threads
        self._session: Any = None
        self._tokenizer: Any = None
        self._manifest: dict[str, Any] = {}

    def save(self, path: str | Path) -> Path:
        """Copy the export to the new directory ``path`` (the :class:`Scorer` contract)."""
        shutil.copytree(self.path, path)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> OnnxCTRRanker:
        """The ranker on the export at ``path``, opened lazily (checked on first use)."""
        return cls(path)

    @property
    def calibration(self) -> tuple[float, float]:
        """Platt's ``(a, b)`` from the export."""
        self._load()
        a, b = self._manifest["calibration"]
        return float(a), float(b)

    def decision_function(self, contexts: Sequence[str], candidates: Sequence[str]) -> np.ndarray:
        """Uncalibrated logits ``(n,)`` float32 of the ``n`` (context, candidate) pairs."""
        check_pairs(contexts, candidates, None, "predict")
        self._load()
        out = [
            self._run(contexts[lo : lo + _BATCH], candidates[lo : lo + _BATCH])
            for lo in range(0, len(contexts), _BATCH)
        ]
        return np.concatenate(out) if out else np.empty(0, dtype=np.float32)

    def predict_proba(self, contexts: Sequence[str], candidates: Sequence[str]) -> np.ndarray:
        """Calibrated click/purchase probabilities ``(n,)`` float32."""
        logits = self.decision_function(contexts, candidates).astype(np.float64)
        a, b = self.calibration
        return sigmoid(a * logits + b).astype(np.float32)

    def predict_proba_one(self, context: str, candidate: str) -> float:
        """Single-pair form of :meth:`predict_proba`."""
        return float(self.predict_proba([context], [candidate])[0])

    def _run(self, contexts: Sequence[str], candidates: Sequence[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(list(zip(contexts, candidates, strict=True)))
        feed = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        (logits,) = self._session.run(["logit"], feed)
        return np.asarray(logits, dtype=np.float32).reshape(-1)

    def _load(self) -> None:
        if self._session is not None:
            return
        import onnxruntime as ort
        from tokenizers import Tokenizer

        root = Path(self.path)
        self._manifest = manifest = read_manifest(
            root / _MANIFEST, CTR_ONNX_FORMAT, what="a CTR ranker export",
            required=("calibration", "max_length", "pad_id", "pad_token", "files"),
        )  # fmt: skip
        name = _INT8 if self.quantized else _FP32
        verify_files(root, manifest["files"], (name, _TOKENIZER), what="CTR ranker export")
        tokenizer = Tokenizer.from_file(str(root / _TOKENIZER))
        tokenizer.enable_truncation(int(manifest["max_length"]), strategy="longest_first")
        tokenizer.enable_padding(pad_id=int(manifest["pad_id"]), pad_token=manifest["pad_token"])
        options = ort.SessionOptions()
        options.inter_op_num_threads = 1
        if self.num_threads is not None:
            options.intra_op_num_threads = self.num_threads
        self._session = ort.InferenceSession(
            str(root / name), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = tokenizer


def _export_graph(network: Any, ranker: CTRRanker, path: Path) -> None:
    import warnings

    import torch

    encoder = network.encoder
    if hasattr(encoder, "set_attn_implementation"):  # the fuser recognises eager attention
        encoder.set_attn_implementation("eager")
    sample = ranker._tokenize(["a user who likes tea"], ["green tea, 100 bags"])
    inputs = tuple(sample.get(n, torch.zeros_like(sample["input_ids"])) for n in _INPUTS)
    axes = {n: {0: "batch", 1: "sequence"} for n in _INPUTS}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about constant shapes are expected
        torch.onnx.export(
            network,
            inputs,
            str(path),
            dynamo=False,
            opset_version=_OPSET,
            input_names=list(_INPUTS),
            output_names=["logit"],
            dynamic_axes={**axes, "logit": {0: "batch"}},
        )
