"""Champion / challenger retraining from the store and the model registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from shoprec.cli import main
from shoprec.datasets import make_synthetic_shop
from shoprec.online import (
    ModelEntry,
    RetrainConfig,
    artifact_id,
    champion,
    list_models,
    promote,
    register_model,
    retrain,
)
from shoprec.pipeline import Pipeline, PipelineConfig
from shoprec.store import MemoryStore, SQLiteStore, import_events


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("retrain")
    data = make_synthetic_shop(n_users=250, n_items=150, random_state=4)
    live = Pipeline(PipelineConfig(model="popularity", encoder="hashing"))
    live.fit(data.split.train, data.catalog).save(root / "live")
    return {"data": data, "root": root, "live": root / "live"}


def test_a_challenger_is_promoted_only_when_it_wins_by_the_margin(
    shop: dict, tmp_path: Path
) -> None:  # type: ignore[type-arg]
    store = MemoryStore()
    import_events(store, shop["data"].interactions, shop["data"].catalog)
    als = RetrainConfig(pipeline=PipelineConfig(model="als", encoder="hashing"), margin=0.0,
                        max_eval_users=200)  # fmt: skip
    first = retrain(store, tmp_path, config=als, champion_path=shop["live"])
    old, new = first.metrics["champion"]["ndcg@10"], first.metrics["challenger"]["ndcg@10"]
    assert first.promoted == (new >= old)
    assert first.champion is not None and first.champion.version == artifact_id(shop["live"])
    live = champion(store)
    assert live is not None
    assert live.version == (first.challenger.version if first.promoted else first.champion.version)
    assert Path(first.challenger.path).is_dir()
    assert first.challenger.data["events"] > 0 and "profile" in first.challenger.data
    # the saved challenger carries its training data's profile for the drift gauges
    saved = Pipeline.load(first.challenger.path)
    assert saved.metrics_["data_profile"]["events"] == first.challenger.data["events"]

    strict = RetrainConfig(pipeline=PipelineConfig(model="popularity", encoder="hashing"),
                           margin=10.0, max_eval_users=200)  # fmt: skip
    second = retrain(store, tmp_path, config=strict)
    assert not second.promoted and "kept the champion" in second.reason
    assert champion(store).version == live.version  # type: ignore[union-attr]
    statuses = {e.version: e.status for e in list_models(store)}
    assert statuses[second.challenger.version] == "rejected"
    assert list(statuses.values()).count("champion") == 1


def test_registry_promote_and_online_metrics_by_version() -> None:
    from shoprec.store import Impression

    store = MemoryStore()
    register_model(store, ModelEntry("v1", "/a", "als", "champion", 1))
    register_model(store, ModelEntry("v2", "/b", "als", "champion", 2))
    assert {e.version: e.status for e in list_models(store)} == {"v1": "retired", "v2": "champion"}
    promote(store, "v1")
    assert champion(store).version == "v1"  # type: ignore[union-attr]
    store.append_impressions([Impression("r", "u", ("a", "b"), 5, "v1")])
    (v1,) = [e for e in list_models(store) if e.version == "v1"]
    assert v1.online["impressions"] == 2 and v1.online["ctr"] == 0.0


def test_cli_retrain_once_and_list_the_registry(shop: dict[str, Any], tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with SQLiteStore(db) as store:
        import_events(store, shop["data"].interactions, shop["data"].catalog)
    url = f"sqlite:///{db}"
    runner = CliRunner()
    bad = runner.invoke(main, ["retrain", "--store", url, "--out", str(tmp_path / "m"),
                               "--champion", str(shop["live"]), "--every", "soon"])  # fmt: skip
    assert bad.exit_code != 0 and "30m, 6h or 1d" in bad.output
    ran = runner.invoke(main, ["retrain", "--store", url, "--out", str(tmp_path / "m"),
                               "--champion", str(shop["live"]), "--max-users", "100"],
                        catch_exceptions=False)  # fmt: skip
    assert ran.exit_code == 0, ran.output
    assert "promoted" in ran.output or "kept the champion" in ran.output
    listed = runner.invoke(main, ["registry", "list", "--store", url], catch_exceptions=False)
    assert listed.output.count("champion") >= 1 and "popularity" in listed.output


def test_fine_tune_starts_from_the_previous_weights_and_adds_new_items() -> None:
    import numpy as np
    import pandas as pd

    from shoprec.data import Catalog, Interactions
    from shoprec.models import create_recommender
    from shoprec.online import fine_tune

    data = make_synthetic_shop(n_users=120, n_items=60, random_state=2)
    frame = data.split.train.frame
    cut = frame["timestamp"].quantile(0.7)
    old_items = sorted(set(frame.loc[frame["timestamp"] < cut, "item_id"]) - {""})
    old_catalog = Catalog(data.catalog.frame[data.catalog.frame["item_id"].isin(old_items)])
    before = Interactions(frame[frame["timestamp"] < cut])
    previous = create_recommender("sasrec", random_state=0, max_epochs=1, hidden=16, n_heads=1)
    previous.fit(before, old_catalog)
    after = Interactions(frame[frame["timestamp"] >= cut])
    frozen = fine_tune(previous, after, data.catalog, epochs=1, lr=0.0)  # weights unchanged
    assert len(frozen.item_ids_) == len(data.catalog) > len(previous.item_ids_)
    old_rows = previous.network_.item_embedding.weight.detach().numpy()
    new_rows = frozen.network_.item_embedding.weight.detach().numpy()
    old_index = {item: i for i, item in enumerate(previous.item_ids_)}
    for j, item in enumerate(frozen.item_ids_):
        if item in old_index:
            np.testing.assert_array_equal(new_rows[j + 1], old_rows[old_index[item] + 1])
    np.testing.assert_array_equal(new_rows[-1], old_rows[-1])  # the start token
    trained = fine_tune(previous, after, data.catalog, epochs=1)
    assert not np.allclose(trained.network_.item_embedding.weight.detach().numpy(), new_rows)
    with pytest.raises(Exception, match="cannot be fine-tuned"):
        fine_tune(create_recommender("popularity").fit(before), after)
    assert pd.notna(trained.score([np.array([0, 1])])).all()


def test_incremental_retrain_fine_tunes_the_champion(tmp_path: Path) -> None:
    from shoprec.data import Interactions

    data = make_synthetic_shop(n_users=150, n_items=80, random_state=5)
    store = MemoryStore()
    import_events(store, data.interactions, data.catalog)
    config = PipelineConfig(model="sasrec", encoder="hashing",
                            model_params={"max_epochs": 1, "hidden": 16, "n_heads": 1})  # fmt: skip
    first = retrain(store, tmp_path, config=RetrainConfig(pipeline=config, max_eval_users=100))
    assert first.promoted and "no champion" in first.reason
    later = data.interactions.frame.tail(300).assign(
        timestamp=lambda f: f["timestamp"] + 2 * 86_400_000
    )  # new behaviour arrives after the champion's training data
    import_events(store, Interactions(later.reset_index(drop=True)))
    again = retrain(store, tmp_path, config=RetrainConfig(
        pipeline=config, incremental=True, incremental_epochs=1, margin=0.0, max_eval_users=100,
    ))  # fmt: skip
    assert again.champion is not None and again.champion.version == first.challenger.version
    assert again.challenger.parent == first.challenger.version
    assert set(again.metrics) == {"champion", "challenger"}
    assert again.challenger.data["last"] == int(later["timestamp"].max()) or not again.promoted
