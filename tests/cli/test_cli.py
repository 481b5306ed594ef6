"""The command line end to end on small data: each command's output and files, and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from shoprec.cli import main


def run(*args: str, data_dir: Path | None = None) -> Result:
    env = {"SHOPREC_DATA_DIR": str(data_dir)} if data_dir else {}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def shop_files(tmp_path: Path) -> tuple[Path, Path]:
    """A shop's orders and products in its own column names; one order row is broken."""
    events = tmp_path / "orders.csv"
    rows = ["CustomerID,SKU,OrderDate"]
    for user in range(30):
        for step in range(6):
            rows.append(f"c{user},p{(user + step) % 12},2024-01-{step + 1:02d} 10:{user:02d}:00")
    rows.append("c99,p1,not-a-date")
    events.write_text("\n".join(rows) + "\n")
    catalog = tmp_path / "products.csv"
    products = [f"p{i},Product {i},Brand{i % 3}" for i in range(12)]
    catalog.write_text("SKU,Name,Maker\n" + "\n".join(products) + "\n")
    return events, catalog


def ingest_args(events: Path, catalog: Path, out: Path) -> list[str]:
    return [
        "ingest",
        "--events", str(events), "--catalog", str(catalog),
        "--map", "user_id=CustomerID", "--map", "item_id=SKU", "--map", "timestamp=OrderDate",
        "--event-type", "purchase", "--split", "temporal",
        "--item-map", "item_id=SKU", "--item-map", "title=Name", "--item-map", "brand=Maker",
        "--out", str(out),
    ]  # fmt: skip


def test_ingest_strict_fails_naming_the_bad_row_and_writes_nothing(
    shop_files: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "shop"
    result = CliRunner().invoke(main, ingest_args(*shop_files, out))
    assert result.exit_code == 2
    assert "orders.csv" in result.output and "row 181" in result.output
    assert "timestamp" in result.output
    assert not out.exists()


def test_ingest_train_evaluate_recommend(shop_files: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "shop"
    ingested = run(*ingest_args(*shop_files, out), "--lenient")
    assert ingested.exit_code == 0, ingested.output
    assert "1 rejected" in ingested.output
    assert (out / "events.parquet").is_file()

    model_dir = tmp_path / "model"
    trained = run(
        "train", "--dataset", str(out), "--model", "covisitation", "--out", str(model_dir)
    )
    assert trained.exit_code == 0, trained.output
    assert (model_dir / "manifest.json").is_file()

    report = tmp_path / "report"
    evaluated = run(
        "evaluate", "--model-dir", str(model_dir), "--dataset", str(out), "--report", str(report)
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert "ndcg@10" in evaluated.output
    assert json.loads((report / "report.json").read_text())["results"][0]["metrics"]["users"] > 0

    recommended = run(
        "recommend", "--model-dir", str(model_dir), "-k", "3", "--json", "c1", "nobody"
    )
    payload = json.loads(recommended.output)
    assert len(payload["c1"]) == 3 and len(payload["nobody"]) == 3
    seen = {f"p{(1 + step) % 12}" for step in range(4)}  # c1's training purchases
    assert not seen & {entry["item_id"] for entry in payload["c1"]}


def test_demo_on_synthetic_shop_writes_report(tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = run("demo", "--dataset", "synthetic", "--models", "popularity,covisitation",
                 "--encoder", "hashing", "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "covisitation" in result.output
    assert "building the recommendation pipeline around covisitation" in result.output
    assert "Because you" in result.output  # explained lists of real users
    assert (out / "pipeline" / "manifest.json").is_file()
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "popularity" in html
    metrics = {
        r["model"]: r["metrics"] for r in json.loads((out / "report.json").read_text())["results"]
    }
    assert metrics["covisitation"]["ndcg@10"] > metrics["popularity"]["ndcg@10"]


def test_demo_falls_back_to_synthetic_without_data(tmp_path: Path) -> None:
    result = run("demo", "--models", "popularity", "--encoder", "hashing",
                 "--out", str(tmp_path / "r"), data_dir=tmp_path)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "synthetic" in result.output


def test_datasets_lists_missing_and_models_lists_baselines(tmp_path: Path) -> None:
    listed = run("datasets", data_dir=tmp_path)
    assert "amazon2014_beauty" in listed.output and "missing" in listed.output
    assert {"popularity", "covisitation", "als", "sasrec"} <= set(run("models").output.split())


def test_errors_are_one_clear_line(tmp_path: Path) -> None:
    missing = CliRunner().invoke(
        main, ["train", "--dataset", "amazon2014_beauty", "--model", "popularity", "--out", "m"],
        env={"SHOPREC_DATA_DIR": str(tmp_path)},
    )  # fmt: skip
    assert missing.exit_code == 2
    assert "amazon2014_beauty" in missing.output and "Traceback" not in missing.output
    unknown = CliRunner().invoke(
        main, ["train", "--dataset", "synthetic", "--model", "nope", "--out", str(tmp_path / "m")]
    )
    assert unknown.exit_code != 0 and "nope" in unknown.output


def test_encode_search_and_profile_on_synthetic_shop() -> None:
    encoded = run("encode", "--dataset", "synthetic", "--encoder", "hashing")
    assert encoded.exit_code == 0, encoded.output
    assert "items of synthetic encoded with hashing" in encoded.output

    found = run("search", "noise cancelling headphones", "--dataset", "synthetic",
                "--encoder", "hashing", "-k", "3")  # fmt: skip
    assert found.exit_code == 0, found.output
    lines = [line for line in found.output.splitlines() if line.strip()[:2] in {"1.", "2.", "3."}]
    assert len(lines) == 3 and all("Headphones" in line for line in lines)

    user = "u00476"
    shown = run("profile", user, "--dataset", "synthetic", "--encoder", "hashing", "--json")
    portrait = json.loads(shown.output[shown.output.index("{") :])
    assert portrait["user_id"] == user and portrait["event_counts"]
    personal = run("search", "headphones", "--user", user, "--dataset", "synthetic",
                   "--encoder", "hashing")  # fmt: skip
    assert personal.exit_code == 0 and f"personalised for {user}" in personal.output

    nobody = CliRunner().invoke(
        main, ["profile", "nobody", "--dataset", "synthetic", "--encoder", "hashing"]
    )
    assert nobody.exit_code == 2 and "'nobody' has no events" in nobody.output


def test_build_a_pipeline_and_explain_its_lists(tmp_path: Path) -> None:
    out = tmp_path / "pipeline"
    built = run("build", "--dataset", "synthetic", "--model", "als", "--encoder", "hashing",
                "--rerank", "mmr", "--diversity", "0.3", "--max-per-category", "3",
                "--out", str(out))  # fmt: skip
    assert built.exit_code == 0, built.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["rerank"] == {
        "method": "mmr", "diversity": 0.3, "caps": {"max_per_category": 3, "max_per_brand": None},
        "novelty_weight": 0.0, "exclude_seen": True, "pool": None,
    }  # fmt: skip
    assert manifest["metrics"]["dataset"] == "synthetic" and manifest["metrics"]["ndcg@10"] > 0

    shown = run("explain", "--pipeline", str(out), "--dataset", "synthetic", "-k", "4",
                "--json", "u00476")  # fmt: skip
    assert shown.exit_code == 0, shown.output
    recs = json.loads(shown.output)["u00476"]
    assert len(recs) == 4 and all(r["reason"] and r["sources"] for r in recs)
    text = run("explain", "--pipeline", str(out), "--dataset", "synthetic", "u00476", "nobody")
    assert "u00476 (14 events)" in text.output and "nobody (0 events)" in text.output


@pytest.mark.slow
def test_train_ranker_on_a_pipeline_and_serve_it_from_onnx(tmp_path: Path) -> None:
    pipeline = tmp_path / "pipeline"
    run("build", "--dataset", "synthetic", "--model", "als", "--encoder", "hashing",
        "--out", str(pipeline))  # fmt: skip
    ranker = tmp_path / "ranker"
    trained = run("train-ranker", "--dataset", "synthetic", "--retriever", str(pipeline),
                  "--mode", "frozen", "--users", "40", "--epochs", "1",
                  "--out", str(ranker))  # fmt: skip
    assert trained.exit_code == 0, trained.output
    assert (ranker / "onnx" / "model.int8.onnx").is_file()
    with_ranker = tmp_path / "with-ranker"
    built = run("build", "--dataset", "synthetic", "--model", "als", "--encoder", "hashing",
                "--ranker", str(ranker / "onnx"), "--out", str(with_ranker))  # fmt: skip
    assert built.exit_code == 0, built.output
    shown = run("explain", "--pipeline", str(with_ranker), "--dataset", "synthetic", "--json",
                "u00476")  # fmt: skip
    assert len(json.loads(shown.output)["u00476"]) == 10


@pytest.mark.slow
def test_pretrain_and_adapt_the_ranker(tmp_path: Path) -> None:
    pretrained = tmp_path / "pretrained"
    done = run("pretrain-ranker", "--platforms", "synthetic", "--mode", "frozen", "--users", "30",
               "--max-length", "32", "--out", str(pretrained))  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "synthetic (valid):" in done.output and (pretrained / "manifest.json").is_file()
    for mode in ("zero_shot", "lora"):
        out = tmp_path / mode
        adapted = run("adapt-ranker", "--from", str(pretrained), "--platform", "synthetic",
                      "--mode", mode, "--fraction", "0.5", "--users", "30", "--max-length", "32",
                      "--evaluate", "--out", str(out))  # fmt: skip
        assert adapted.exit_code == 0, adapted.output
        assert "test AUC" in adapted.output and (out / "onnx" / "model.int8.onnx").is_file()
    assert "adapting (lora) on" in adapted.output


def test_sigterm_stops_a_command_with_exit_143_and_no_output(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "report"
    process = subprocess.Popen(
        [sys.executable, "-c", "from shoprec.cli import main; main()", "demo", "--dataset",
         "synthetic", "--models", "sasrec", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    seen = ""
    while "epoch" not in seen and time.monotonic() < deadline:  # training has started
        seen += process.stderr.read(64) if process.stderr else ""
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err[-500:]  # a shell's "killed by SIGTERM", never 0
    assert "terminated (SIGTERM)" in err
    assert not (out / "report.html").exists()


def test_unknown_demo_model_is_one_line() -> None:
    result = CliRunner().invoke(main, ["demo", "--dataset", "synthetic", "--models", "nope"])
    assert result.exit_code == 2 and "unknown baseline" in result.output
    assert "Traceback" not in result.output
