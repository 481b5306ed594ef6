"""Champion / challenger retraining from the store and the model registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from shoprec.cli import main
from shoprec.data import make_synthetic_shop
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
