"""Second-stage CTR ranker: a cross-encoder over (user context text, candidate item text) pairs.

The user context is a short text built by :func:`user_context_text` from the user's portrait
summary and their most recent item titles; candidates are item texts
(:func:`shoprec.text._item_text`). :class:`CTRRanker` fine-tunes a BERT-style encoder (the bundled
all-MiniLM-L6-v2 by default) with a linear head on binary click/purchase labels, in one of three
modes trading quality for cost: ``frozen`` (head only), ``lora`` (peft adapters on the attention
query / value projections, plus the head) or ``full`` (every weight). Training pairs come from
:func:`mine_training_pairs`: each user's next item, hard negatives from retrieval and random
negatives. Scores are calibrated to probabilities by Platt scaling on the validation pairs.

The network is :class:`shoprec.nn._ctr_network.CTRNetwork`; the loop is
:func:`shoprec.nn._training.fit_model`. torch, transformers and peft are imported on first use.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self

import numpy as np

from shoprec._artifacts import read_manifest
from shoprec._runtime import torch_threads
from shoprec.exceptions import ArtifactError, NotFittedError, ParameterError
from shoprec.metrics import auc
from shoprec.ranking._calibration import platt_scaling, sigmoid
from shoprec.ranking._pairs import Pairs, check_pairs, hold_out_groups
from shoprec.text import MiniLMEncoder

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase

    from shoprec.nn import CTRNetwork, TrainConfig, TrainHistory

__all__ = ["CTRRanker"]

logger = logging.getLogger(__name__)

_FORMAT = "shoprec-ctr-ranker/1"
_MANIFEST = "manifest.json"
_WEIGHTS = "weights.safetensors"
_MODES = ("frozen", "lora", "full")
_LORA_TARGETS = ["query", "value"]  # BERT attention projection module names
_PREDICT_BATCH = 64


class CTRRanker:
    """Cross-encoder click/purchase probability of (user context, candidate item) text pairs.

    Parameters
    ----------
    model_path
        A transformers BERT-style model directory (``config.json``, weights, tokenizer files);
        ``None`` for the bundled all-MiniLM-L6-v2.
    mode
        ``"frozen"`` trains the head only, ``"lora"`` LoRA adapters on the attention query /
        value projections plus the head, ``"full"`` every weight.
    lora_r, lora_alpha, lora_dropout
        LoRA rank, scaling numerator (the update is scaled by ``alpha / r``) and dropout.
    max_length
        Pairs are truncated (longest side first) to this many tokens.
    lr, weight_decay
        AdamW peak learning rate (10% linear warm-up, then linear decay) and weight decay.
    batch_size, max_epochs, patience
        Pairs per step, epoch budget, and epochs without a better validation AUC before stopping
        (the best epoch's weights are kept).
    validation_fraction
        When ``fit`` gets ``groups`` but no ``validation``, this share of the groups (users) is
        held out for early stopping and calibration.
    calibration
        ``"platt"`` fits ``sigmoid(a * logit + b)`` on the validation pairs; ``"none"`` keeps
        ``sigmoid(logit)`` (also used when there are no validation pairs).
    random_state
        Seeds the head and adapter initialisation, dropout, shuffling and held-out groups.
    num_threads
        torch intra-op threads during fit and predict (``None``: torch's setting).
    progress
        Show progress bars while training.

    Attributes
    ----------
    network_ : CTRNetwork
        The fitted network (in eval mode).
    tokenizer_ : transformers tokenizer
        The encoder's tokenizer.
    calibration_ : tuple of (float, float)
        Platt's ``(a, b)``; ``(1.0, 0.0)`` when uncalibrated.
    history_ : TrainHistory
        Per-epoch training record (not saved).
    """

    def __init__(
        self,
        *,
        model_path: str | Path | None = None,
        mode: Literal["frozen", "lora", "full"] = "lora",
        lora_r: int = 8,
        lora_alpha: int = 16,
        lora_dropout: float = 0.0,
        max_length: int = 128,
        lr: float = 2e-4,
        weight_decay: float = 0.01,
        batch_size: int = 32,
        max_epochs: int = 3,
        patience: int | None = 1,
        validation_fraction: float = 0.1,
        calibration: Literal["platt", "none"] = "platt",
        random_state: int | None = 0,
        num_threads: int | None = None,
        progress: bool = False,
    ) -> None:
        self.model_path = model_path
        self.mode = mode
        self.lora_r = lora_r
        self.lora_alpha = lora_alpha
        self.lora_dropout = lora_dropout
        self.max_length = max_length
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.calibration = calibration
        self.random_state = random_state
        self.num_threads = num_threads
        self.progress = progress

    def get_params(self) -> dict[str, Any]:
        """The hyper-parameters as given (JSON-safe)."""
        params = dict(vars(self).items())
        params = {k: v for k, v in params.items() if not k.endswith("_") and not k.startswith("_")}
        params["model_path"] = None if self.model_path is None else str(self.model_path)
        return params

    # -- training ---------------------------------------------------------------------------------
    def fit(
        self,
        contexts: Sequence[str],
        candidates: Sequence[str],
        labels: np.ndarray,
        *,
        groups: np.ndarray | Sequence[str] | None = None,
        validation: Pairs | None = None,
        warm_start: CTRRanker | None = None,
    ) -> Self:
        """Fine-tune on labelled pairs with binary cross-entropy.

        Parameters
        ----------
        contexts, candidates
            User context texts and candidate item texts, ``n`` each.
        labels
            ``(n,)`` binary labels (1 = clicked / bought).
        groups
            ``(n,)`` user of each pair; without ``validation``, ``validation_fraction`` of the
            users are held out (whole users, so no user leaks into both sides).
        validation
            ``(contexts, candidates, labels)`` scored by AUC after every epoch for early
            stopping, then used to fit the calibration.
        warm_start
            A fitted ranker to start from instead of the pretrained language model: its encoder
            (LoRA adapters merged in) and its head; ``mode`` then says what trains on top
            (:mod:`shoprec.transfer._ranker` adapts rankers across shops this way).

        Returns
        -------
        CTRRanker
            ``self``, fitted.
        """
        from shoprec.nn import TrainConfig, fit_model

        self._check_params()
        train = check_pairs(contexts, candidates, labels, "training")
        if validation is None and groups is not None:
            train, validation = hold_out_groups(
                train, groups, fraction=self.validation_fraction, random_state=self.random_state
            )
        valid = None if validation is None else check_pairs(*validation, source="validation")
        with torch_threads(self.num_threads):
            self.tokenizer_, self.network_ = self._build(warm_start)
            config = TrainConfig(
                epochs=self.max_epochs, lr=self.lr, weight_decay=self.weight_decay,
                warmup_fraction=0.1, batch_size=self.batch_size,
                patience=self.patience if valid is not None else None,
                random_state=self.random_state,
            )  # fmt: skip
            if self.mode == "frozen":
                self.history_: TrainHistory = self._fit_head(train, valid, config)
            else:
                examples = list(zip(train[0], train[1], train[2].tolist(), strict=True))
                self.history_ = fit_model(
                    self.network_,
                    _bce_loss,
                    examples,
                    config,
                    collate=self._collate,
                    length=lambda ex: len(ex[0]) + len(ex[1]),
                    validate=None if valid is None else lambda _: self._validation_auc(valid),
                    progress=self.progress,
                )
            self.calibration_ = (1.0, 0.0)
            if valid is not None and self.calibration == "platt":
                self.calibration_ = platt_scaling(self._logits(valid[0], valid[1]), valid[2])
        logger.info(
            "CTRRanker(%s): %d trainable parameters, best epoch %s, calibration %s",
            self.mode, self.trainable_parameters(), self.history_.best_epoch, self.calibration_,
        )  # fmt: skip
        return self

    def _fit_head(self, train: Pairs, valid: Pairs | None, config: TrainConfig) -> TrainHistory:
        """Frozen mode: encode every pair once (the encoder never changes), then train the head
        on the pair vectors; epochs cost almost nothing after the first pass."""
        import torch

        from shoprec.nn import CTRHead, fit_model

        head = CTRHead(self.network_)
        features = self._pooled(train[0], train[1])
        examples = list(zip(features, train[2].tolist(), strict=True))

        def collate(batch: list[tuple[Any, int]]) -> tuple[Any, Any]:
            vectors, labels = zip(*batch, strict=True)
            return torch.stack(vectors), torch.tensor(labels, dtype=torch.float32)

        def loss(network: CTRHead, batch: tuple[Any, Any]) -> torch.Tensor:
            return torch.nn.functional.binary_cross_entropy_with_logits(network(batch[0]), batch[1])

        validate = None
        if valid is not None and valid[2].min() != valid[2].max():
            valid_features = self._pooled(valid[0], valid[1])

            def validate(network: CTRHead) -> float:
                with torch.inference_mode():
                    return auc(valid[2], network(valid_features).numpy())

        history = fit_model(head, loss, examples, config, collate=collate, validate=validate,
                            progress=self.progress)  # fmt: skip
        self.network_.eval()
        return history

    def _pooled(self, contexts: Sequence[str], candidates: Sequence[str]) -> torch.Tensor:
        """``(n, hidden)`` pair vectors from the (frozen, eval-mode) encoder."""
        import torch

        network = self.network_.eval()
        out = []
        with torch.inference_mode():
            for lo in range(0, len(contexts), _PREDICT_BATCH):
                tokens = self._tokenize(contexts[lo : lo + _PREDICT_BATCH],
                                        candidates[lo : lo + _PREDICT_BATCH])  # fmt: skip
                out.append(network.pool(**tokens))
        return torch.cat(out).clone()  # leaves inference mode: usable for training the head

    def _check_params(self) -> None:
        if self.mode not in _MODES:
            raise ParameterError(f"mode must be one of {_MODES}, got {self.mode!r}")
        if self.calibration not in ("platt", "none"):
            raise ParameterError(f"calibration must be 'platt' or 'none', got {self.calibration!r}")
        if not 0.0 < self.validation_fraction < 1.0:
            raise ParameterError(
                f"validation_fraction must be in (0, 1): {self.validation_fraction}"
            )

    def _build(
        self, warm_start: CTRRanker | None = None
    ) -> tuple[PreTrainedTokenizerBase, CTRNetwork]:
        """Load the pretrained encoder (or ``warm_start``'s), add the head (and adapters) and set
        what trains."""
        import torch

        from shoprec.nn import merged_copy

        model: torch.nn.Module
        if warm_start is None:
            encoder = MiniLMEncoder(self.model_path, max_length=self.max_length)
            tokenizer, model, head = encoder.tokenizer, encoder.model, None
        else:
            warm_start._check_fitted()
            start = merged_copy(warm_start.network_)
            tokenizer, model, head = warm_start.tokenizer_, start.encoder, start.head
        with torch.random.fork_rng(devices=[]):
            if self.random_state is not None:
                torch.manual_seed(self.random_state)
            network = self._assemble(model.train())
        if head is not None:
            network.head.load_state_dict(head.state_dict())
        return tokenizer, network

    def _assemble(self, model: torch.nn.Module) -> CTRNetwork:
        """Head (and LoRA adapters for ``mode="lora"``) around ``model``; freezes per mode."""
        from shoprec.nn import CTRNetwork

        if self.mode == "lora":
            from peft import LoraConfig, inject_adapter_in_model

            lora = LoraConfig(
                r=self.lora_r,
                lora_alpha=self.lora_alpha,
                lora_dropout=self.lora_dropout,
                target_modules=_LORA_TARGETS,
            )
            model = inject_adapter_in_model(lora, model)
        for name, parameter in model.named_parameters():
            parameter.requires_grad_(self.mode == "full" or "lora_" in name)
        config: Any = model.config
        hidden = int(config.hidden_size)
        return CTRNetwork(model, hidden)

    def _collate(self, batch: list[tuple[str, str, int]]) -> tuple[dict[str, Any], Any]:
        import torch

        contexts, items, labels = zip(*batch, strict=True)
        tokens = self._tokenize(contexts, items)
        return tokens, torch.tensor(labels, dtype=torch.float32)

    def _tokenize(self, contexts: Sequence[str], items: Sequence[str]) -> dict[str, Any]:
        batch = self.tokenizer_(
            list(contexts),
            list(items),
            padding=True,
            truncation="longest_first",
            max_length=self.max_length,
            return_tensors="pt",
        )
        return dict(batch)

    def _validation_auc(self, valid: Pairs) -> float:
        labels = valid[2]
        if labels.min() == labels.max():
            return 0.0  # one class only: AUC undefined, nothing to stop on

        return auc(labels, self._logits(valid[0], valid[1]))

    # -- inference --------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "network_"):
            raise NotFittedError("CTRRanker is not fitted; call fit(...) or load(...) first")

    def _logits(self, contexts: Sequence[str], candidates: Sequence[str]) -> np.ndarray:
        import torch

        network = self.network_
        was_training = network.training
        network.eval()
        out = []
        try:
            with torch.inference_mode():
                for lo in range(0, len(contexts), _PREDICT_BATCH):
                    hi = lo + _PREDICT_BATCH
                    tokens = self._tokenize(contexts[lo:hi], candidates[lo:hi])
                    out.append(network(**tokens).float().numpy())
        finally:
            network.train(was_training)
        return np.concatenate(out) if out else np.empty(0, dtype=np.float32)

    def decision_function(self, contexts: Sequence[str], candidates: Sequence[str]) -> np.ndarray:
        """Uncalibrated logits ``(n,)`` float32 of the pairs (higher = more likely)."""
        self._check_fitted()
        check_pairs(contexts, candidates, None, "predict")
        with torch_threads(self.num_threads):
            return self._logits(contexts, candidates).astype(np.float32)

    def predict_proba(self, contexts: Sequence[str], candidates: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities ``(n,)`` float32 in ``[0, 1]`` of the ``n`` pairs.

        Raises
        ------
        shoprec.exceptions.NotFittedError
            Before :meth:`fit` or :meth:`load`.
        """
        a, b = getattr(self, "calibration_", (1.0, 0.0))
        logits = self.decision_function(contexts, candidates).astype(np.float64)
        return sigmoid(a * logits + b).astype(np.float32)

    def predict_proba_one(self, context: str, candidate: str) -> float:
        """Single-pair form of :meth:`predict_proba`."""
        return float(self.predict_proba([context], [candidate])[0])

    def trainable_parameters(self) -> int:
        """Number of weights that training updates (frozen < lora < full)."""
        self._check_fitted()
        return sum(p.numel() for p in self.network_.parameters() if p.requires_grad)

    # -- persistence ------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write a directory: ``manifest.json``, ``weights.safetensors``, ``encoder/config.json``
        and the tokenizer files in ``tokenizer/``. Self-contained: loading needs no base model."""
        from safetensors.torch import save_file

        self._check_fitted()
        path = Path(path)
        (path / "encoder").mkdir(parents=True, exist_ok=True)
        encoder: Any = self.network_.encoder
        encoder.config.to_json_file(str(path / "encoder" / "config.json"))
        self.tokenizer_.save_pretrained(str(path / "tokenizer"))
        state = {k: v.detach().contiguous() for k, v in self.network_.state_dict().items()}
        save_file(state, str(path / _WEIGHTS))
        manifest = {
            "format": _FORMAT,
            "params": self.get_params(),
            "calibration": list(self.calibration_),
        }
        (path / _MANIFEST).write_text(json.dumps(manifest, indent=2))
        return path

    @classmethod
    def load(cls, path: str | Path) -> CTRRanker:
        """Read a directory written by :meth:`save`."""
        import torch
        from safetensors.torch import load_file
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        path = Path(path)
        manifest = read_manifest(path / _MANIFEST, _FORMAT, what="a CTR ranker directory")
        try:
            state = load_file(str(path / _WEIGHTS))
            config = AutoConfig.from_pretrained(str(path / "encoder"), local_files_only=True)
            tokenizer = AutoTokenizer.from_pretrained(
                str(path / "tokenizer"), local_files_only=True
            )
        except (OSError, ValueError) as error:
            raise ArtifactError(
                f"{path} is not a readable CTR ranker directory: {error}"
            ) from error
        ranker = cls(**manifest["params"])
        with torch.random.fork_rng(devices=[]):
            network = ranker._assemble(AutoModel.from_config(config))
        try:
            network.load_state_dict(state, strict=True)
        except RuntimeError as error:
            raise ArtifactError(f"{path}: weights do not fit the network: {error}") from error
        ranker.network_, ranker.tokenizer_ = network.eval(), tokenizer
        a, b = manifest["calibration"]
        ranker.calibration_ = (float(a), float(b))
        return ranker


def _bce_loss(network: CTRNetwork, batch: tuple[dict[str, Any], Any]) -> torch.Tensor:
    import torch

    tokens, labels = batch
    return torch.nn.functional.binary_cross_entropy_with_logits(network(**tokens), labels)
