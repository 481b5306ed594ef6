"""The store as the source of truth: bulk import (idempotent) and datasets read back from it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from shoprec.cli import main
from shoprec.cli._app import parse_time
from shoprec.data import Dataset, Interactions
from shoprec.datasets import make_synthetic_shop
from shoprec.exceptions import ValidationError
from shoprec.store import (
    IMPORT_KEY_PREFIX,
    MemoryStore,
    SQLiteStore,
    dataset_from_store,
    import_events,
    import_keys,
)


@pytest.fixture(scope="module")
def shop() -> Dataset:
    return make_synthetic_shop(n_users=60, n_items=50, n_days=30, random_state=3)


def test_import_stores_every_event_and_the_catalog_once(shop: Dataset, tmp_path: Path) -> None:
    events = shop.interactions
    with SQLiteStore(tmp_path / "shop.db") as store:
        first = import_events(store, events, shop.catalog, batch_size=97)
        assert (first.events, first.stored, first.duplicates) == (len(events), len(events), 0)
        assert first.items == len(shop.catalog) and store.count_events() == len(events)
        again = import_events(store, events, shop.catalog, batch_size=500)
        assert (again.stored, again.duplicates) == (0, len(events))
        assert store.count_events() == len(events)
        back = store.to_interactions().frame.sort_values(["timestamp", "user_id"], kind="stable")
        sent = events.frame.sort_values(["timestamp", "user_id"], kind="stable")
        assert back["item_id"].tolist() == sent["item_id"].tolist()
        assert sorted(store.catalog().item_ids) == sorted(shop.catalog.item_ids)


def test_identical_events_stay_distinct_and_a_longer_export_adds_only_the_new(
    shop: Dataset,
) -> None:
    frame = shop.interactions.frame
    doubled = pd.concat([frame.iloc[:10], frame.iloc[:1]], ignore_index=True)  # a repeated row
    keys = import_keys(doubled)
    assert len(set(keys)) == 11 and all(k.startswith(IMPORT_KEY_PREFIX) for k in keys)
    store = MemoryStore()
    assert import_events(store, Interactions(doubled)).stored == 11
    longer = pd.concat([doubled, frame.iloc[10:25]], ignore_index=True)
    result = import_events(store, Interactions(longer), batch_size=4)
    assert (result.stored, result.duplicates) == (15, 11)
    assert store.count_events() == 26


def test_a_bad_event_stops_the_import_and_a_rerun_completes_it(shop: Dataset) -> None:
    frame = shop.interactions.frame.iloc[:30].copy()
    bad = frame.copy()
    bad.loc[bad.index[20], "user_id"] = ""
    store = MemoryStore()
    with pytest.raises(ValidationError, match="user_id"):
        import_events(store, Interactions(bad), batch_size=10)
    assert store.count_events() == 20  # the two batches before the bad one were committed
    result = import_events(store, Interactions(frame), batch_size=10)
    assert (result.stored, store.count_events()) == (10, 30)


def test_dataset_from_store_splits_in_time_and_filters_since(shop: Dataset) -> None:
    store = MemoryStore()
    import_events(store, shop.interactions, shop.catalog)
    data = dataset_from_store(store)
    assert data.split.protocol == "temporal"
    assert len(data.interactions) == len(shop.interactions)
    assert len(data.catalog) == len(shop.catalog)
    cut = int(shop.interactions.frame["timestamp"].median())
    recent = dataset_from_store(store, since=cut)
    assert recent.interactions.frame["timestamp"].min() >= cut
    assert len(recent.interactions) == int((shop.interactions.frame["timestamp"] >= cut).sum())
    with pytest.raises(ValidationError, match="no events"):
        dataset_from_store(MemoryStore())


def test_parse_time_accepts_ms_dates_and_ages() -> None:
    assert parse_time("1700000000000") == 1_700_000_000_000
    assert parse_time("2024-01-02") == 1_704_153_600_000
    assert parse_time("2024-01-02T01:00:00+01:00") == 1_704_153_600_000
    assert parse_time("30d", now_ms=100 * 86_400_000) == 70 * 86_400_000
    with pytest.raises(Exception, match="not a time"):
        parse_time("yesterday")


def test_cli_imports_files_and_trains_from_the_store(tmp_path: Path) -> None:
    events = tmp_path / "orders.csv"
    rows = ["CustomerID,SKU,OrderDate"]
    for user in range(40):
        for step in range(6):
            rows.append(f"c{user},p{(user + step) % 15},2024-01-{step + 1:02d} 10:{user:02d}:00")
    events.write_text("\n".join(rows) + "\n")
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    args = [
        "store", "import", "--store", url, "--events", str(events), "--event-type", "purchase",
        "--map", "user_id=CustomerID", "--map", "item_id=SKU", "--map", "timestamp=OrderDate",
    ]  # fmt: skip
    runner = CliRunner()
    first = runner.invoke(main, args, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert "240 stored" in first.output
    again = runner.invoke(main, args, catch_exceptions=False)
    assert "0 stored, 240 already there" in again.output
    trained = runner.invoke(
        main,
        ["train", "--from-store", url, "--since", "2024-01-02", "--model", "popularity",
         "--out", str(tmp_path / "pop")],
        catch_exceptions=False,
    )  # fmt: skip
    assert trained.exit_code == 0, trained.output
    assert "training popularity on store" in trained.output
    assert (tmp_path / "pop").is_dir()
    lonely = runner.invoke(
        main,
        ["train", "--since", "30d", "--model", "popularity", "--dataset", "synthetic",
         "--out", str(tmp_path / "x")],
    )  # fmt: skip
    assert lonely.exit_code != 0 and "--since needs --from-store" in lonely.output


def test_cli_import_keeps_its_report_with_rejects_by_reason(tmp_path: Path) -> None:
    from shoprec.store import import_reports, open_store

    events = tmp_path / "orders.csv"
    rows = ["CustomerID,SKU,OrderDate"]
    rows += [f"c{u},p{u % 5},2024-01-0{u % 9 + 1} 10:00:00" for u in range(20)]
    rows += ["c99,p1,not a date", ",p2,2024-01-03 10:00:00"]
    events.write_text("\n".join(rows) + "\n")
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    args = [
        "store", "import", "--store", url, "--events", str(events), "--event-type", "purchase",
        "--map", "user_id=CustomerID", "--map", "item_id=SKU", "--map", "timestamp=OrderDate",
        "--lenient",
    ]  # fmt: skip
    answer = CliRunner().invoke(main, args, catch_exceptions=False)
    assert answer.exit_code == 0, answer.output
    with open_store(url) as store:
        (report,) = import_reports(store)
    assert report["source"] == str(events) and report["stored"] == 20
    (read,) = report["reads"]
    assert (read["rows_read"], read["rows_rejected"]) == (22, 2)
    assert sum(read["reasons"].values()) == 2 and len(read["reasons"]) == 2
