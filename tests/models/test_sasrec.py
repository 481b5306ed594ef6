"""SASRec: network shapes and causality, and that the recommender learns sequential patterns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from shoprec.data import PAD, Catalog, EncodedInteractions, Interactions, leave_one_out
from shoprec.exceptions import NotFittedError, ParameterError
from shoprec.models import SASRec
from shoprec.nn import PAD_TOKEN, SASRecNetwork

N_ITEMS = 20


def _network(**kwargs: float) -> SASRecNetwork:
    torch.manual_seed(0)
    params = {"hidden": 16, "n_layers": 2, "n_heads": 2, "max_len": 8, "dropout": 0.2}
    return SASRecNetwork(30, **{**params, **kwargs}).eval()  # type: ignore[arg-type]


def test_sequences_pad_like_the_network() -> None:
    assert PAD == PAD_TOKEN


def test_network_shapes() -> None:
    net = _network()
    tokens = torch.randint(1, 31, (3, 5))
    hidden = net(tokens)
    assert hidden.shape == (3, 5, 16)
    assert net.item_logits(hidden).shape == (3, 5, 30)
    assert net.item_weights.shape == (30, 16)
    torch.testing.assert_close(net.item_logits(hidden)[1, 2], net.item_weights @ hidden[1, 2])


def test_network_is_causal() -> None:
    net = _network()
    tokens = torch.tensor([[31, 4, 9, 2, 7, 12]])  # start token, then items
    changed = tokens.clone()
    changed[0, 3] = 25
    before, after = net(tokens), net(changed)
    torch.testing.assert_close(before[:, :3], after[:, :3])
    assert not torch.allclose(before[:, 3:], after[:, 3:])


def test_right_padding_does_not_change_real_positions() -> None:
    net = _network()
    short = torch.tensor([[31, 4, 9]])
    padded = torch.tensor([[31, 4, 9, PAD_TOKEN, PAD_TOKEN]])
    torch.testing.assert_close(net(short), net(padded)[:, :3])


def test_network_rejects_too_long_sequences_and_bad_heads() -> None:
    with pytest.raises(ValueError, match="max_len"):
        _network()(torch.ones(1, 9, dtype=torch.int64))
    with pytest.raises(ValueError, match="divisible"):
        _network(hidden=15)


def test_dropout_only_in_training_mode() -> None:
    net = _network(dropout=0.5)
    tokens = torch.tensor([[31, 4, 9, 2]])
    torch.testing.assert_close(net(tokens), net(tokens))
    net.train()
    assert not torch.allclose(net(tokens), net(tokens))


def _successor_data(n_users: int = 120, seed: int = 0) -> Interactions:
    """Every user starts at item "s" then walks i, i+1, ... (mod N_ITEMS) from a random i."""
    rng = np.random.default_rng(seed)
    rows, t = [], 0
    for user in range(n_users):
        first, length = rng.integers(N_ITEMS), rng.integers(4, 9)
        for item in ["s", *(f"i{(first + j) % N_ITEMS}" for j in range(length))]:
            t += 1
            rows.append((f"u{user}", item, "click", t))
    return Interactions(
        pd.DataFrame(rows, columns=["user_id", "item_id", "event_type", "timestamp"])
    )


# One thread: tiny batches are dominated by thread synchronisation on a busy 2-core machine.
FAST = {"hidden": 32, "n_layers": 1, "max_len": 10, "dropout": 0.1, "batch_size": 32, "lr": 5e-3,
        "num_threads": 1}  # fmt: skip


@pytest.fixture(scope="module")
def successor_model() -> SASRec:
    return SASRec(**FAST, max_epochs=15).fit(_successor_data())


def test_learns_the_successor_of_the_last_item(successor_model: SASRec) -> None:
    histories = {
        f"h{i}": ["s", f"i{(i - 2) % N_ITEMS}", f"i{(i - 1) % N_ITEMS}", f"i{i}"]
        for i in range(N_ITEMS)
    }
    ids, _ = successor_model.recommend(list(histories), k=1, histories=histories)
    expected = [f"i{(i + 1) % N_ITEMS}" for i in range(N_ITEMS)]
    assert list(ids[:, 0]) == expected


def test_empty_history_predicts_the_usual_first_item(successor_model: SASRec) -> None:
    scores = successor_model.score([np.empty(0, dtype=np.int64)])[0]
    assert np.isfinite(scores).all()
    assert successor_model.item_ids_[np.argmax(scores)] == "s"


def test_long_histories_keep_their_most_recent_items(successor_model: SASRec) -> None:
    max_len = successor_model.max_len
    history = np.arange(2 * max_len) % N_ITEMS + 1
    scores = successor_model.score([history, history[-max_len:], history[-max_len + 1 :]])
    np.testing.assert_allclose(scores[0], scores[1], rtol=1e-5, atol=1e-6)
    assert not np.allclose(scores[0], scores[2])  # start token + max_len - 1 items differ


def test_validation_drives_early_stopping() -> None:
    split = leave_one_out(_successor_data())
    model = SASRec(**FAST, max_epochs=40, patience=3).fit(split.train, validation=split.valid)
    history = model.history_
    assert history.best_score is not None and history.best_score > 0.9  # next item is certain
    scores = [e.score for e in history.epochs]
    assert history.best_epoch == 1 + scores.index(max(scores))  # the first epoch with the best
    assert len(history.epochs) < 40 and history.stopped_early


def test_bce_loss_also_learns_the_pattern() -> None:
    model = SASRec(**FAST, max_epochs=15, loss="bce").fit(_successor_data())
    histories = [model.encode_items([f"i{i}"]) for i in range(N_ITEMS)]
    top, _ = model.recommend_histories(histories, k=3)
    hits = [f"i{(i + 1) % N_ITEMS}" in row for i, row in enumerate(top)]
    assert np.mean(hits) >= 0.9


def test_invalid_hyper_parameters_raise_at_fit(tiny_interactions: Interactions) -> None:
    with pytest.raises(ValueError, match="loss"):
        SASRec(loss="hinge").fit(tiny_interactions)
    with pytest.raises(ValueError, match="divisible"):
        SASRec(hidden=10, n_heads=3).fit(tiny_interactions)


def test_fit_does_not_disturb_global_state(tiny_interactions: Interactions) -> None:
    threads = torch.get_num_threads()
    torch.manual_seed(1)
    expected = torch.rand(2)
    torch.manual_seed(1)
    SASRec(hidden=8, n_heads=1, max_epochs=1, num_threads=1).fit(tiny_interactions)
    assert torch.equal(torch.rand(2), expected)
    assert torch.get_num_threads() == threads


def test_validation_skips_targets_already_in_the_history(tiny_interactions: Interactions) -> None:
    model = SASRec(hidden=8, n_heads=1, max_epochs=1, num_threads=1).fit(tiny_interactions)
    rows = [("u1", "a", 20), ("u1", "e", 21), ("u2", "d", 22), ("u3", "c", 23), ("u9", "b", 24)]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    frame["event_type"] = "click"
    valid = EncodedInteractions.encode(Interactions(frame), model.item_ids_)
    validator = model._validator(valid)
    assert validator is not None
    # u1's "a" repeats its history, so its next new item "e" is the target; u9 is cold.
    index = model.item_index_
    assert list(validator.targets) == [index["e"], index["d"], index["c"], index["b"]]
    assert [len(h) for h in validator.histories] == [4, 4, 4, 0]


def test_warm_start_carries_the_weights_over_by_item_id(
    random_interactions: Interactions,
) -> None:
    """A warm start with nothing trainable is the source model, item for item, also when the new
    catalog has an item more and in another order; the new item still gets a score."""
    params = {"hidden": 16, "n_layers": 1, "max_len": 10, "max_epochs": 1, "batch_size": 64}
    source = SASRec(**params).fit(random_interactions)
    ids = [*source.item_ids_[::-1], "brand-new"]
    catalog = Catalog(pd.DataFrame({"item_id": ids, "title": ids}))
    warm = SASRec(**params).fit(random_interactions, catalog, warm_start=source, trainable="none")
    history = ["item1", "item5", "item2"]
    before = source.score([source.encode_items(history)])[0]
    after = warm.score([warm.encode_items(history)])[0]
    order = [warm.item_index_[item] for item in source.item_ids_]
    np.testing.assert_allclose(after[order], before, rtol=1e-5, atol=1e-5)
    assert np.isfinite(after[warm.item_index_["brand-new"]])


def test_warm_start_options_are_checked(random_interactions: Interactions) -> None:
    with pytest.raises(ParameterError, match="needs a warm_start"):
        SASRec(max_epochs=1).fit(random_interactions, trainable="none")
    with pytest.raises(ParameterError, match="trainable must be one of"):
        SASRec(max_epochs=1).fit(random_interactions, trainable="adaptor")
    with pytest.raises(NotFittedError):
        SASRec(max_epochs=1).fit(random_interactions, warm_start=SASRec())
