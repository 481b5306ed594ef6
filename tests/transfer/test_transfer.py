"""Cross-platform transfer: platform data helpers, temperature sampling, pretraining on two tiny
platforms and adapting to a third (zero-shot, adaptor, full), persistence, and the CLI."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from shoprec.cli import main
from shoprec.data import Catalog, Dataset, Interactions, SequenceContext, temporal_split
from shoprec.datasets import make_synthetic_shop
from shoprec.exceptions import ArtifactError
from shoprec.models import ADAPTOR_PARAMETERS, Recommender, TextSequence, load_recommender
from shoprec.nn import TextSequenceNetwork
from shoprec.transfer import (
    PlatformSampler,
    PretrainedTextSequence,
    adapt,
    combine_platforms,
    platform_dataset,
    platform_shares,
    pretrain,
    subsample_users,
)

N_GROUPS = 4
PER_GROUP = 4
# Items of a group share a nonsense word (the hashing encoder makes such titles similar); each
# platform prefixes its own word(s), and all platforms reuse the raw ids g{g}i{j}.
WORDS = ["zorblax", "quindle", "mepharo", "trivvet"]
SMALL = {
    "encoder": "hashing",
    "hidden": 16,
    "n_layers": 1,
    "n_heads": 2,
    "max_len": 6,
    "dropout": 0.0,
    "n_experts": 2,
    "lr": 2e-2,
    "batch_size": 8,
    "max_epochs": 20,
    "patience": None,
    "random_state": 0,
    "num_threads": 1,  # tiny networks: more threads only contend
}


def _platform(name: str, kind: str, n_users: int, seed: int) -> Dataset:
    """Users alternate between a group and its partner group (0 and 1, 2 and 3), viewing then
    buying; real (ms) timestamps."""
    rng = np.random.default_rng(seed)
    rows, t = [], 0
    for user in range(n_users):
        group = int(rng.integers(N_GROUPS))
        picks = {group: rng.permutation(PER_GROUP), group ^ 1: rng.permutation(PER_GROUP)}
        for step in range(int(rng.integers(3, 5))):
            g = group if step % 2 == 0 else group ^ 1
            t += 1 + int(rng.integers(600))
            kind_of_event = "purchase" if step % 2 else "view"
            item = f"g{g}i{picks[g][step // 2]}"
            rows.append((f"u{user}", item, kind_of_event, 1_600_000_000_000 + t * 1000))
    events = pd.DataFrame(rows, columns=["user_id", "item_id", "event_type", "timestamp"])
    items = [(f"g{g}i{j}", f"{kind} {WORDS[g]}") for g in range(N_GROUPS) for j in range(PER_GROUP)]
    catalog = Catalog(pd.DataFrame(items, columns=["item_id", "title"]).assign(platform=name))
    split = temporal_split(Interactions(events.assign(platform=name)))
    return Dataset(name=name, catalog=catalog, split=split)


@pytest.fixture(scope="module")
def sources() -> list[Dataset]:
    return [_platform("a", "gadget", 150, 0), _platform("b", "doohickey", 50, 1)]


@pytest.fixture(scope="module")
def target() -> Dataset:
    """Unseen ids and titles; the hashing encoder cannot generalise to unseen words (a sentence
    encoder can), so the new titles combine the sources' words."""
    return _platform("c", "gadget doohickey", 80, 2)


@pytest.fixture(scope="module")
def pretrained(sources: list[Dataset]) -> PretrainedTextSequence:
    return pretrain(sources, temperature=0.5, **SMALL)


# -- data helpers -----------------------------------------------------------------------------
def test_platform_shares_follow_the_temperature() -> None:
    counts = {"big": 900, "small": 100}
    assert platform_shares(counts, 1.0) == pytest.approx({"big": 0.9, "small": 0.1})
    assert platform_shares(counts, 0.0) == pytest.approx({"big": 0.5, "small": 0.5})
    assert platform_shares(counts, 0.5) == pytest.approx({"big": 0.75, "small": 0.25})
    with pytest.raises(ValueError, match="temperature"):
        platform_shares(counts, -1.0)


def test_sampler_fills_each_share_repeating_no_more_than_needed() -> None:
    codes = np.array([0] * 90 + [1] * 10)
    sampler = PlatformSampler(codes, [0.5, 0.5], size=100, random_state=0)
    first, second = sampler.draw(), sampler.draw()
    for drawn in (first, second):
        big, small = drawn[drawn < 90], drawn[drawn >= 90]
        assert len(big) == 50 and len(np.unique(big)) == 50  # a sample without repeats
        assert np.array_equal(np.bincount(small - 90), np.full(10, 5))  # each one 5 times
    assert set(first[first < 90]) != set(second[second < 90])  # redrawn every epoch


def test_combine_platforms_keeps_ids_and_sequences_apart(sources: list[Dataset]) -> None:
    combined = combine_platforms(sources)
    ids = combined.catalog.item_ids
    assert len(ids) == 32 and ids[0] == "a:g0i0" and ids[16] == "b:g0i0"
    assert list(combined.catalog.frame["platform"]) == ["a"] * 16 + ["b"] * 16
    events = combined.interactions.frame
    assert len(events) == sum(len(s.interactions) for s in sources)
    # raw user u0 exists on both platforms; after prefixing each sequence stays on its own
    assert set(events.loc[events["user_id"] == "b:u0", "item_id"].str[:2]) == {"b:"}
    assert (events["user_id"].str[:2] == events["item_id"].str[:2]).all()
    with pytest.raises(ValueError, match="distinct"):
        combine_platforms([sources[0], sources[0]])


def test_platform_dataset_selects_one_platform(sources: list[Dataset]) -> None:
    combined = combine_platforms(sources)
    b = platform_dataset(combined, "b")
    assert b.name == "b" and len(b.catalog) == 16
    assert len(b.interactions) == len(sources[1].interactions)
    assert set(b.interactions.frame["platform"]) == {"b"}
    assert len(b.split.test) == (combined.split.test.frame["platform"] == "b").sum()
    with pytest.raises(ValueError, match=r"\['a', 'b'\]"):
        platform_dataset(combined, "nowhere")


def test_subsample_keeps_validation_and_test_and_takes_whole_users() -> None:
    split = make_synthetic_shop(n_users=200, n_items=60, random_state=0).split
    quarter = subsample_users(split, 0.25, random_state=3)
    tenth = subsample_users(split, 0.1, random_state=3)
    assert quarter.valid is split.valid and quarter.test is split.test
    full = split.train.frame.groupby("user_id").size()
    kept = quarter.train.frame.groupby("user_id").size()
    assert len(kept) == round(0.25 * len(full))
    assert (kept == full[kept.index]).all()  # every event of a kept user
    assert set(tenth.train.user_ids) <= set(quarter.train.user_ids)  # nested fractions
    assert subsample_users(split, 1.0).train.frame.equals(split.train.frame)
    with pytest.raises(ValueError, match="fraction"):
        subsample_users(split, 0.0)


# -- pretraining and adapting -----------------------------------------------------------------
def test_pretraining_reports_windows_and_tempered_shares(
    pretrained: PretrainedTextSequence,
) -> None:
    windows = pretrained.windows
    assert pretrained.platforms == ["a", "b"] and windows["a"] > 2 * windows["b"] > 0
    expected = platform_shares(windows, 0.5)
    assert pretrained.shares == pytest.approx(expected)
    assert pretrained.shares["b"] > windows["b"] / sum(windows.values())  # upweighted
    assert pretrained.model.item_ids_[0] == "a:g0i0" and not pretrained.model.use_ids


def _partner_share(model: Recommender) -> float:
    """Mean share of the top 3 in the partner of the history item's group, over every one-item
    history."""
    items = [f"g{g}i{j}" for g in range(N_GROUPS) for j in range(PER_GROUP)]
    ids, _ = model.recommend_histories([model.encode_items([item]) for item in items], k=3)
    partner = [f"g{int(item[1]) ^ 1}" for item in items]
    return float(np.mean([[i[:2] == p for i in row] for p, row in zip(partner, ids, strict=True)]))


def test_zero_shot_ranks_a_never_seen_catalog_from_text(
    pretrained: PretrainedTextSequence, target: Dataset
) -> None:
    model = adapt(pretrained, None, target.catalog, mode="zero_shot")
    assert list(model.item_ids_) == list(target.catalog.item_ids) and model.histories_ == {}
    # 4 of the 15 other items are partners (chance about 0.27); an untrained network's residual
    # stream favours the history item's own group instead
    assert _partner_share(model) == 1.0
    untrained = copy.deepcopy(model)
    torch.manual_seed(0)
    architecture = {k: SMALL[k] for k in ("hidden", "n_layers", "n_heads", "max_len", "dropout")}
    untrained.network_ = TextSequenceNetwork(
        model.network_.text_embeddings, n_id_items=0, n_event_types=2, use_ids=False,
        n_experts=2, **architecture,  # type: ignore[arg-type]
    ).eval()  # fmt: skip
    assert _partner_share(untrained) <= 0.25
    with_events = adapt(pretrained, target.split.train, target.catalog, mode="zero_shot")
    assert set(with_events.histories_) == set(target.split.train.user_ids)
    history = [np.array([0, 5])]
    np.testing.assert_allclose(with_events.score(history), model.score(history), rtol=1e-5)


def _changed(before: TextSequence, after: TextSequence) -> set[str]:
    old = dict(before.network_.named_parameters())
    return {
        name
        for name, value in after.network_.named_parameters()
        if name != "item_embedding.weight" and not bool((value == old[name]).all())
    }


@pytest.mark.parametrize("mode", ["adaptor", "full"])
def test_adapt_trains_exactly_the_intended_parameters(
    pretrained: PretrainedTextSequence, target: Dataset, mode: str
) -> None:
    source = copy.deepcopy(pretrained.model)
    model = adapt(pretrained, target.split.train, target.catalog, mode=mode, max_epochs=2)
    assert model.context_ == SequenceContext(("purchase", "view"), uses_time=True)
    changed = _changed(source, model)
    names = {name for name, _ in model.network_.named_parameters()} - {"item_embedding.weight"}
    adaptor_part = {name for name in names if name.startswith(ADAPTOR_PARAMETERS)}
    assert changed == (adaptor_part if mode == "adaptor" else names)
    start_before = source.network_.item_embedding.weight[source.network_.start_token]
    start_after = model.network_.item_embedding.weight[model.network_.start_token]
    assert bool((start_before == start_after).all()) == (mode == "adaptor")
    # the pretrained model itself is untouched
    assert _changed(source, pretrained.model) == set()


def test_adaptor_with_ids_also_trains_the_target_id_table(
    pretrained: PretrainedTextSequence, target: Dataset
) -> None:
    model = adapt(
        pretrained, target.split.train, target.catalog, mode="adaptor", use_ids=True, max_epochs=2
    )
    assert model.use_ids and model.network_.item_embedding.weight.shape[0] == 16 + 2
    assert _changed(pretrained.model, model) <= {
        name for name, _ in model.network_.named_parameters() if name.startswith(ADAPTOR_PARAMETERS)
    }


def test_adapt_refuses_what_it_cannot_do(
    pretrained: PretrainedTextSequence, target: Dataset
) -> None:
    train, catalog = target.split.train, target.catalog
    with pytest.raises(ValueError, match="mode"):
        adapt(pretrained, train, catalog, mode="partial")
    with pytest.raises(ValueError, match="hidden"):
        adapt(pretrained, train, catalog, hidden=32)
    with pytest.raises(ValueError, match="use_ids"):
        adapt(pretrained, train, catalog, mode="zero_shot", use_ids=True)
    with pytest.raises(ValueError, match="needs target training events"):
        adapt(pretrained, None, catalog, mode="full")


def test_popularity_prior_is_per_platform_and_uses_the_targets_own_counts(
    sources: list[Dataset], target: Dataset, pretrained: PretrainedTextSequence
) -> None:
    pre = pretrain(sources, temperature=0.5, popularity_prior=True, **{**SMALL, "max_epochs": 4})
    network = pre.model.network_
    for lo, hi in ((0, 16), (16, 32)):  # each platform's items standardised on their own
        assert abs(float(network.popularity[lo:hi].mean())) < 1e-5
    weight = float(network.popularity_weight.detach())
    assert weight != 0.0
    zero = adapt(pre, target.split.train, target.catalog, mode="zero_shot")
    counts = target.split.train.frame["item_id"].value_counts()
    logs = np.log1p([counts.get(i, 0) for i in target.catalog.item_ids])
    expected = (logs - logs.mean()) / logs.std()
    np.testing.assert_allclose(zero.network_.popularity.numpy(), expected, rtol=1e-5)
    assert float(zero.network_.popularity_weight.detach()) == pytest.approx(weight)
    adapted = adapt(pre, target.split.train, target.catalog, mode="adaptor", max_epochs=2)
    assert "popularity_weight" in _changed(zero, adapted)
    with pytest.raises(ValueError, match="popularity_prior"):
        adapt(pretrained, target.split.train, target.catalog, popularity_prior=True)


def test_save_load_round_trip(
    pretrained: PretrainedTextSequence, target: Dataset, tmp_path: Path
) -> None:
    loaded = PretrainedTextSequence.load(pretrained.save(tmp_path / "pretrained"))
    assert loaded.shares == pretrained.shares and loaded.windows == pretrained.windows
    history = [np.array([0, 3, 20]), np.array([], dtype=np.int64)]
    np.testing.assert_allclose(loaded.model.score(history), pretrained.model.score(history))
    model = adapt(loaded, target.split.train, target.catalog, mode="adaptor", max_epochs=1)
    again = load_recommender(model.save(tmp_path / "adapted"))
    assert isinstance(again, TextSequence)
    history = [np.array([0, 3, 12]), np.array([], dtype=np.int64)]
    np.testing.assert_allclose(again.score(history), model.score(history), rtol=1e-5)
    with pytest.raises(ArtifactError):
        PretrainedTextSequence.load(tmp_path / "adapted")


# -- command line -----------------------------------------------------------------------------
def test_cli_pretrain_then_adapt(sources: list[Dataset], target: Dataset, tmp_path: Path) -> None:
    """Three platforms in one ingested shop: pretrain on two, adapt to the third."""
    frames = [p.interactions.frame for p in [*sources, target]]
    for frame in frames:  # the same 30 days each, so the shop's global temporal cut splits all
        ms = frame["timestamp"] - frame["timestamp"].min()
        frame["timestamp"] = 1_600_000_000_000 + ms * (30 * 86_400_000 // ms.max())
    events = pd.concat(frames, ignore_index=True)
    events["timestamp"] = pd.to_datetime(events["timestamp"], unit="ms").dt.strftime(
        "%Y-%m-%dT%H:%M:%S"
    )
    events = events[["user_id", "item_id", "event_type", "timestamp", "platform"]]
    items = pd.concat([p.catalog.frame for p in [*sources, target]], ignore_index=True)
    items["item_id"] = items["platform"] + "-" + items["item_id"]  # one catalog: unique ids
    events["item_id"] = events["platform"] + "-" + events["item_id"]
    events.to_csv(tmp_path / "events.csv", index=False)
    items[["item_id", "title", "platform"]].to_csv(tmp_path / "items.csv", index=False)
    runner = CliRunner()
    shop = tmp_path / "shop"
    args = ["--events", str(tmp_path / "events.csv"), "--catalog", str(tmp_path / "items.csv")]
    ingest = ["ingest", *args, "--split", "temporal", "--out", str(shop)]
    assert runner.invoke(main, ingest).exit_code == 0
    params = [f"--param={k}={json.dumps(v)}" for k, v in {**SMALL, "max_epochs": 2}.items()]
    result = runner.invoke(
        main,
        ["pretrain", "--data", str(shop), "--platforms", "a,b", "--temperature", "0", *params,
         "--out", str(tmp_path / "pre")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "epoch shares: a 0.50, b 0.50" in result.output
    result = runner.invoke(
        main,
        ["adapt", "--from", str(tmp_path / "pre"), "--data", str(shop), "--platform", "c",
         "--mode", "adaptor", "--fraction", "0.5", "--param", "max_epochs=1", "--evaluate",
         "--out", str(tmp_path / "adapted")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "transfer-adaptor" in result.output
    model = load_recommender(tmp_path / "adapted")
    assert sorted(model.item_ids_) == sorted(
        f"c-g{g}i{j}" for g in range(4) for j in range(PER_GROUP)
    )
    bad = runner.invoke(
        main, ["adapt", "--from", str(tmp_path / "pre"), "--data", str(shop), "--platform", "x",
               "--out", str(tmp_path / "x")],
    )  # fmt: skip
    assert bad.exit_code == 2 and "platform 'x'" in bad.output
