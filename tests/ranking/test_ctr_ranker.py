"""CTRRanker: a cross-encoder on a tiny random BERT learns, calibrates, saves and reproduces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from shoprec.exceptions import ArtifactError, NotFittedError, ValidationError
from shoprec.metrics import auc, log_loss
from shoprec.profiles import user_context_text
from shoprec.ranking import (
    CTRRanker,
    OnnxCTRRanker,
    TrainingPair,
    export_ctr_onnx,
    mine_training_pairs,
)

COLOURS = ["red", "blue", "green", "yellow"]
HIDDEN, LAYERS = 32, 2  # the tiny_bert fixture's (conftest.py)


def match_task(n: int, seed: int, side_share: float = 0.7) -> tuple[list, list, np.ndarray]:
    """Clicked iff the user is ready to buy AND the item is in stock (each with ``side_share``).

    Linearly separable, but only from both sides: either side alone reaches AUC ~0.83 at most.
    """
    rng = np.random.default_rng(seed)
    buying, stocked = rng.random(n) < side_share, rng.random(n) < side_share
    colours = rng.integers(len(COLOURS), size=(2, n))
    contexts = [
        f"Mostly {'buys' if b else 'browses'} {COLOURS[c]} things, recently "
        f"{'buying' if b else 'browsing'}."
        for b, c in zip(buying, colours[0], strict=True)
    ]
    candidates = [
        f"{COLOURS[c]} shoe. {'In stock' if s else 'Sold out'}."
        for s, c in zip(stocked, colours[1], strict=True)
    ]
    return contexts, candidates, (buying & stocked).astype(np.int64)


def ranker(path: Path, **params: object) -> CTRRanker:
    defaults: dict[str, object] = {
        "model_path": path, "mode": "full", "lr": 3e-3, "batch_size": 32, "max_epochs": 6,
        "patience": 3, "max_length": 32, "random_state": 0, "num_threads": 1,
    }  # fmt: skip
    return CTRRanker(**{**defaults, **params})


@pytest.fixture(scope="module")
def fitted(tiny_bert: Path) -> CTRRanker:
    train = match_task(384, seed=1)
    return ranker(tiny_bert).fit(*train, validation=match_task(128, seed=2))


def test_learns_a_separable_pair_task(fitted: CTRRanker) -> None:
    contexts, candidates, labels = match_task(200, seed=3)
    proba = fitted.predict_proba(contexts, candidates)
    assert proba.dtype == np.float32 and proba.shape == (200,)
    assert auc(labels, proba) > 0.9


def test_batch_equals_single(fitted: CTRRanker) -> None:
    contexts, candidates, _ = match_task(5, seed=4)
    batch = fitted.predict_proba(contexts, candidates)
    single = [fitted.predict_proba_one(c, i) for c, i in zip(contexts, candidates, strict=True)]
    np.testing.assert_allclose(batch, single, atol=1e-5)


def test_modes_train_the_expected_parameters(tiny_bert: Path) -> None:
    data = match_task(16, seed=5)
    counts = {}
    for mode in ("frozen", "lora", "full"):
        model = ranker(tiny_bert, mode=mode, max_epochs=1, lora_r=4)
        before = model._build()[1].encoder.state_dict()
        counts[mode] = model.fit(*data).trainable_parameters()
        after = model.network_.encoder.state_dict()
        changed = {k for k in before if not torch.equal(before[k], after[k])}
        pretrained = {k for k in changed if "lora_" not in k}
        assert bool(pretrained) == (mode == "full")  # frozen and LoRA keep pretrained weights
        assert any("lora_B" in k for k in changed) == (mode == "lora")  # B starts at zero
    head = HIDDEN + 1
    assert counts["frozen"] == head
    # LoRA on query and value of every layer: A (r x hidden) and B (hidden x r)
    assert counts["lora"] == head + LAYERS * 2 * (2 * 4 * HIDDEN)
    assert counts["full"] > counts["lora"] > counts["frozen"]


def test_calibration_improves_log_loss_on_skewed_data(tiny_bert: Path) -> None:
    # Trained balanced, served where only 10% of pairs are clicks: raw sigmoid overestimates.
    train = match_task(256, seed=6)
    noisy = np.where(np.random.default_rng(0).random(256) < 0.2, 1 - train[2], train[2])
    skewed = match_task(200, seed=7, side_share=0.3)
    model = ranker(tiny_bert, max_epochs=3).fit(train[0], train[1], noisy, validation=skewed)
    test = match_task(200, seed=8, side_share=0.3)
    proba = model.predict_proba(test[0], test[1])
    raw = 1 / (1 + np.exp(-model.decision_function(test[0], test[1]).astype(np.float64)))
    assert ((proba >= 0) & (proba <= 1)).all()
    assert model.calibration_ != (1.0, 0.0)
    assert log_loss(test[2], proba) < log_loss(test[2], raw)
    assert abs(proba.mean() - test[2].mean()) < abs(raw.mean() - test[2].mean())


def test_save_load_round_trip(fitted: CTRRanker, tmp_path: Path) -> None:
    contexts, candidates, _ = match_task(20, seed=9)
    fitted.save(tmp_path / "ctr")
    loaded = CTRRanker.load(tmp_path / "ctr")
    np.testing.assert_array_equal(
        loaded.predict_proba(contexts, candidates), fitted.predict_proba(contexts, candidates)
    )
    assert loaded.get_params() == fitted.get_params()
    assert not list((tmp_path / "ctr").rglob("*.pkl")) and not list(
        (tmp_path / "ctr").rglob("*.bin")
    )


def test_lora_save_load_round_trip(tiny_bert: Path, tmp_path: Path) -> None:
    data = match_task(32, seed=10)
    model = ranker(tiny_bert, mode="lora", max_epochs=1).fit(*data, groups=np.arange(32) % 4)
    loaded = CTRRanker.load(model.save(tmp_path / "lora"))
    assert loaded.trainable_parameters() == model.trainable_parameters()
    np.testing.assert_array_equal(
        loaded.predict_proba(data[0], data[1]), model.predict_proba(data[0], data[1])
    )


def test_deterministic_with_random_state(tiny_bert: Path) -> None:
    data = match_task(48, seed=11)
    valid = match_task(24, seed=12)
    probas = [
        ranker(tiny_bert, mode="lora", max_epochs=2)
        .fit(*data, validation=valid)
        .predict_proba(valid[0], valid[1])
        for _ in range(2)
    ]
    np.testing.assert_array_equal(probas[0], probas[1])


def test_onnx_export_matches_torch_and_leaves_the_ranker_untouched(
    tiny_bert: Path, tmp_path: Path
) -> None:
    data = match_task(64, seed=13)
    model = ranker(tiny_bert, mode="lora", max_epochs=2).fit(*data, groups=np.arange(64) % 8)
    contexts, candidates, labels = match_task(100, seed=14)
    before = model.decision_function(contexts, candidates)
    export_ctr_onnx(model, tmp_path / "onnx")
    np.testing.assert_array_equal(model.decision_function(contexts, candidates), before)
    assert model.trainable_parameters() > HIDDEN + 1  # the adapters are still there

    fp32 = OnnxCTRRanker(tmp_path / "onnx", quantized=False, num_threads=1)
    np.testing.assert_allclose(fp32.decision_function(contexts, candidates), before, atol=1e-4)
    np.testing.assert_allclose(
        fp32.predict_proba(contexts, candidates), model.predict_proba(contexts, candidates),
        atol=1e-4,
    )  # fmt: skip
    assert fp32.calibration == model.calibration_
    single = fp32.predict_proba_one(contexts[0], candidates[0])
    assert single == pytest.approx(float(fp32.predict_proba(contexts, candidates)[0]), abs=1e-5)
    int8 = OnnxCTRRanker(tmp_path / "onnx", num_threads=1)
    proba = int8.predict_proba(contexts, candidates)
    assert abs(auc(labels, proba) - auc(labels, model.predict_proba(contexts, candidates))) < 0.05
    # Dynamic int8 quantises activations per batch, so a pair's score moves a little with its batch.
    assert int8.predict_proba_one(contexts[0], candidates[0]) == pytest.approx(proba[0], abs=0.02)


def test_onnx_export_is_checked_on_load(fitted: CTRRanker, tmp_path: Path) -> None:
    path = export_ctr_onnx(fitted, tmp_path / "onnx", quantize=False)
    with pytest.raises(ArtifactError, match="int8"):
        OnnxCTRRanker(path).predict_proba(["a"], ["b"])  # not quantised: no int8 graph
    (path / "model.onnx").write_bytes(b"tampered")
    with pytest.raises(ArtifactError, match="SHA-256"):
        OnnxCTRRanker(path, quantized=False).predict_proba(["a"], ["b"])
    with pytest.raises(ArtifactError, match="manifest"):
        OnnxCTRRanker(tmp_path / "nowhere").predict_proba(["a"], ["b"])


def test_not_fitted_and_bad_input(tiny_bert: Path) -> None:
    model = ranker(tiny_bert)
    with pytest.raises(NotFittedError):
        model.predict_proba(["a"], ["b"])
    with pytest.raises(NotFittedError):
        model.trainable_parameters()
    with pytest.raises(ValidationError, match="labels"):
        model.fit(["a", "b"], ["c", "d"], np.array([0, 2]))
    with pytest.raises(ValidationError):
        model.fit(["a"], ["c", "d"], np.array([0, 1]))
    with pytest.raises(ValueError, match="mode"):
        ranker(tiny_bert, mode="half").fit(["a"], ["b"], np.array([1]))


def test_user_context_text_template() -> None:
    text = user_context_text(
        "Mostly buys Headphones from Sony,  premium.",
        ["WH-1000XM4 ", "USB-C cable.", "x", "y"],
        max_titles=2,
    )
    assert text == "Mostly buys Headphones from Sony, premium. Recently: WH-1000XM4; USB-C cable."
    assert user_context_text(None, []) == ""
    assert user_context_text(None, ["Mug"]) == "Recently: Mug."


def test_user_context_text_from_portrait() -> None:
    from shoprec.profiles import UserPortrait

    assert user_context_text(UserPortrait("u1"), ["Mug"]) == "No activity yet. Recently: Mug."


def test_mine_training_pairs() -> None:
    targets = {"u1": "a", "u2": "b"}
    retrieved = {"u1": ["a", "c", "d", "e"], "u2": ["c", "b"]}
    pool = list("abcdefgh")
    pairs = mine_training_pairs(
        targets, retrieved, pool, n_hard=2, n_random=3, exclude={"u1": ["d"]}, random_state=0
    )
    u1 = [p for p in pairs if p.user_id == "u1"]
    assert u1[:3] == [
        TrainingPair("u1", "a", 1),
        TrainingPair("u1", "c", 0),
        TrainingPair("u1", "e", 0),
    ]
    randoms = [p.item_id for p in u1[3:]]
    assert len(randoms) == 3 and not {"a", "c", "d", "e"} & set(randoms)
    assert len(set(randoms)) == 3
    u2 = [p for p in pairs if p.user_id == "u2"]
    assert [p.label for p in u2] == [1, 0, 0, 0, 0] and u2[1].item_id == "c"
    again = mine_training_pairs(targets, retrieved.get, pool, n_hard=2, n_random=3,
                                exclude={"u1": ["d"]}, random_state=0)  # fmt: skip
    assert again == pairs
    other = mine_training_pairs(targets, retrieved, pool, random_state=1)
    assert sum(p.label for p in other) == 2


@pytest.mark.slow
def test_real_minilm_lora_learns_the_task() -> None:
    train = match_task(128, seed=13)
    model = CTRRanker(mode="lora", max_epochs=2, lr=1e-3, max_length=32, num_threads=2)
    model.fit(*train, validation=match_task(64, seed=14))
    test = match_task(64, seed=15)
    assert auc(test[2], model.predict_proba(test[0], test[1])) > 0.9
    assert model.trainable_parameters() < 200_000
