"""What the README lists is reachable from the command line: similar items, filters (price,
category, brand, stock), the index choice, brand caps, --split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from shoprec.cli import main
from shoprec.datasets import make_synthetic_shop
from shoprec.pipeline import Pipeline


def run(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "pipeline"
    run("build", "--dataset", "synthetic", "--model", "als", "--encoder", "hashing",
        "--max-per-brand", "2", "--out", str(out))  # fmt: skip
    return out


def test_build_takes_the_brand_cap_and_records_where_its_data_came_from(pipeline_dir: Path):
    manifest = json.loads((pipeline_dir / "manifest.json").read_text())
    assert Pipeline.load(pipeline_dir).settings.rerank.caps.max_per_brand == 2
    assert manifest["metrics"]["source"] == "synthetic"
    # explain without --dataset reads histories from the dataset the pipeline was built on
    shown = run("explain", "--pipeline", str(pipeline_dir), "--json", "u00476")
    items = json.loads(shown.output[shown.output.index("{") :])["u00476"]
    catalog = Pipeline.load(pipeline_dir).catalog
    brands = [catalog.item(i["item_id"]).brand for i in items]
    assert len(items) == 10 and max(brands.count(b) for b in set(brands) if b) <= 2


def test_explain_filters_by_price_category_brand_and_stock(pipeline_dir: Path) -> None:
    catalog = Pipeline.load(pipeline_dir).catalog
    frame = catalog.frame
    brand = str(frame["brand"].replace("", None).dropna().value_counts().index[0])
    shown = run("explain", "--pipeline", str(pipeline_dir), "--json", "-k", "5",
                "--brand", brand, "--max-price", "80", "u00476")  # fmt: skip
    items = json.loads(shown.output[shown.output.index("{") :])["u00476"]
    assert items
    for entry in items:
        item = catalog.item(entry["item_id"])
        assert item.brand == brand and (item.price is None or item.price <= 80)
    category = catalog.item(items[0]["item_id"]).category[-1]
    shown = run("explain", "--pipeline", str(pipeline_dir), "--json", "-k", "5",
                "--exclude-category", category, "--min-price", "10", "u00476")  # fmt: skip
    for entry in json.loads(shown.output[shown.output.index("{") :])["u00476"]:
        item = catalog.item(entry["item_id"])
        assert category not in item.category and (item.price is None or item.price >= 10)
    text = run("explain", "--pipeline", str(pipeline_dir), "-k", "3", "--allow-out-of-stock",
               "--exclude", items[0]["item_id"], "u00476")  # fmt: skip
    assert (
        "u00476" in text.output and catalog.item(items[0]["item_id"]).title[:40] not in text.output
    )


def test_similar_items_from_a_pipeline_and_from_a_dataset_with_each_index(pipeline_dir: Path):
    shop = make_synthetic_shop()
    item = shop.catalog.item_ids[0]
    kind = shop.catalog.item(item).category[-1]
    from_pipeline = run("similar", item, "--pipeline", str(pipeline_dir), "-k", "3")
    lines = [line for line in from_pipeline.output.splitlines() if line.startswith("    ")]
    assert len(lines) == 3 and item not in "".join(lines)
    for index in ("exact", "hnsw"):
        found = run("similar", item, "--dataset", "synthetic", "--encoder", "hashing",
                    "--index", index, "-k", "3")  # fmt: skip
        titles = [line.split("  ")[-1] for line in found.output.splitlines()[1:4]]
        assert sum(kind.split()[0] in t for t in titles) >= 2, found.output
    searched = run("search", "wireless headphones", "--dataset", "synthetic", "--encoder",
                   "hashing", "--index", "hnsw", "--index-param", "ef_search=64",
                   "-k", "2")  # fmt: skip
    assert searched.output.count("Headphones") == 2
    bad = CliRunner().invoke(main, ["similar", "no-such-item", "--dataset", "synthetic"])
    assert bad.exit_code == 2 and "not in synthetic's catalog" in bad.output


def test_split_flag_resplits_a_named_dataset(tmp_path: Path) -> None:
    trained = run("train", "--dataset", "synthetic", "--model", "popularity", "--split", "loo",
                  "--out", str(tmp_path / "m"))  # fmt: skip
    assert "Split(loo" in trained.output
    evaluated = run("evaluate", "--model-dir", str(tmp_path / "m"), "--dataset", "synthetic",
                    "--split", "loo")  # fmt: skip
    assert "popularity" in evaluated.output


def test_build_chooses_the_candidate_index(tmp_path: Path) -> None:
    out = tmp_path / "hnsw"
    run("build", "--dataset", "synthetic", "--model", "als", "--encoder", "hashing",
        "--index", "hnsw", "--index-param", "ef_search=64", "--out", str(out))  # fmt: skip
    config = json.loads((out / "manifest.json").read_text())["config"]
    assert config["ann_threshold"] == 0 and config["ann_params"] == {"ef_search": 64}
    shown = run("explain", "--pipeline", str(out), "--json", "-k", "3", "u00476")
    assert len(json.loads(shown.output[shown.output.index("{") :])["u00476"]) == 3
    exact = tmp_path / "exact"
    run("build", "--dataset", "synthetic", "--model", "popularity", "--encoder", "hashing",
        "--index", "exact", "--out", str(exact))  # fmt: skip
    assert json.loads((exact / "manifest.json").read_text())["config"]["ann_threshold"] is None
