"""``shoprec.toml``: parsing with clear errors, ``shoprec init``, and flags over file settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from shoprec.cli import main
from shoprec.config import ShoprecConfig, load_config, read_config
from shoprec.datasets import data_dir_origin, load_dataset, resolve_data_dir
from shoprec.exceptions import ConfigError


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_sections_keys_and_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    config = read_config(
        write(
            tmp_path / "shoprec.toml",
            '[data]\nevents = "orders.csv"\ndataset = "amazon2014_beauty"\nout = "data/shop"\n'
            'split = "loo"\n[data.columns]\nuser_id = "CustomerID"\n'
            '[model]\nname = "als"\n[model.params]\nfactors = 8\n[rerank]\ndiversity = 0.3\n',
        )
    )
    assert config.data.events == str(tmp_path / "orders.csv")  # relative to the file
    assert config.data.out == str(tmp_path / "data/shop")
    assert config.data.dataset == "amazon2014_beauty"  # a name stays a name
    assert config.data.columns == {"user_id": "CustomerID"}
    assert config.model.params == {"factors": 8} and config.rerank.diversity == 0.3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[dat]\n", r"unknown section \[dat\]"),
        ("[data]\nsplitt = 'loo'\n", "unknown key 'splitt' in \\[data\\]"),
        ("[data]\nsplit = 'random'\n", "choose 'loo' or 'temporal'"),
        ("[model]\nseed = 'zero'\n", r"\[model\] seed = 'zero' should be a int"),
        ("[data]\nlenient = 1\n", "should be a bool"),
        ("[data.columns]\nuser_id = 3\n", "maps fields to column names"),
        ("[data\n", "not valid TOML"),
    ],
)
def test_bad_files_name_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "shoprec.toml", text)
    with pytest.raises(ConfigError, match=message) as caught:
        read_config(path)
    assert str(path.name) in str(caught.value)


def test_missing_named_file_and_empty_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHOPREC_CONFIG", raising=False)
    assert load_config() == ShoprecConfig()


def test_data_dir_order_flag_env_project_file_site_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "venv"
    site.mkdir()
    monkeypatch.setattr("sys.prefix", str(site))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHOPREC_DATA_DIR", raising=False)
    monkeypatch.delenv("SHOPREC_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_dir_origin() == (tmp_path / "home/.cache/shoprec/data", "the default")
    write(site / "shoprec.toml", f'[data]\ndir = "{tmp_path / "site-data"}"\n')
    assert resolve_data_dir() == tmp_path / "site-data"  # make install's file, in or out of make
    write(tmp_path / "shoprec.toml", '[data]\ndir = "project-data"\n')
    assert data_dir_origin()[0] == tmp_path / "project-data"
    monkeypatch.setenv("SHOPREC_DATA_DIR", str(tmp_path / "env"))
    assert resolve_data_dir() == tmp_path / "env"
    assert resolve_data_dir(tmp_path / "flag") == tmp_path / "flag"


def order_file(tmp_path: Path) -> Path:
    lines = ["InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID"]
    for user in range(12):
        for day in range(5):
            sku = (user * 3 + day) % 9
            lines.append(
                f"{1000 + user},S{sku},THING {sku},1,2024-03-{day + 1:02d} 10:{user:02d}:00,"
                f"{sku + 1}.5,{17000 + user}"
            )
    return write(tmp_path / "orders.csv", "\n".join(lines) + "\n")


def test_init_then_every_command_reads_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    orders = order_file(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHOPREC_CONFIG", raising=False)
    runner = CliRunner()
    result = runner.invoke(main, ["init", "--events", "orders.csv", "--catalog", "orders.csv"])
    assert result.exit_code == 0, result.output
    config = read_config(tmp_path / "shoprec.toml")
    assert dict(config.data.columns) == {
        "user_id": "CustomerID", "item_id": "StockCode", "timestamp": "InvoiceDate",
        "quantity": "Quantity",
    }  # fmt: skip
    assert dict(config.data.item_columns) == {
        "item_id": "StockCode", "title": "Description", "price": "UnitPrice"
    }  # fmt: skip
    assert config.data.split == "temporal" and config.data.events == str(orders)
    assert "split: temporal ('InvoiceDate' holds dates" in result.output
    assert runner.invoke(main, ["init"]).exit_code != 0  # never overwritten unasked

    result = runner.invoke(main, ["ingest"])  # everything from the file
    assert result.exit_code == 0, result.output
    assert "split for evaluation: temporal" in result.output
    shop = tmp_path / "data" / tmp_path.name
    assert load_dataset(str(shop)).catalog.item("S4").title == "THING 4"
    assert read_config(tmp_path / "shoprec.toml").model.name == "auto"  # build chooses
    result = runner.invoke(main, ["train", "--out", "m"])  # train needs a named model
    assert result.exit_code != 0 and "--model" in result.output
    text = (tmp_path / "shoprec.toml").read_text().replace('name = "auto"', 'name = "als"')
    (tmp_path / "shoprec.toml").write_text(text)
    # the flag wins over the file: trained with popularity, not the file's als
    result = runner.invoke(main, ["train", "--model", "popularity", "--out", "m"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "m" / "manifest.json").read_text())["model"] == "popularity"
    assert "temporal" in result.output
    result = runner.invoke(main, ["train", "--split", "loo", "--out", "m2"])
    assert result.exit_code == 0, result.output
    assert "Split(loo" in result.output and "training als" in result.output


def test_init_leaves_numeric_timestamps_to_the_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "e.csv", "user,item,ts\nu1,a,1\nu1,b,2\nu2,a,3\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["init", "--events", "e.csv"])
    assert result.exit_code == 0, result.output
    assert "split: not chosen ('ts' holds numbers" in result.output
    assert read_config(tmp_path / "shoprec.toml").data.split is None


def test_a_broken_config_is_one_clear_line(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.toml", "[model]\nnmae = 'als'\n")
    result = CliRunner().invoke(main, ["--config", str(path), "models"])
    assert result.exit_code == 2
    assert "unknown key 'nmae' in [model]" in result.output and "Traceback" not in result.output


def test_config_reaches_build_validate_and_store_import(tmp_path: Path) -> None:
    from shoprec.cli import main as group
    from shoprec.cli._defaults import command_defaults

    (tmp_path / "data").mkdir()
    config = read_config(
        write(
            tmp_path / "shoprec.toml",
            '[data]\nevents = "e.csv"\nout = "data/shop"\n[data.columns]\nuser_id = "c"\n'
            '[store]\nurl = "sqlite:///x.db"\n[service]\npipeline = "pipelines/shop"\n',
        )
    )
    defaults = command_defaults(group, config)
    assert defaults["build"]["out"] == str(tmp_path / "pipelines/shop")  # what serve serves
    assert defaults["build"]["dataset"] == str(tmp_path / "data/shop")  # what ingest wrote
    assert defaults["serve"]["pipeline"] == str(tmp_path / "pipelines/shop")
    assert defaults["validate"]["events_path"] == str(tmp_path / "e.csv")
    assert "dataset" not in defaults["validate"]  # the raw files, as ingest will read them
    assert defaults["store"]["import"]["store_url"] == "sqlite:///x.db"
    assert defaults["ingest"]["mapping"] == ["user_id=c"]
