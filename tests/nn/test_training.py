"""The generic training loop: schedule, early stopping with checkpoint restore, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from shoprec.nn import (
    EpochRecord,
    TrainConfig,
    fit_model,
    iterate_batches,
    lr_multiplier,
)


class _Scalar(nn.Module):
    """One weight ``w``; the loss ``(w - target)^2`` pulls it towards the batch mean target."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1, 1))
        self.b = nn.Parameter(torch.zeros(1))


def _pull(model: _Scalar, batch: list[float]) -> torch.Tensor:
    return ((model.w.squeeze() - torch.tensor(batch).mean()) ** 2).sum()


def test_lr_multiplier_warms_up_linearly_then_decays_to_zero() -> None:
    factors = [lr_multiplier(s, warmup=4, total=8) for s in range(8)]
    assert factors == [0.25, 0.5, 0.75, 1.0, 1.0, 0.75, 0.5, 0.25]
    assert lr_multiplier(8, warmup=4, total=8) == 0.0
    assert lr_multiplier(6, warmup=4, total=8, decay="constant") == 1.0
    assert lr_multiplier(0, warmup=0, total=5) == 1.0


def test_learning_rate_follows_the_schedule_across_epochs() -> None:
    config = TrainConfig(epochs=4, lr=0.1, batch_size=2, warmup_steps=4, patience=None)
    history = fit_model(_Scalar(), _pull, [1.0, 1.0, 1.0, 1.0], config)  # 2 steps per epoch
    # After k steps the scheduler holds lr * multiplier(k): k = 2, 4, 6, 8.
    np.testing.assert_allclose([e.lr for e in history.epochs], [0.075, 0.1, 0.05, 0.0])


def test_warmup_fraction_counts_all_steps() -> None:
    config = TrainConfig(epochs=5, lr=1.0, batch_size=1, warmup_fraction=0.5, patience=None)
    history = fit_model(_Scalar(), _pull, [1.0, 1.0], config)  # 10 steps, warm-up 5
    assert history.epochs[1].lr == pytest.approx(1.0)  # after 4 steps: factor 5/5
    assert history.epochs[0].lr == pytest.approx(0.6)  # after 2 steps: factor 3/5


def test_early_stopping_restores_the_best_checkpoint() -> None:
    scores = iter([0.1, 0.5, 0.3, 0.2, 0.9])
    weights: list[float] = []
    model = _Scalar()
    config = TrainConfig(epochs=5, lr=0.1, batch_size=1, patience=2, random_state=0)
    history = fit_model(
        model,
        _pull,
        [1.0, 2.0, 3.0],
        config,
        validate=lambda m: next(scores),
        callbacks=[lambda record: weights.append(float(model.w.detach()))],
    )
    assert [e.epoch for e in history.epochs] == [1, 2, 3, 4]  # epoch 5's 0.9 is never reached
    assert history.stopped_early
    assert history.best_epoch == 2 and history.best_score == 0.5
    assert [e.improved for e in history.epochs] == [True, True, False, False]
    assert weights[1] != weights[3]  # training moved on after the best epoch ...
    assert float(model.w.detach()) == weights[1]  # ... and the best weights came back
    assert not model.training


def test_without_validation_the_last_epoch_is_kept() -> None:
    model = _Scalar()
    config = TrainConfig(epochs=3, lr=0.1, batch_size=1, patience=1)
    history = fit_model(model, _pull, [1.0], config)
    assert len(history.epochs) == 3 and history.best_epoch == 3
    assert all(e.score is None for e in history.epochs)
    assert not history.stopped_early


def test_mean_loss_is_reported_per_epoch() -> None:
    records: list[EpochRecord] = []
    config = TrainConfig(epochs=1, lr=1e-9, batch_size=1, patience=None)
    fit_model(_Scalar(), _pull, [1.0, 3.0], config, callbacks=[records.append])
    assert records[0].loss == pytest.approx((1.0 + 9.0) / 2, rel=1e-6)  # w stays ~0


class _Noisy(nn.Module):
    """A linear layer after dropout: its training depends on shuffling and torch's RNG."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 1)
        self.drop = nn.Dropout(0.5)


def _regress(model: _Noisy, batch: list[tuple[np.ndarray, float]]) -> torch.Tensor:
    x = torch.tensor(np.stack([b[0] for b in batch]), dtype=torch.float32)
    y = torch.tensor([b[1] for b in batch], dtype=torch.float32)
    return ((model.linear(model.drop(x)).squeeze(-1) - y) ** 2).mean()


def _train_noisy(random_state: int) -> torch.Tensor:
    torch.manual_seed(0)  # same initial weights
    model = _Noisy()
    rng = np.random.default_rng(1)
    data = [(rng.normal(size=4), float(rng.normal())) for _ in range(40)]
    config = TrainConfig(epochs=3, lr=0.01, batch_size=8, random_state=random_state)
    fit_model(model, _regress, data, config)
    return model.linear.weight.detach().clone()


def test_training_is_deterministic_and_leaves_the_global_rng_alone() -> None:
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    first = _train_noisy(random_state=5)
    # fit_model forks torch's RNG: the caller's stream continues as if nothing happened
    # (the manual_seed(0) inside _train_noisy is the caller's own reset).
    torch.manual_seed(123)
    second = _train_noisy(random_state=5)
    torch.manual_seed(123)
    assert torch.equal(torch.rand(3), expected_next)
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    assert not torch.equal(first, _train_noisy(random_state=6))


def test_weight_decay_skips_biases_and_norms() -> None:
    model = _Scalar()
    with torch.no_grad():
        model.w.fill_(1.0)
        model.b.fill_(1.0)
    config = TrainConfig(epochs=1, lr=0.1, weight_decay=0.5, batch_size=1, grad_clip=None)
    fit_model(model, lambda m, batch: 0.0 * (m.w.sum() + m.b.sum()), [0.0], config)
    # Decoupled decay shrinks the matrix: w -= lr * wd * w.
    assert float(model.w.detach()) == pytest.approx(1.0 - 0.1 * 0.5)
    assert float(model.b.detach()) == 1.0


def test_non_finite_loss_raises() -> None:
    config = TrainConfig(epochs=1, batch_size=1)
    with pytest.raises(FloatingPointError):
        fit_model(_Scalar(), lambda m, b: m.w.sum() * float("nan"), [0.0], config)


def test_iterate_batches_covers_every_example_once() -> None:
    examples = list(range(23))
    batches = list(iterate_batches(examples, 5, np.random.default_rng(0)))
    assert [len(b) for b in batches] == [5, 5, 5, 5, 3]
    assert sorted(x for b in batches for x in b) == examples
    assert [x for b in batches for x in b] != examples  # shuffled
    assert [x for b in iterate_batches(examples, 5, None) for x in b] == examples


def test_length_bucketing_groups_similar_lengths() -> None:
    rng = np.random.default_rng(0)
    examples = [list(range(n)) for n in rng.integers(1, 50, size=400)]
    batches = list(iterate_batches(examples, 10, np.random.default_rng(1), length=len))
    assert sorted(map(len, (x for b in batches for x in b))) == sorted(map(len, examples))
    spread = np.mean([max(map(len, b)) - min(map(len, b)) for b in batches])
    assert spread < 5  # unsorted batches of 10 would span ~40


@pytest.mark.parametrize(
    "kwargs",
    [{"epochs": 0}, {"batch_size": 0}, {"warmup_fraction": 1.5}, {"patience": 0}],
)
def test_config_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        TrainConfig(**kwargs)  # type: ignore[arg-type]


def test_no_examples_raises() -> None:
    with pytest.raises(ValueError, match="no training examples"):
        fit_model(_Scalar(), _pull, [], TrainConfig())


def test_epoch_progress_shows_the_total_and_the_time_left() -> None:
    from shoprec.nn._training import EpochRecord, TrainHistory, _epoch_label

    history = TrainHistory()
    assert _epoch_label(1, 20, history) == "epoch 1/20"
    history.epochs += [EpochRecord(1, 0.5, None, 1e-3, 4.0, False),
                       EpochRecord(2, 0.4, None, 1e-3, 6.0, False)]  # fmt: skip
    assert _epoch_label(3, 20, history) == "epoch 3/20, ~2 min left at most"  # 18 x 5 s
    assert _epoch_label(20, 20, history) == "epoch 20/20, ~5 s left at most"
