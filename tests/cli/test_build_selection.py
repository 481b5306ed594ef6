"""`shoprec build` chooses its model by validation, cheap baselines included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from shoprec.cli import main
from shoprec.datasets import make_synthetic_shop
from shoprec.evaluation import CHEAP_BASELINES, choose_model

pytest.importorskip("lightgbm")


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_build_without_a_model_keeps_the_best_on_validation(tmp_path: Path) -> None:
    out = tmp_path / "pipeline"
    built = run("build", "--dataset", "synthetic", "--encoder", "hashing", "--out", str(out))
    assert built.exit_code == 0, built.output
    table = built.output.split("choosing the model", 1)[1]
    for name in ("popularity-recent", "covisitation", "als", "ltr"):
        assert name in table
    chosen = built.output.split("building a ", 1)[1].split(" pipeline", 1)[0]
    rows = [line.split() for line in table.splitlines() if line.split()[:1] == [chosen]]
    assert rows, built.output
    manifest = json.loads((out / "manifest.json").read_text())
    expected = {"popularity-recent": "popularity"}.get(chosen, chosen)
    assert manifest["config"]["model"] == expected


def test_a_named_model_losing_to_a_cheap_baseline_is_kept_with_a_warning() -> None:
    shop = make_synthetic_shop(n_users=500, n_items=150, random_state=2)
    selection = choose_model(shop, named="popularity", encoder="hashing")
    assert selection.chosen == "popularity" and selection.model.name == "popularity"
    assert {run.name for run in selection.runs} == set(CHEAP_BASELINES)
    scores = [run.result.metrics["ndcg@10"] for run in selection.runs]
    assert scores == sorted(scores, reverse=True)
    assert selection.runs[0].name != "popularity"
    assert selection.warning and "below the cheap baseline" in selection.warning
    best = choose_model(shop, candidates=("popularity", "covisitation"), encoder="hashing")
    assert best.chosen == best.runs[0].name and best.warning is None
