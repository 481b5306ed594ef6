"""Clean ingestion: ids, duplicates, cancellations and returns fixed with counts; warnings."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from shoprec.cli import main
from shoprec.data import CleaningConfig, CleaningReport, Interactions, inspect_events
from shoprec.datasets import read_shop_files
from shoprec.exceptions import ValidationError

MAPPING = {
    "user_id": "Customer",
    "item_id": "Code",
    "timestamp": "Date",
    "quantity": "Qty",
    "order_id": "Invoice",
    "price": "Price",
    "title": "Name",
}
ROWS = [
    # Invoice, Code, Name, Qty, Date, Price, Customer
    ("1", "A1", "RED MUG", 6, "2011-01-01 10:00", 2.0, "13085.0"),
    ("1", "A1", "RED MUG", 6, "2011-01-01 10:00", 2.0, "13085.0"),  # exact duplicate
    ("1", "POST", "POSTAGE", 1, "2011-01-01 10:00", 18.0, "13085.0"),
    ("2", "B2", "BLUE BOWL", 4, "2011-01-02 10:00", 3.0, " 13085 "),
    ("C3", "B2", "BLUE BOWL", -4, "2011-01-03 10:00", 3.0, "13085"),  # cancels invoice 2
    ("4", "A1", "RED MUG", 10, "2011-01-04 10:00", 2.0, "20000"),
    ("5", "A1", "RED MUG", -3, "2011-01-05 10:00", 2.0, "20000"),  # partial return
    ("C6", "Z9", "GREEN JUG", -1, "2011-01-06 10:00", 5.0, "30000"),  # bought before the file
]


@pytest.fixture
def orders(tmp_path: Path) -> Path:
    columns = ["Invoice", "Code", "Name", "Qty", "Date", "Price", "Customer"]
    path = tmp_path / "orders.csv"
    pd.DataFrame(ROWS, columns=columns).to_csv(path, index=False)
    return path


def read(path: Path, **options: object):
    return read_shop_files(path, event_mapping=MAPPING, default_event_type="purchase", **options)


def test_safe_fixes_are_applied_and_counted(orders: Path) -> None:
    _, interactions, reports = read(orders)
    frame = interactions.frame
    assert set(frame["user_id"]) == {"13085", "20000"}  # float ids and whitespace normalised
    assert "B2" not in set(frame["item_id"])  # the cancelled purchase is gone
    assert "Z9" not in set(frame["item_id"])  # and no cancellation is stored as a purchase
    mug = frame[(frame["user_id"] == "20000") & (frame["item_id"] == "A1")]
    assert mug["quantity"].tolist() == [7]  # 10 bought, 3 returned
    assert len(frame[(frame["user_id"] == "13085") & (frame["item_id"] == "A1")]) == 1
    report = CleaningReport.from_dict(reports[-1].cleaning)
    assert report.fixes["exact duplicate rows removed"] == 1
    assert report.fixes["cancellation and return rows netted against earlier events"] == 3
    assert report.fixes["events fully cancelled and removed"] == 1
    assert report.fixes["events partly returned (quantity reduced)"] == 1
    assert report.fixes["cancellations without an earlier event in the file, dropped"] == 1
    assert report.fixes["ids normalised (whitespace, float-looking integers, case)"] == 3
    [finding] = report.warnings
    assert finding.check == "non_product_items" and "--exclude-items POST" in finding.fix


def test_strict_makes_warnings_errors_and_exclusion_fixes_them(orders: Path) -> None:
    with pytest.raises(ValidationError, match=r"--strict.*--exclude-items POST"):
        read(orders, cleaning=CleaningConfig(strict=True))
    _, interactions, _ = read(orders, cleaning=CleaningConfig(strict=True, exclude_items=("POST",)))
    assert "POST" not in set(interactions.frame["item_id"])


def test_without_cleaning_returns_are_bad_rows_as_before(orders: Path) -> None:
    mapping = {k: v for k, v in MAPPING.items() if k not in ("order_id", "price", "title")}
    with pytest.raises(ValidationError, match="non-positive quantity"):
        read_shop_files(orders, event_mapping=mapping, default_event_type="purchase", cleaning=None)


def test_inspect_events_finds_case_variants_and_odd_timestamps() -> None:
    frame = pd.DataFrame(
        {
            "user_id": ["u1", "U1", "u2", "u3"],
            "item_id": ["m", "M", "x", "y"],
            "event_type": "purchase",
            "timestamp": [1_000, 2_000, 3_000, 4_000],  # seconds read as milliseconds
        }
    )
    checks = {f.check: f for f in inspect_events(Interactions(frame))}
    assert checks["user_id_case_variants"].count == 1
    assert "--fold-case" in checks["item_id_case_variants"].fix
    assert checks["timestamp_unit"].fix == "--timestamp-unit s"
    floats = frame.assign(user_id=["13085.0", "13085", " 7", "u3"])
    checks = {f.check: f for f in inspect_events(Interactions(floats))}
    assert checks["user_id_not_normalised"].count == 2
    future = frame.assign(timestamp=[4_102_444_800_000] * 4)  # 2100
    assert {f.check for f in inspect_events(Interactions(future))} >= {"timestamp_future"}


def test_ingest_cli_reports_fixes_and_strict_exits(orders: Path, tmp_path: Path) -> None:
    maps = [arg for k, v in MAPPING.items() for arg in ("--map", f"{k}={v}")]
    base = ["ingest", "--events", str(orders), *maps, "--event-type", "purchase"]
    result = CliRunner().invoke(main, [*base, "--split", "loo", "--out", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    assert "exact duplicate rows removed: 1" in result.output
    strict = CliRunner().invoke(
        main, [*base, "--split", "loo", "--strict", "--out", str(tmp_path / "e")]
    )
    assert strict.exit_code != 0 and not (tmp_path / "e").exists()
    fixed = CliRunner().invoke(
        main,
        [*base, "--split", "loo", "--strict", "--exclude-items", "POST",
         "--out", str(tmp_path / "f")],
    )  # fmt: skip
    assert fixed.exit_code == 0, fixed.output
