"""The shop simulator against the live service: the A/B test picks the better pipeline, the
service's CTR equals the simulator's truth; drift and the online report from the same run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from shoprec.cli import main
from shoprec.datasets import make_synthetic_shop, synthetic_tastes
from shoprec.online import (
    ClickModel,
    DataProfile,
    ReplayCustomers,
    SyntheticCustomers,
    measure_drift,
    measured_against_truth,
    run_experiment,
    simulate,
)
from shoprec.pipeline import Pipeline, PipelineConfig
from shoprec.serve import ServiceSettings, create_app
from shoprec.store import SQLiteStore, import_events

SHOP = {"n_users": 300, "n_items": 200, "random_state": 0}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A synthetic shop, its history in a store, and two pipelines: popularity and ALS."""
    root = tmp_path_factory.mktemp("sim")
    data = make_synthetic_shop(**SHOP)
    paths = {}
    for model in ("popularity", "als"):
        pipeline = Pipeline(PipelineConfig(model=model, encoder="hashing"))
        paths[model] = str(pipeline.fit(data.split.train, data.catalog).save(root / model))
    db = root / "shop.db"
    with SQLiteStore(db) as store:
        import_events(store, data.interactions, data.catalog)
    return {"data": data, "db": db, "root": root, **paths}


def test_synthetic_tastes_match_the_generated_shop() -> None:
    tastes = synthetic_tastes(**SHOP)
    data = make_synthetic_shop(**SHOP)
    assert tastes.item_ids == data.catalog.item_ids.tolist()
    assert tastes.attraction.shape == (300, 200)
    assert tastes.attraction.min() > 0 and tastes.attraction.max() < 1
    # customers bought what attracts them: bought items sit in the top of their attraction
    bought = data.interactions.frame.query("event_type == 'purchase'")
    user = {u: i for i, u in enumerate(tastes.user_ids)}
    item = {p: j for j, p in enumerate(tastes.item_ids)}
    ranks = [
        (tastes.attraction[user[u]] > tastes.attraction[user[u], item[p]]).mean()
        for u, p in zip(bought["user_id"], bought["item_id"], strict=True)
    ]
    assert np.mean(ranks) < 0.25


def test_the_ab_test_picks_the_better_pipeline_and_the_measured_ctr_is_the_truth(
    shop: dict[str, Any],
) -> None:
    settings = ServiceSettings(pipeline=shop["popularity"], store_url=f"sqlite:///{shop['db']}",
                               impression_flush_s=0.05)  # fmt: skip
    with TestClient(create_app(settings)) as client:
        truth, status = run_experiment(
            client, "pop-vs-als", {"A": shop["popularity"], "B": shop["als"]},
            SyntheticCustomers(synthetic_tastes(**SHOP)), visits=500, settle_s=0.3,
            random_state=1,
        )  # fmt: skip
        rows = {r["variant"]: r for r in measured_against_truth(truth, status)}
        assert truth.errors == 0
        assert rows["B"]["expected_ctr"] > 1.3 * rows["A"]["expected_ctr"]  # B is better
        assert rows["B"]["p_value"] < 0.05 and rows["B"]["ctr"] > rows["A"]["ctr"]
        for row in rows.values():
            assert row["measured_impressions"] == row["impressions"]
            assert row["ctr_relative_error"] <= 0.01
        aa_truth, aa_status = run_experiment(
            client, "aa", {"A": shop["als"], "B": shop["als"]},
            SyntheticCustomers(synthetic_tastes(**SHOP)), visits=300, settle_s=0.3,
            random_state=2,
        )  # fmt: skip
        assert aa_status["experiment"]["aa"]
        aa = {r["variant"]: r for r in measured_against_truth(aa_truth, aa_status)}
        assert all(r["ctr_relative_error"] <= 0.01 for r in aa.values())
        low, high = aa["A"]["ctr_ci"]
        assert low <= aa["B"]["ctr"] <= high or aa["B"]["p_value"] > 0.01
        metrics = client.get("/v1/metrics").text
    # the simulated clicks are recent, the imported history is old: the gauges are set
    assert 'shoprec_drift{kind="new_item_share"}' in metrics
    assert 'shoprec_drift{kind="event_type"}' in metrics


def test_replay_customers_click_what_they_really_chose_later(shop: dict[str, Any]) -> None:
    test = shop["data"].split.test
    customers = ReplayCustomers(test, hit=0.5, miss=0.0)
    user = customers.user_ids[0]
    wanted = sorted(customers.wanted[user])
    assert customers.attraction(user, [wanted[0], "nothing"]).tolist() == [0.5, 0.0]
    assert ClickModel(decay=1.0).examination(3).tolist() == [1.0, 0.5, 1 / 3]


def test_drift_measures_what_changed() -> None:
    data = make_synthetic_shop(**SHOP)
    frame = data.interactions.frame
    reference = DataProfile.of(frame, data.catalog)
    same = measure_drift(reference, DataProfile.of(frame, data.catalog))
    assert same == {"event_type": 0.0, "category": 0.0, "item": 0.0, "new_item_share": 0.0}
    only_views = frame[frame["event_type"] == "view"]
    shifted = measure_drift(reference, DataProfile.of(only_views, data.catalog))
    assert shifted["event_type"] == pytest.approx(1 - (frame["event_type"] == "view").mean())
    early = frame[frame["timestamp"] < frame["timestamp"].quantile(0.5)]
    late = frame[frame["timestamp"] >= frame["timestamp"].quantile(0.9)]
    drift = measure_drift(DataProfile.of(early, data.catalog), DataProfile.of(late, data.catalog))
    new_items = set(late["item_id"]) - set(early["item_id"]) - {""}
    expected = late["item_id"].isin(new_items).sum() / (late["item_id"] != "").sum()
    assert drift["new_item_share"] == pytest.approx(expected) and expected > 0
    assert DataProfile.from_dict(reference.to_dict()) == reference


def test_report_online_writes_html_with_plots(shop: dict[str, Any], tmp_path: Path) -> None:
    url = f"sqlite:///{shop['db']}"
    settings = ServiceSettings(pipeline=shop["als"], store_url=url, impression_flush_s=0.05)
    with TestClient(create_app(settings)) as client:
        simulate(client, SyntheticCustomers(synthetic_tastes(**SHOP)), visits=60)
    result = CliRunner().invoke(
        main, ["report", "online", "--store", url, "--out", str(tmp_path / "r")],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    page = (tmp_path / "r" / "online.html").read_text()
    assert page.count("data:image/png;base64,") >= 2 and "revenue_per_impression" in page
    assert "Drift" in page
