"""TextSequence: network shapes and context inputs, learning a pattern carried by item text,
scoring items added after fit, and persistence."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from shoprec.data import Catalog, Interactions, SequenceContext
from shoprec.models import Recommender, TextSequence, load_recommender
from shoprec.nn import MoEAdaptor, TextSequenceNetwork

N_GROUPS = 6
PER_GROUP = 4
# Distinct nonsense words: the hashing encoder makes titles sharing one word similar.
WORDS = ["zorblax", "quindle", "mepharo", "trivvet", "glonkar", "spudvex", "wexxolid"]


def _network(**kwargs: object) -> TextSequenceNetwork:
    torch.manual_seed(0)
    params: dict[str, object] = {
        "n_id_items": 10,
        "n_event_types": 3,
        "use_ids": True,
        "hidden": 16,
        "n_layers": 1,
        "n_heads": 2,
        "max_len": 8,
        "dropout": 0.0,
        "n_experts": 3,
    }
    return TextSequenceNetwork(torch.randn(12, 24), **{**params, **kwargs}).eval()  # type: ignore[arg-type]


def test_network_shapes_and_start_token() -> None:
    net = _network()
    assert net.n_catalog == 12 and net.start_index == 13
    tokens = torch.tensor([[13, 1, 12, 5], [13, 2, 0, 0]])
    hidden = net(tokens)
    assert hidden.shape == (2, 4, 16)
    assert net.item_representations().shape == (12, 16)
    assert net.item_logits(hidden[:, -1]).shape == (2, 12)


def test_moe_adaptor_matches_the_whitening_formula() -> None:
    torch.manual_seed(0)
    adaptor = MoEAdaptor(5, 3, n_experts=2, dropout=0.0)
    torch.nn.init.normal_(adaptor.bias)
    x = torch.randn(4, 5)
    gates = torch.softmax(adaptor.gate(x), dim=-1)
    expected = sum(
        gates[:, k, None] * ((x - adaptor.bias[k]) @ adaptor.experts[k]) for k in range(2)
    )
    torch.testing.assert_close(adaptor(x), expected)


def test_event_types_and_gaps_change_the_output() -> None:
    net = _network()
    tokens = torch.tensor([[13, 1, 2, 3]])
    plain = net(tokens)
    kinds = net(tokens, event_types=torch.tensor([[0, 1, 2, 1]]))
    gaps = net(tokens, gaps=torch.tensor([[0, 0, 5, 20]]))
    unknown = net(tokens, torch.zeros_like(tokens), torch.zeros_like(tokens))
    assert not torch.allclose(plain[0, -1], kinds[0, -1])
    assert not torch.allclose(plain[0, -1], gaps[0, -1])
    torch.testing.assert_close(plain, unknown)  # index 0 means unknown: adds nothing


def test_ids_beyond_the_table_and_masked_ids_are_text_only() -> None:
    net = _network(n_id_items=10)
    torch.nn.init.normal_(net.item_embedding.weight)
    text_only = _network(use_ids=False).item_representations()
    reps = net.item_representations()
    torch.testing.assert_close(reps[10:], text_only[10:])  # items 10, 11 have no ID row
    assert not torch.allclose(reps[:10], text_only[:10])
    net.id_mask[3] = 0.0
    torch.testing.assert_close(net.item_representations()[3], text_only[3])


def test_id_dropout_only_while_training() -> None:
    net = _network(id_dropout=0.5)
    torch.nn.init.normal_(net.item_embedding.weight)
    torch.testing.assert_close(net.item_representations(), net.item_representations())
    net.train()
    net.adaptor.dropout = 0.0  # isolate the ID dropout
    assert not torch.allclose(net.item_representations(), net.item_representations())


def _catalog(n_groups: int = N_GROUPS) -> Catalog:
    rows = [
        (f"g{g}i{j}", f"{WORDS[g]} item {j}") for g in range(n_groups) for j in range(PER_GROUP)
    ]
    return Catalog(pd.DataFrame(rows, columns=["item_id", "title"]))


def _group_walks(n_users: int = 150, seed: int = 0) -> Interactions:
    """Each user browses within one group: items whose titles share a word follow each other."""
    rng = np.random.default_rng(seed)
    rows, t = [], 0
    for user in range(n_users):
        group = rng.integers(N_GROUPS)
        for j in rng.permutation(PER_GROUP)[: rng.integers(3, PER_GROUP + 1)]:
            t += 1
            rows.append((f"u{user}", f"g{group}i{j}", "click", t))
    return Interactions(
        pd.DataFrame(rows, columns=["user_id", "item_id", "event_type", "timestamp"])
    )


def _model(**kwargs: object) -> TextSequence:
    params: dict[str, object] = {
        "encoder": "hashing",
        "hidden": 32,
        "n_layers": 1,
        "max_len": 8,
        "dropout": 0.1,
        "n_experts": 2,
        "lr": 5e-3,
        "batch_size": 32,
        "max_epochs": 15,
        "random_state": 0,
    }
    return TextSequence(**{**params, **kwargs})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def fitted() -> TextSequence:
    return _model(use_ids=False).fit(_group_walks(), _catalog())


def _same_group_share(model: Recommender, history: list[str], group: int, k: int) -> float:
    ids, _ = model.recommend_histories([model.encode_items(history)], k=k)
    return float(np.mean([item.startswith(f"g{group}i") for item in ids[0]]))


def test_learns_the_sequential_pattern_from_text(fitted: TextSequence) -> None:
    for group in range(N_GROUPS):
        # the 3 other items of the group rank above all 20 items of other groups
        assert _same_group_share(fitted, [f"g{group}i0"], group, k=3) == 1.0


def test_scores_a_new_item_from_its_text(fitted: TextSequence) -> None:
    model = copy.deepcopy(fitted)
    new = Catalog(pd.DataFrame({"item_id": ["new2"], "title": [f"{WORDS[2]} item"]}))
    model.add_items(new)
    assert model.item_ids_[-1] == "new2" and len(model.item_ids_) == N_GROUPS * PER_GROUP + 1
    scores = model.score([model.encode_items(["g2i0", "g2i1"]), model.encode_items(["g4i0"])])
    new_row = len(model.item_ids_) - 1
    # The new item (never in training) beats every item of other groups after a group-2
    # history, and ranks below every group-4 item after a group-4 history.
    others = [i for i, item in enumerate(model.item_ids_[:-1]) if not item.startswith("g2")]
    assert scores[0, new_row] > scores[0, others].max()
    assert scores[1, new_row] < scores[1, model.encode_items([f"g4i{j}" for j in range(4)])].min()
    ids, _ = model.recommend_histories([model.encode_items(["g2i0"])], k=3)
    assert set(ids[0]) <= {"new2", "g2i1", "g2i2", "g2i3"}


def test_catalog_items_without_events_rank_from_text() -> None:
    """An item of the catalog with no training event has no ID vector and is no softmax
    negative, so its text places it among its group's items."""
    frame = _catalog().frame
    extra = pd.DataFrame({"item_id": ["g2new"], "title": [f"{WORDS[2]} item"]})
    catalog = Catalog(pd.concat([frame[["item_id", "title"]], extra], ignore_index=True))
    model = _model(use_ids=True).fit(_group_walks(), catalog)
    assert model.network_.id_mask[-1] == 0 and model.network_.id_mask[:-1].min() == 1
    scores = model.score([model.encode_items(["g2i0", "g2i1"])])[0]
    others = [i for i, item in enumerate(model.item_ids_) if not item.startswith("g2")]
    assert scores[model.item_index_["g2new"]] > scores[others].max()


def test_context_changes_scores_and_is_validated(fitted: TextSequence) -> None:
    events = _group_walks().frame.copy()
    events["event_type"] = np.where(np.arange(len(events)) % 3 == 0, "purchase", "view")
    events["timestamp"] = 1_600_000_000_000 + np.arange(len(events)) * 3_600_000 * (
        1 + np.arange(len(events)) % 7
    )
    model = _model(use_ids=True, max_epochs=2).fit(Interactions(events), _catalog())
    assert model.context_ == SequenceContext(("purchase", "view"), uses_time=True)
    history = model.encode_items(["g1i0", "g1i1"])
    plain = model.score_events([history])
    with_context = model.score_events(
        [history],
        event_types=[["view", "purchase"]],
        timestamps=[np.array([1_600_000_000_000, 1_600_086_400_000])],
    )
    np.testing.assert_allclose(plain, model.score([history]), rtol=1e-5)
    assert not np.allclose(plain, with_context)
    with pytest.raises(ValueError, match="event_types"):
        model.score_events([history], event_types=[["view"]])
    assert fitted.context_ == SequenceContext((), uses_time=False)  # one type, order-only


def test_deterministic_with_random_state() -> None:
    data, catalog = _group_walks(60), _catalog()
    a = _model(max_epochs=2).fit(data, catalog).score([np.array([0, 1])])
    b = _model(max_epochs=2).fit(data, catalog).score([np.array([0, 1])])
    np.testing.assert_array_equal(a, b)


def test_save_load_round_trip(tmp_path: Path) -> None:
    model = _model(use_ids=True, max_epochs=2).fit(_group_walks(60), _catalog())
    model.add_items(Catalog(pd.DataFrame({"item_id": ["new"], "title": ["zorblax new"]})))
    loaded = load_recommender(model.save(tmp_path / "model"))
    assert isinstance(loaded, TextSequence)
    assert loaded.get_params() == model.get_params()
    histories = [np.array([0, 5, 24]), np.array([], dtype=np.int64)]
    np.testing.assert_allclose(loaded.score(histories), model.score(histories), rtol=1e-5)
    assert list(loaded.item_ids_) == list(model.item_ids_)


def test_popularity_prior_ranks_indistinguishable_items_by_popularity(tmp_path: Path) -> None:
    # Ten items with the same title: text tells them apart not at all, counts do (item k is
    # clicked about (k + 1) times as often as item 0).
    rng = np.random.default_rng(0)
    weights = np.arange(1, 11, dtype=np.float64)
    rows = [
        (f"u{user}", f"p{item}", "click", user * 10 + step)
        for user in range(200)
        for step, item in enumerate(rng.choice(10, size=4, p=weights / weights.sum()))
    ]
    data = Interactions(
        pd.DataFrame(rows, columns=["user_id", "item_id", "event_type", "timestamp"])
    )
    catalog = Catalog(pd.DataFrame({"item_id": [f"p{i}" for i in range(10)], "title": "mug"}))
    model = _model(use_ids=False, popularity_prior=True, max_epochs=5).fit(data, catalog)
    network = model.network_
    assert float(network.popularity_weight.detach()) > 0.05  # learned: it starts at 0
    assert network.popularity.mean().abs() < 1e-5  # standardised
    ids, _ = model.recommend_histories([model.encode_items(["p0"])], k=3)
    assert set(ids[0]) <= {"p7", "p8", "p9", "p6"}
    model.add_items(Catalog(pd.DataFrame({"item_id": ["fresh"], "title": ["mug"]})))
    assert float(network.popularity[-1]) == float(network.popularity[:-1].min())
    loaded = load_recommender(model.save(tmp_path / "model"))
    histories = [np.array([0, 3]), np.array([], dtype=np.int64)]
    np.testing.assert_allclose(loaded.score(histories), model.score(histories), rtol=1e-5)
