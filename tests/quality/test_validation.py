"""`shoprec validate`: the report on files, a dataset and a store; --strict exits non-zero."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from shoprec.cli import main
from shoprec.datasets import make_synthetic_shop
from shoprec.quality import AttackConfig, simulate_attack, validate_data
from shoprec.store import import_events, open_store

ROWS = [
    ("1", "A1", "RED MUG", 6, "2011-01-01 10:00", 2.0, "13085.0"),
    ("1", "A1", "RED MUG", 6, "2011-01-01 10:00", 2.0, "13085.0"),
    ("1", "POST", "POSTAGE", 1, "2011-01-01 10:00", 18.0, "13085.0"),
    ("2", "B2", "BLUE BOWL", 4, "2011-01-02 10:00", 3.0, "13085"),
    ("C3", "B2", "BLUE BOWL", -4, "2011-01-03 10:00", 3.0, "13085"),
    ("4", "m", "Mug", 1, "2011-01-04 10:00", 3.0, ""),
    ("5", "M", "Manual", 1, "2011-01-05 10:00", 0.0, "20000"),
    ("6", "m", "Mug", 2, "2011-01-06 10:00", 3.0, "20000"),
]
MAPS = {
    "user_id": "Customer",
    "item_id": "Code",
    "timestamp": "Date",
    "quantity": "Qty",
    "order_id": "Invoice",
    "price": "Price",
    "title": "Name",
}


def test_validate_files_reports_rows_fixes_and_findings(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    columns = ["Invoice", "Code", "Name", "Qty", "Date", "Price", "Customer"]
    pd.DataFrame(ROWS, columns=columns).to_csv(path, index=False)
    args = ["validate", "--events", str(path), "--event-type", "purchase"]
    args += [a for k, v in MAPS.items() for a in ("--map", f"{k}={v}")]
    report, data = tmp_path / "report.html", tmp_path / "report.json"
    result = CliRunner().invoke(main, [*args, "--report", str(report), "--json", str(data)])
    assert result.exit_code == 0, result.output
    assert "8 rows read, 4 loaded, 1 rejected" in result.output
    assert "user_id: missing user id x1" in result.output
    assert "exact duplicate rows removed: 1" in result.output
    assert "cancellation and return rows netted against earlier events: 1" in result.output
    checks = {f["check"]: f for f in json.loads(data.read_text())["findings"]}
    assert (
        "POST" in checks["non_product_items"]["fix"] and "M" in checks["non_product_items"]["fix"]
    )
    assert checks["item_id_case_variants"]["fix"].startswith("--fold-case")
    page = report.read_text()
    assert "Data validation" in page and "data:image/png;base64" in page and "--fold-case" in page
    strict = CliRunner().invoke(main, [*args, "--report", str(report), "--strict"])
    assert strict.exit_code == 1 and "under --strict" in strict.output


def test_validate_store_lists_flagged_accounts(tmp_path: Path) -> None:
    shop = make_synthetic_shop(n_users=300, n_items=40, random_state=5)
    attack = simulate_attack(shop.split.train, AttackConfig("click_bot", fraction=0.03))
    url = f"sqlite:///{tmp_path / 'events.db'}"
    with open_store(url) as store:
        import_events(store, attack.interactions, shop.catalog)
    out = tmp_path / "r.json"
    result = CliRunner().invoke(
        main, ["validate", "--store", url, "--report", str(tmp_path / "r.html"), "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    abuse = json.loads(out.read_text())["abuse"]
    assert abuse["by_kind"]["extreme"] >= len(attack.fake_users)
    assert "accounts flagged (extreme" in result.output


def test_validate_data_counts_one_event_users_and_flags_bots() -> None:
    shop = make_synthetic_shop(n_users=300, n_items=40, random_state=5)
    attack = simulate_attack(shop.split.train, AttackConfig("click_bot", fraction=0.03))
    report = validate_data(attack.interactions, shop.catalog, source="synthetic")
    per_user = attack.interactions.frame.groupby("user_id").size()
    assert report.stats["one_event_users"] == int((per_user == 1).sum())
    assert report.stats["users"] == len(per_user)
    assert report.abuse["by_kind"]["extreme"] >= len(attack.fake_users)
    assert "POST /v1/admin/abuse/scan" in report.abuse["fix"]


def test_abuse_commands_scan_list_and_release(tmp_path: Path) -> None:
    shop = make_synthetic_shop(n_users=300, n_items=40, random_state=5)
    attack = simulate_attack(shop.split.train, AttackConfig("click_bot", fraction=0.03))
    url = f"sqlite:///{tmp_path / 'events.db'}"
    with open_store(url) as store:
        import_events(store, attack.interactions, shop.catalog)
    runner = CliRunner()
    scan = runner.invoke(main, ["abuse", "scan", "--store", url])
    assert scan.exit_code == 0, scan.output
    listed = runner.invoke(main, ["abuse", "list", "--store", url, "--status", "flagged"])
    rows = [line.split("\t") for line in listed.output.strip().splitlines()]
    assert {str(u) for u in attack.fake_users} <= {row[0] for row in rows}
    bot = str(attack.fake_users[0])
    assert runner.invoke(main, ["abuse", "release", "--store", url, bot]).exit_code == 0
    released = runner.invoke(main, ["abuse", "list", "--store", url, "--status", "released"])
    assert released.output.startswith(f"{bot}\treleased")
    missing = runner.invoke(main, ["abuse", "release", "--store", url, "nobody"])
    assert missing.exit_code != 0
