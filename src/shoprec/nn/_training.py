"""A generic training loop for torch models: AdamW, warm-up, early stopping, best checkpoint.

Reused by every neural recommender: the caller supplies the network, a per-batch loss, the
training examples with a collate function, and optionally a validation score to maximise.

Examples
--------
>>> config = TrainConfig(epochs=20, lr=1e-3, patience=3)  # doctest: +SKIP
>>> history = fit_model(net, loss, examples, config, collate=pad, validate=ndcg)  # doctest: +SKIP
>>> history.best_epoch  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import numpy as np
import torch
from torch import nn

from shoprec import metrics

__all__ = [
    "EpochRecord",
    "TrainConfig",
    "TrainHistory",
    "fit_model",
    "iterate_batches",
    "lr_multiplier",
    "next_item_ndcg",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")
M = TypeVar("M", bound=nn.Module)

_BUCKET_POOL = 64  # batches per length-sorted pool in iterate_batches


@dataclass(frozen=True)
class TrainConfig:
    """How to train: optimiser, schedule, batching and early stopping.

    Parameters
    ----------
    epochs
        Maximum number of passes over the training examples.
    lr, weight_decay
        AdamW peak learning rate and decoupled weight decay (not applied to biases, norms and
        other 1-d parameters).
    warmup_steps, warmup_fraction
        Linear warm-up length: the larger of ``warmup_steps`` and ``warmup_fraction`` of all steps.
    decay
        After warm-up: ``"linear"`` to zero at the last step of ``epochs``, or ``"constant"``.
    grad_clip
        Maximum global gradient norm; ``None`` disables clipping.
    batch_size
        Examples per optimiser step.
    patience
        Stop after this many epochs without a better validation score; ``None`` never stops early.
    min_delta
        The smallest score increase that counts as better.
    random_state
        Seeds the shuffling and torch's RNG (dropout, sampling) during training.
    """

    epochs: int = 10
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_steps: int = 0
    warmup_fraction: float = 0.0
    decay: Literal["linear", "constant"] = "linear"
    grad_clip: float | None = 1.0
    batch_size: int = 128
    patience: int | None = 3
    min_delta: float = 0.0
    random_state: int | None = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be positive: {self}")
        if not 0.0 <= self.warmup_fraction <= 1.0 or self.warmup_steps < 0:
            raise ValueError(f"warm-up must be non-negative and a fraction <= 1: {self}")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be positive or None, got {self.patience}")
        if self.decay not in ("linear", "constant"):
            raise ValueError(f"decay must be 'linear' or 'constant', got {self.decay!r}")


@dataclass(frozen=True)
class EpochRecord:
    """What happened in one epoch: mean training loss, validation score, final learning rate."""

    epoch: int
    loss: float
    score: float | None
    lr: float
    seconds: float
    improved: bool


@dataclass
class TrainHistory:
    """Every epoch run, and the epoch whose weights were kept (the best validated, else the
    last)."""

    epochs: list[EpochRecord] = field(default_factory=list)
    best_epoch: int | None = None
    best_score: float | None = None
    stopped_early: bool = False


def lr_multiplier(step: int, *, warmup: int, total: int, decay: str = "linear") -> float:
    """Learning-rate factor before optimiser step ``step`` (0-based): ``(step + 1) / warmup``
    during warm-up, then constant or linear decay reaching zero after step ``total - 1``."""
    if step < warmup:
        return (step + 1) / warmup
    if decay == "constant" or total <= warmup:
        return 1.0
    return max(0.0, (total - step) / (total - warmup))


def iterate_batches(
    examples: Sequence[T],
    batch_size: int,
    rng: np.random.Generator | None,
    *,
    length: Callable[[T], int] | None = None,
) -> Iterator[list[T]]:
    """Lists of at most ``batch_size`` examples in an order shuffled by ``rng`` (kept without).

    With ``length``, examples of similar length are batched together to save padding: each
    pool of :data:`_BUCKET_POOL` batches is sorted by length, cut, and the batches shuffled.
    """
    order = np.arange(len(examples)) if rng is None else rng.permutation(len(examples))
    if length is not None:
        pool = batch_size * _BUCKET_POOL
        lengths = np.fromiter((length(examples[i]) for i in order), np.int64, len(order))
        order = np.concatenate(
            [
                order[lo : lo + pool][np.argsort(lengths[lo : lo + pool], kind="stable")]
                for lo in range(0, len(order), pool)
            ]
        )
    starts = np.arange(0, len(order), batch_size)
    if length is not None and rng is not None:
        starts = rng.permutation(starts)
    for start in starts:
        yield [examples[i] for i in order[start : start + batch_size]]


def fit_model(
    model: M,
    loss_fn: Callable[[M, Any], torch.Tensor],
    examples: Sequence[Any],
    config: TrainConfig,
    *,
    collate: Callable[[list[Any]], Any] | None = None,
    length: Callable[[Any], int] | None = None,
    validate: Callable[[M], float] | None = None,
    callbacks: Sequence[Callable[[EpochRecord], None]] = (),
    progress: bool = False,
) -> TrainHistory:
    """Train ``model`` in place and return the per-epoch history.

    Parameters
    ----------
    model
        The network; left in eval mode with the best validated weights when ``validate`` is
        given, otherwise with the last epoch's weights.
    loss_fn
        ``loss_fn(model, batch) -> scalar tensor`` for one collated batch (model in train mode).
    examples
        Training examples; shuffled every epoch and cut into ``config.batch_size`` lists.
    config
        Optimiser, schedule and stopping settings.
    collate
        Turns a list of examples into what ``loss_fn`` takes; the list itself by default.
    length
        Size of an example (e.g. sequence length); when given, batches group similar sizes.
    validate
        ``validate(model) -> float`` score to maximise, called after each epoch in eval mode
        under ``torch.no_grad()``; drives early stopping and the checkpoint kept.
    callbacks
        Called with each :class:`EpochRecord` after it is logged.
    progress
        Show a tqdm bar over the batches of each epoch.
    """
    if len(examples) == 0:
        raise ValueError("no training examples")
    steps_per_epoch = math.ceil(len(examples) / config.batch_size)
    total = steps_per_epoch * config.epochs
    warmup = max(config.warmup_steps, round(config.warmup_fraction * total))
    optimizer = _adamw(model, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_multiplier(s, warmup=warmup, total=total, decay=config.decay)
    )
    rng = np.random.default_rng(config.random_state)
    stopping = _EarlyStopping(config.patience, config.min_delta)
    history = TrainHistory()
    with torch.random.fork_rng(devices=[]):
        if config.random_state is not None:
            torch.manual_seed(config.random_state)
        for epoch in range(1, config.epochs + 1):
            start = time.perf_counter()
            batches = (
                b if collate is None else collate(b)
                for b in iterate_batches(examples, config.batch_size, rng, length=length)
            )
            bar = _progress(batches, steps_per_epoch, _epoch_label(epoch, config.epochs, history),
                            progress)  # fmt: skip
            loss = _train_epoch(model, loss_fn, bar, optimizer, scheduler, config.grad_clip)
            score = _validate(model, validate)
            improved = stopping.update(model, score)
            lr = optimizer.param_groups[0]["lr"]
            record = EpochRecord(epoch, loss, score, lr, time.perf_counter() - start, improved)
            history.epochs.append(record)
            _log(record, config.epochs)
            for callback in callbacks:
                callback(record)
            if stopping.should_stop:
                history.stopped_early = epoch < config.epochs
                break
    history.best_epoch, history.best_score = stopping.restore(model)
    if history.best_epoch is None:
        history.best_epoch = len(history.epochs)
    model.eval()
    return history


class _EarlyStopping:
    """Tracks the best validation score, a copy of its weights, and epochs since."""

    def __init__(self, patience: int | None, min_delta: float) -> None:
        self.patience = patience
        self.min_delta = min_delta
        self.best_score: float | None = None
        self.best_epoch: int | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.epoch = 0
        self.bad_epochs = 0

    def update(self, model: nn.Module, score: float | None) -> bool:
        """Record one epoch's score; returns whether it is the best so far."""
        self.epoch += 1
        if score is None:
            return False
        if self.best_score is not None and score <= self.best_score + self.min_delta:
            self.bad_epochs += 1
            return False
        self.best_score, self.best_epoch, self.bad_epochs = score, self.epoch, 0
        self.best_state = copy.deepcopy(model.state_dict())  # detached copies, not views
        return True

    @property
    def should_stop(self) -> bool:
        return self.patience is not None and self.bad_epochs >= self.patience

    def restore(self, model: nn.Module) -> tuple[int | None, float | None]:
        """Load the best weights into ``model``; returns the best epoch and score."""
        if self.best_state is not None:
            model.load_state_dict(self.best_state)
        return self.best_epoch, self.best_score


def _adamw(model: nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on biases or normalisation gains)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=config.lr)


def _train_epoch(
    model: M,
    loss_fn: Callable[[M, Any], torch.Tensor],
    batches: Iterable[Any],
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    grad_clip: float | None,
) -> float:
    """One optimiser step per batch; returns the mean loss."""
    model.train()
    total, count = 0.0, 0
    for batch in batches:
        loss = loss_fn(model, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        scheduler.step()
        value = float(loss.detach())
        if not math.isfinite(value):
            raise FloatingPointError(f"training loss became {value} after {count} steps")
        total, count = total + value, count + 1
    return total / max(count, 1)


def _epoch_label(epoch: int, epochs: int, history: TrainHistory) -> str:
    """``"epoch 3/20, ~2 min left"``: the remaining epochs at the mean pace so far (at most:
    early stopping may end sooner)."""
    label = f"epoch {epoch}/{epochs}"
    if not history.epochs:
        return label
    pace = sum(record.seconds for record in history.epochs) / len(history.epochs)
    left = pace * (epochs - epoch + 1)
    shown = f"{left:.0f} s" if left < 90 else f"{left / 60:.0f} min"
    return f"{label}, ~{shown} left at most"


def _progress(batches: Iterator[T], total: int, desc: str, enabled: bool) -> Iterable[T]:
    """``batches`` wrapped in a tqdm bar when ``enabled``."""
    if not enabled:
        return batches
    from tqdm.auto import tqdm

    return tqdm(batches, total=total, desc=desc, leave=False)


def _validate(model: M, validate: Callable[[M], float] | None) -> float | None:
    if validate is None:
        return None
    model.eval()
    with torch.no_grad():
        return float(validate(model))


def _log(record: EpochRecord, epochs: int) -> None:
    score = "-" if record.score is None else f"{record.score:.4f}"
    logger.info(
        "epoch %d/%d: loss %.4f, validation %s, lr %.2e, %.1fs%s",
        record.epoch, epochs, record.loss, score, record.lr, record.seconds,
        " (best)" if record.improved else "",
    )  # fmt: skip


def next_item_ndcg(
    scores: np.ndarray, histories: Sequence[np.ndarray], targets: np.ndarray, *, k: int
) -> float:
    """Mean NDCG@k of one target item per row of ``scores`` (modified: items in the row's
    history take no rank): the validation metric of the sequence models' early stopping."""

    for row, history in enumerate(histories):
        scores[row, history] = np.nan  # the metrics' mark for "excluded from the ranking"
    rows = np.arange(len(targets))
    ranks = metrics.target_ranks(scores, rows, targets)
    return float(np.mean(metrics.ndcg_from_ranks(ranks[:, None], k=k)))
