"""``ingest_files`` writes a dataset directory atomically; ``load_ingested`` reads it back split."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from shoprec.data import read_events, temporal_split
from shoprec.datasets import DATASET_FORMAT_VERSION, ingest_files, load_ingested
from shoprec.exceptions import ArtifactError, DatasetNotFoundError, ValidationError

EVENT_MAP = {"user_id": "Customer", "item_id": "SKU", "timestamp": "Date"}
ITEM_MAP = {"item_id": "SKU", "title": "Name", "brand": "Maker"}


@pytest.fixture
def orders(tmp_path: Path) -> Path:
    """8 customers x 5 daily purchases over 6 products, in the shop's own column names."""
    rows = ["Customer,SKU,Date"]
    for user in range(8):
        for day in range(5):
            rows.append(f"c{user},p{(user + day) % 6},2024-03-{day + 1:02d} 09:{user:02d}:00")
    path = tmp_path / "orders.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def products(tmp_path: Path) -> Path:
    path = tmp_path / "products.csv"
    rows = [f"p{i},Product {i},Maker{i % 2}" for i in range(6)]
    path.write_text("SKU,Name,Maker\n" + "\n".join(rows) + "\n")
    return path


def ingest(events: Path, catalog: Path | None, out: Path, **options: object) -> list:
    return ingest_files(
        events,
        catalog,
        out=out,
        event_mapping=EVENT_MAP,
        item_mapping=ITEM_MAP,
        default_event_type="purchase",
        **{"split": "temporal", **options},  # type: ignore[arg-type]
    )


def test_round_trip(orders: Path, products: Path, tmp_path: Path) -> None:
    out = tmp_path / "shop"
    reports = ingest(orders, products, out)
    assert [r.source for r in reports] == [str(products), str(orders)]
    assert [r.rows_loaded for r in reports] == [6, 40]
    assert sorted(p.name for p in out.iterdir()) == [
        "catalog.parquet",
        "events.parquet",
        "manifest.json",
    ]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format_version"] == DATASET_FORMAT_VERSION
    assert manifest["sources"]["events"] == str(orders.resolve())
    assert manifest["counts"] == {"events": 40, "users": 8, "items": 6, "catalog_items": 6}
    assert manifest["has_timestamps"] is True and manifest["reports"][1]["rows_read"] == 40

    dataset = load_ingested(out)
    assert dataset.name == "shop"
    assert dataset.catalog.item("p1").title == "Product 1"
    assert dataset.catalog.item("p1").brand == "Maker1"
    assert dataset.split.protocol == "temporal"
    expected, _ = read_events(orders, mapping=EVENT_MAP, default_event_type="purchase")
    pd.testing.assert_frame_equal(dataset.interactions.frame, expected.frame)
    reference = temporal_split(expected)
    pd.testing.assert_frame_equal(dataset.split.test.frame, reference.test.frame)
    assert len(dataset.split.test) == 4  # the last 10% of 40 events


def test_without_catalog_a_minimal_one_is_made(orders: Path, tmp_path: Path) -> None:
    out = tmp_path / "shop"
    reports = ingest(orders, None, out)
    assert len(reports) == 1
    dataset = load_ingested(out)
    assert sorted(dataset.catalog.item_ids) == [f"p{i}" for i in range(6)]
    assert dataset.catalog.item("p3").title == "p3"
    assert json.loads((out / "manifest.json").read_text())["catalog_generated"] is True


def test_strict_failure_leaves_nothing(orders: Path, products: Path, tmp_path: Path) -> None:
    with orders.open("a") as handle:
        handle.write("c9,p1,someday\n")
    out = tmp_path / "nested" / "shop"
    with pytest.raises(ValidationError, match=r"orders.csv, row 41, field 'timestamp'"):
        ingest(orders, products, out)
    assert not out.exists()
    assert list(out.parent.iterdir()) == []  # the staging directory is gone too


def test_events_on_items_missing_from_the_catalog(
    orders: Path, products: Path, tmp_path: Path
) -> None:
    with orders.open("a") as handle:
        handle.write("c1,p99,2024-03-06 10:00:00\n")
    with pytest.raises(ValidationError, match=r"row 41, field 'item_id': item not in the catalog"):
        ingest(orders, products, tmp_path / "strict")

    out = tmp_path / "lenient"
    reports = ingest(orders, products, out, lenient=True)
    assert reports[1].rows_rejected == 1
    assert reports[1].rejects_path == str(out / "events.rejects.csv")
    rejected = pd.read_csv(out / "events.rejects.csv", dtype=str)
    assert rejected[["SKU", "_row", "_field"]].values.tolist() == [["p99", "41", "item_id"]]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["reports"][1]["rejects_path"] == "events.rejects.csv"
    assert manifest["reports"][1]["reasons"] == {"item_id: item not in the catalog:": 1}
    assert len(load_ingested(out).interactions) == 40


def test_all_rows_rejected_is_an_error(tmp_path: Path) -> None:
    events = tmp_path / "e.csv"
    events.write_text("Customer,SKU,Date\n,p1,2024-01-01\n")
    out = tmp_path / "shop"
    with pytest.raises(ValidationError, match="no valid events to store") as caught:
        ingest(events, None, out, lenient=True)
    assert not out.exists()
    # the error names the rejected rows' file, and that file exists for the user to read
    kept = tmp_path / "shop.events.rejects.csv"
    assert str(kept) in str(caught.value)
    assert pd.read_csv(kept, dtype=str)["_field"].tolist() == ["user_id"]


def test_order_only_events_use_leave_one_out(tmp_path: Path) -> None:
    events = tmp_path / "e.jsonl"
    lines = [
        json.dumps({"user_id": f"u{u}", "item_id": f"i{u + s}"}) for u in range(3) for s in range(4)
    ]
    events.write_text("\n".join(lines) + "\n")
    out = tmp_path / "shop"
    ingest_files(events, out=out, default_event_type="view")
    dataset = load_ingested(out)
    assert dataset.split.protocol == "loo" and not dataset.interactions.has_timestamps
    assert sorted(dataset.split.test.frame["item_id"]) == ["i3", "i4", "i5"]


def test_reingest_replaces_but_foreign_directories_are_kept(
    orders: Path, products: Path, tmp_path: Path
) -> None:
    out = tmp_path / "shop"
    ingest(orders, None, out)
    with pytest.raises(ArtifactError, match=r"already holds an ingested dataset.*--overwrite"):
        ingest(orders, products, out)  # re-ingesting never replaces a dataset unasked
    assert load_ingested(out).catalog.item("p2").title == "p2"
    ingest(orders, products, out, overwrite=True)
    assert load_ingested(out).catalog.item("p2").title == "Product 2"

    foreign = tmp_path / "docs"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(ArtifactError, match="not an ingested dataset"):
        ingest(orders, products, foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_load_ingested_errors(orders: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="no ingested dataset at"):
        load_ingested(tmp_path / "nothing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ArtifactError, match=r"manifest\.json is missing"):
        load_ingested(empty)

    out = tmp_path / "shop"
    ingest(orders, None, out)
    (out / "events.parquet").write_bytes(b"not parquet")
    with pytest.raises(ArtifactError, match=r"events\.parquet is unreadable"):
        load_ingested(out)
    (out / "events.parquet").unlink()
    with pytest.raises(ArtifactError, match=r"events\.parquet is missing"):
        load_ingested(out)

    manifest = json.loads((out / "manifest.json").read_text())
    manifest["format_version"] = DATASET_FORMAT_VERSION + 1
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="upgrade shoprec"):
        load_ingested(out)
    (out / "manifest.json").write_text("{broken")
    with pytest.raises(ArtifactError, match="unreadable"):
        load_ingested(out)


def test_split_is_chosen_never_guessed(orders: Path, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"--split temporal .* or --split loo"):
        ingest(orders, None, tmp_path / "unchosen", split=None)
    assert not (tmp_path / "unchosen").exists()
    ingest(orders, None, tmp_path / "loo", split="loo")
    dataset = load_ingested(tmp_path / "loo")
    assert dataset.split.protocol == "loo"
    assert json.loads((tmp_path / "loo" / "manifest.json").read_text())["split"] == "loo"
    # one user's last event is their test target, whatever the timestamps say
    assert len(dataset.split.test) == 8
    assert load_ingested(tmp_path / "loo", split="temporal").split.protocol == "temporal"


def test_temporal_split_of_order_only_events_is_refused(tmp_path: Path) -> None:
    events = tmp_path / "e.csv"
    events.write_text("user_id,item_id\n" + "".join(f"u{i % 3},i{i}\n" for i in range(12)))
    with pytest.raises(ValidationError, match="split 'temporal' needs timestamps"):
        ingest_files(events, out=tmp_path / "s", default_event_type="view", split="temporal")


def test_legacy_dataset_without_a_recorded_split_warns(
    orders: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "shop"
    ingest(orders, None, out)
    manifest = json.loads((out / "manifest.json").read_text())
    del manifest["split"]
    (out / "manifest.json").write_text(json.dumps(manifest))
    with caplog.at_level("WARNING"):
        assert load_ingested(out).split.protocol == "temporal"
    assert "does not record its split" in caplog.text


def test_catalog_from_the_events_file_keeps_each_items_first_row(tmp_path: Path) -> None:
    lines = ["Customer,SKU,Name,Price,Date"]
    for user in range(4):
        for day in range(3):
            sku = (user + day) % 5
            lines.append(f"c{user},p{sku},Product {sku} v{user},{sku + 0.5},2024-03-0{day + 1}")
    orders = tmp_path / "order_lines.csv"
    orders.write_text("\n".join(lines) + "\n")
    out = tmp_path / "shop"
    reports = ingest_files(
        orders,
        orders,
        out=out,
        event_mapping=EVENT_MAP,
        item_mapping={"item_id": "SKU", "title": "Name", "price": "Price"},
        default_event_type="purchase",
        split="loo",
    )
    assert reports[0].rows_loaded == 5 and reports[0].rows_rejected == 0
    catalog = load_ingested(out).catalog
    assert catalog.item("p1").title == "Product 1 v0"  # the first line naming p1
    assert catalog.item("p4").price == 4.5
