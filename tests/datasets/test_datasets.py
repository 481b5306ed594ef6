"""Named datasets: registry, data directory, offline errors, fetching, and each real adapter."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import SHARED_DATA, requires_shared_data
from shoprec.data import Dataset
from shoprec.datasets import (
    DATASETS,
    DownloadSource,
    _datasets,
    available_datasets,
    load_dataset,
    resolve_data_dir,
)
from shoprec.exceptions import DatasetNotFoundError

NAMES = [
    "amazon2023_electronics",
    "amazon2014_beauty",
    "amazon2023_beauty_health_handmade",
    "uci_online_retail",
    "movielens_small",
]


def ms(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1000)


def events(dataset: Dataset) -> pd.DataFrame:
    """All events of the split (cheaper than ``dataset.interactions``, which re-validates)."""
    split = dataset.split
    return pd.concat([split.train.frame, split.valid.frame, split.test.frame], ignore_index=True)


def counts(dataset: Dataset) -> tuple[int, int, int]:
    frame = events(dataset)
    return frame["user_id"].nunique(), frame["item_id"].nunique(), len(frame)


# -- registry and data directory


def test_registry_names_and_specs() -> None:
    assert list(DATASETS) == NAMES
    for name, spec in DATASETS.items():
        assert spec.name == name
        assert spec.protocol in {"temporal", "loo"}
        assert spec.files and spec.source and spec.homepage.startswith("https://")
        for source in spec.downloads:
            assert source.url.startswith("https://")
            assert source.sha256 is None or len(source.sha256) == 64
    fetchable = {name for name, spec in DATASETS.items() if spec.downloads}
    assert fetchable == {"uci_online_retail", "movielens_small"}
    assert DATASETS["uci_online_retail"].downloads[0].requires == ("openpyxl",)
    assert DATASETS["amazon2014_beauty"].protocol == "loo"


def test_resolve_data_dir_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPREC_DATA_DIR", str(tmp_path / "env"))
    assert resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_dir(str(tmp_path / "arg")) == tmp_path / "arg"
    assert resolve_data_dir() == tmp_path / "env"
    monkeypatch.delenv("SHOPREC_DATA_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr("sys.prefix", str(tmp_path / "venv"))  # no site shoprec.toml there
    monkeypatch.chdir(tmp_path)  # nor a project one
    assert resolve_data_dir() == tmp_path / "home" / ".cache" / "shoprec" / "data"


def test_available_datasets_needs_every_file(tmp_path: Path) -> None:
    assert available_datasets(tmp_path) == []
    folder = tmp_path / "amazon2023_beauty_health_handmade"
    folder.mkdir()
    (folder / "items.parquet").touch()
    assert available_datasets(tmp_path) == []
    (folder / "interactions.parquet").touch()
    assert available_datasets(tmp_path) == ["amazon2023_beauty_health_handmade"]


@requires_shared_data("movielens_latest_small_2016")
def test_available_datasets_on_shared_data() -> None:
    present = available_datasets(SHARED_DATA)
    expected = [n for n in NAMES if (SHARED_DATA / DATASETS[n].folder).is_dir()]
    assert present == expected


# -- offline errors


def test_unknown_name_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match=r"unknown dataset 'nope'.*movielens_small"):
        load_dataset("nope", data_dir=tmp_path)


def test_missing_amazon_subset_says_what_to_put_where(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError) as caught:
        load_dataset("amazon2014_beauty", data_dir=tmp_path)
    message = str(caught.value)
    assert "'amazon2014_beauty'" in message
    assert str(tmp_path / "amazon2014_beauty_5core") in message
    for name in ("sequential_data.txt", "datamaps.json", "Amazon_Beauty.item"):
        assert name in message
    assert "github.com/Wenyueh/LLM-RecSys-ID" in message
    assert "github.com/parepic/RecBole_SAE" in message
    assert "cannot be downloaded" in message
    assert list(tmp_path.iterdir()) == []  # nothing was created


def test_download_false_names_the_official_download(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError) as caught:
        load_dataset("movielens_small", data_dir=tmp_path, download=False)
    message = str(caught.value)
    assert "download=False" in message
    assert str(tmp_path / "movielens_latest_small_2016") in message
    assert "movies.csv, ratings.csv, tags.csv" in message
    assert "ml-latest-small.zip" in message
    assert list(tmp_path.iterdir()) == []


# -- fetching from local files (never the network)

RATINGS = "userId,movieId,rating,timestamp\n1,10,4.0,1000\n1,20,3.5,2000\n2,10,5.0,3000\n"
MOVIES = 'movieId,title,genres\n10,"Heat (1995)",Action|Crime\n20,Up (2009),(no genres listed)\n'
TAGS = "userId,movieId,tag,timestamp\n1,10,heist,1500\n2,10,Pacino,3100\n2,10,heist,3200\n"


def make_movielens_zip(path: Path) -> str:
    """A tiny ml-latest-small.zip; returns its sha256."""
    with zipfile.ZipFile(path, "w") as zipped:
        zipped.writestr("ml-latest-small/", "")
        zipped.writestr("ml-latest-small/ratings.csv", RATINGS)
        zipped.writestr("ml-latest-small/movies.csv", MOVIES)
        zipped.writestr("ml-latest-small/tags.csv", TAGS)
        zipped.writestr("ml-latest-small/README.txt", "tiny")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def use_source(monkeypatch: pytest.MonkeyPatch, name: str, **changes: object) -> None:
    """Point ``name``'s first download elsewhere for the duration of a test."""
    spec = DATASETS[name]
    source = dataclasses.replace(spec.downloads[0], **changes)  # type: ignore[arg-type]
    monkeypatch.setitem(DATASETS, name, dataclasses.replace(spec, downloads=(source,)))


def test_fetch_from_local_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "ml-latest-small.zip"
    digest = make_movielens_zip(archive)
    use_source(monkeypatch, "movielens_small", url=archive.as_uri(), sha256=digest)
    data_dir = tmp_path / "data"
    dataset = load_dataset("movielens_small", data_dir=data_dir, progress=True)
    folder = data_dir / "movielens_latest_small_2016"
    assert sorted(p.name for p in data_dir.iterdir()) == [folder.name]  # no temp files left
    assert (folder / "ratings.csv").read_text() == RATINGS
    record = json.loads((folder / "FETCHED.json").read_text())
    assert record["sha256"] == digest and record["url"] == archive.as_uri()
    assert "2018" in record["note"]  # the download is the newer release, and says so
    assert counts(dataset) == (2, 2, 3)
    heat = dataset.catalog.item("10")
    assert heat.description == "heist, Pacino"
    assert heat.category == ("Movies", "Action, Crime")
    assert dataset.catalog.item("20").category == ("Movies",)
    assert available_datasets(data_dir) == ["movielens_small"]
    # Present now: a second load reads the files without fetching.
    archive.unlink()
    assert counts(load_dataset("movielens_small", data_dir=data_dir)) == (2, 2, 3)


def test_fetch_completes_a_partial_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "ml.zip"
    use_source(monkeypatch, "movielens_small", url=archive.as_uri(), sha256=None)
    make_movielens_zip(archive)
    folder = tmp_path / "data" / "movielens_latest_small_2016"
    folder.mkdir(parents=True)
    (folder / "movies.csv").write_text("stale")
    (folder / "notes.txt").write_text("mine")
    load_dataset("movielens_small", data_dir=tmp_path / "data")
    assert (folder / "movies.csv").read_text() == MOVIES
    assert (folder / "notes.txt").read_text() == "mine"


def test_checksum_mismatch_installs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "ml.zip"
    make_movielens_zip(archive)
    use_source(monkeypatch, "movielens_small", url=archive.as_uri(), sha256="0" * 64)
    data_dir = tmp_path / "data"
    with pytest.raises(DatasetNotFoundError, match=r"sha256 \w+ does not match"):
        load_dataset("movielens_small", data_dir=data_dir)
    assert list(data_dir.iterdir()) == []


def test_unreachable_download_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = (tmp_path / "absent.zip").as_uri()
    use_source(monkeypatch, "movielens_small", url=url)
    with pytest.raises(DatasetNotFoundError) as caught:
        load_dataset("movielens_small", data_dir=tmp_path / "data")
    message = str(caught.value)
    assert "fetching failed" in message and url in message
    assert "Put these files in" in message


def test_missing_converter_is_named_before_downloading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = (tmp_path / "absent.zip").as_uri()  # never opened: the requirement check comes first
    use_source(monkeypatch, "uci_online_retail", url=url, requires=("no_such_module_x1",))
    with pytest.raises(DatasetNotFoundError, match="needs no_such_module_x1"):
        load_dataset("uci_online_retail", data_dir=tmp_path)


def test_uci_workbook_is_converted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("openpyxl", reason="converting the UCI .xlsx needs openpyxl")
    rows = pd.DataFrame(
        {
            "InvoiceNo": ["536365", "536365", "C536379", "536380"],
            "StockCode": ["85123A", "71053", "85123A", "85123A"],
            "Description": ["WHITE HEART", "LANTERN", "WHITE HEART", "WHITE HEART"],
            "Quantity": [6, 2, -1, 4],
            "InvoiceDate": pd.to_datetime(["2010-12-01 08:26"] * 3 + ["2010-12-02 09:00"]),
            "UnitPrice": [2.55, 3.39, 2.55, 2.75],
            "CustomerID": [17850.0, 17850.0, 17850.0, 13047.0],
            "Country": ["United Kingdom"] * 4,
        }
    )
    book = tmp_path / "Online Retail.xlsx"
    rows.to_excel(book, index=False)
    archive = tmp_path / "online+retail.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(book, "Online Retail.xlsx")
    use_source(monkeypatch, "uci_online_retail", url=archive.as_uri(), sha256=None)
    dataset = load_dataset("uci_online_retail", data_dir=tmp_path / "data")
    assert counts(dataset) == (2, 2, 3)
    assert dataset.catalog.item("85123A").price == pytest.approx(2.65)


def test_custom_spec_with_file_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fetch machinery is generic: any spec with a download source works."""
    payload = tmp_path / "payload.bin"
    payload.write_bytes(b"x" * 3_000_000)  # several read chunks

    def unpack(archive: Path, out: Path) -> None:
        (out / "data.bin").write_bytes(archive.read_bytes())

    seen: list[int] = []

    def loader(folder: Path, step: _datasets.Step) -> tuple:
        seen.append((folder / "data.bin").stat().st_size)
        raise RuntimeError("stop after the fetch")

    digest = hashlib.sha256(payload.read_bytes()).hexdigest()
    spec = dataclasses.replace(
        DATASETS["movielens_small"],
        name="toy",
        folder="toy",
        files=("data.bin",),
        loader=loader,
        downloads=(DownloadSource(url=payload.as_uri(), sha256=digest, unpack=unpack),),
    )
    monkeypatch.setitem(DATASETS, "toy", spec)
    with pytest.raises(RuntimeError, match="stop after the fetch"):
        load_dataset("toy", data_dir=tmp_path / "data")
    assert seen == [3_000_000]


# -- the real adapters (counts from each folder's PROVENANCE.md)


@requires_shared_data("amazon2023_electronics_subset")
def test_amazon2023_electronics() -> None:
    dataset = load_dataset("amazon2023_electronics", data_dir=SHARED_DATA, download=False)
    assert counts(dataset) == (15_266, 9_671, 131_154)
    split = dataset.split
    assert split.protocol == "temporal"
    assert (len(split.train), len(split.valid), len(split.test)) == (111_481, 6_557, 13_116)
    frame = events(dataset)
    assert set(frame["platform"]) == {"amazon_electronics"}
    assert set(frame["event_type"]) == {"purchase"}
    assert frame.duplicated(["user_id", "item_id"]).sum() == 1_286  # repeats kept
    assert split.train.frame["rating"].value_counts()[5.0] == 78_602
    assert frame["timestamp"].min() >= ms("2018-12-31") and frame["timestamp"].max() < ms(
        "2023-03-21"
    )
    items = dataset.catalog.frame
    assert len(items) == 9_671 and items["price"].notna().sum() == 7_845
    assert (items["brand"] != "").sum() == 9_666 and items["category"].nunique() == 492
    case = dataset.catalog.item("B08GFTPQ5B")
    assert case.category == ("Electronics", "Hard Shell Cases") and case.price == 27.99
    assert case.platform == "amazon_electronics" and "image_url" in case.attributes


@requires_shared_data("amazon2014_beauty_5core")
def test_amazon2014_beauty() -> None:
    dataset = load_dataset("amazon2014_beauty", data_dir=SHARED_DATA, download=False)
    assert counts(dataset) == (22_363, 12_101, 198_502)
    split = dataset.split
    assert split.protocol == "loo" and not split.train.has_timestamps
    assert len(split.test) == len(split.valid) == 22_363  # every user has >= 5 items
    maps = json.loads((SHARED_DATA / "amazon2014_beauty_5core/datamaps.json").read_text())
    first = events(dataset).query("user_id == @maps['id2user']['1']")
    assert first["item_id"].tolist() == [maps["id2item"][str(i)] for i in range(1, 6)]
    assert first["timestamp"].tolist() == [0, 1, 2, 3, 4]  # positions, not times
    items = dataset.catalog.frame
    assert (items["title"] != "").sum() == 12_094 and (items["brand"] != "").sum() == 10_003
    assert not items["brand"].str.contains("&amp;").any()
    assert set(items["platform"]) == {"amazon_beauty"}
    palette = dataset.catalog.item("7806397051")
    assert palette.category == ("Beauty", "Makeup", "Face", "Concealers & Neutralizers")
    assert (palette.brand, palette.price) == ("COKA", 5.04)
    assert palette.attributes == {"sales_rank": "10486", "sales_type": "Beauty"}
    perfume = dataset.catalog.item("9788072216")
    assert perfume.category == ("Beauty", "Fragrance", "Women's", "Eau de Parfum")


@requires_shared_data("amazon2023_beauty_health_handmade")
def test_amazon2023_beauty_health_handmade() -> None:
    name = "amazon2023_beauty_health_handmade"
    dataset = load_dataset(name, data_dir=SHARED_DATA, download=False)
    assert counts(dataset) == (3_744, 3_700, 25_023)
    assert dataset.split.protocol == "temporal"
    frame = events(dataset)
    assert frame["platform"].value_counts().to_dict() == {
        "All_Beauty": 11_585,
        "Health_and_Personal_Care": 8_803,
        "Handmade_Products": 4_635,
    }
    assert frame.duplicated(["user_id", "item_id"]).sum() == 588
    platforms = frame.groupby("user_id")["platform"].nunique().value_counts()
    assert platforms.to_dict() == {2: 2_003, 1: 1_304, 3: 437}
    assert frame["timestamp"].min() >= ms("2007-02-21") and frame["timestamp"].max() < ms(
        "2023-08-09"
    )
    items = dataset.catalog.frame.set_index("item_id")
    assert len(items) == 3_700
    assert set(items["platform"]) == {"All_Beauty", "Health_and_Personal_Care", "Handmade_Products"}
    handmade = items["category"] == "Handmade"
    assert (items.loc[handmade, "platform"] == "Handmade_Products").all()
    # "AMAZON FASHION" / "Amazon Home" items take the platform their reviews came from.
    other = items["category"].isin(["AMAZON FASHION", "Amazon Home"])
    assert other.sum() == 4 and (items.loc[other, "platform"] == "Handmade_Products").all()


@requires_shared_data("uci_online_retail")
def test_uci_online_retail(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="shoprec.datasets"):
        dataset = load_dataset("uci_online_retail", data_dir=SHARED_DATA, download=False)
    assert "removed 9288 cancellation, 10624 non-positive quantity and 135080" in caplog.text
    assert counts(dataset) == (4_339, 3_665, 397_924)
    frame = events(dataset)
    assert frame["quantity"].min() >= 1 and frame["quantity"].sum() > len(frame)
    assert set(frame["platform"]) == {"uci_online_retail"}
    assert frame["timestamp"].min() == ms("2010-12-01T08:26:00")
    assert frame["timestamp"].max() == ms("2011-12-09T12:50:00")
    assert not frame["user_id"].str.contains(".", regex=False).any()  # 17850, not 17850.0
    holder = dataset.catalog.item("85123A")
    assert holder.title == "WHITE HANGING HEART T-LIGHT HOLDER" and holder.price == 2.95
    assert len(dataset.catalog) == 3_665


@requires_shared_data("movielens_latest_small_2016")
def test_movielens_small() -> None:
    dataset = load_dataset("movielens_small", data_dir=SHARED_DATA, download=False)
    assert counts(dataset) == (671, 9_066, 100_004)
    assert len(dataset.catalog) == 9_125  # every movie, rated or not
    frame = events(dataset)
    assert set(frame["event_type"]) == {"rating"} and set(frame["platform"]) == {"movielens"}
    first = frame[(frame["user_id"] == "1") & (frame["item_id"] == "31")]
    assert first[["timestamp", "rating"]].values.tolist() == [[1_260_759_144_000, 2.5]]
    assert frame["timestamp"].min() >= ms("1995-01-09") and frame["timestamp"].max() < ms(
        "2016-10-17"
    )
    toy = dataset.catalog.item("1")
    assert toy.category == ("Movies", "Adventure, Animation, Children, Comedy, Fantasy")
    assert toy.attributes == {"genres": "Adventure|Animation|Children|Comedy|Fantasy"}
    assert "Pixar" in toy.description.split(", ")
    split = dataset.split
    assert split.protocol == "temporal"
    assert split.train.frame["timestamp"].max() <= split.test.frame["timestamp"].min()
    assert np.isclose(len(split.test) / len(frame), 0.1, atol=0.01)
