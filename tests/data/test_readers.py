"""The file readers: formats, column mapping, timestamps, validation messages and the policies."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shoprec.data import IngestReport, read_catalog, read_events
from shoprec.exceptions import ValidationError

MAPPING = {"user_id": "CustomerID", "item_id": "SKU", "timestamp": "When"}
JAN1 = 1_704_067_200_000  # 2024-01-01T00:00:00Z in ms


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_with_mapping_reads_events_in_time_order(tmp_path: Path) -> None:
    path = write(
        tmp_path / "orders.csv",
        "CustomerID,SKU,When,Qty,Stars\n"
        "c1,p2,2024-01-01 00:00:02,3,\n"
        "c2,p1,2024-01-01T00:00:01Z,,4.5\n"
        "c1,p1,2024-01-01T01:00:00+01:00,1,\n",
    )
    mapping = {**MAPPING, "quantity": "Qty", "rating": "Stars"}
    interactions, report = read_events(
        path, mapping=mapping, default_event_type="purchase", platform="shop"
    )
    frame = interactions.frame
    assert frame["timestamp"].tolist() == [JAN1, JAN1 + 1000, JAN1 + 2000]
    assert frame["user_id"].tolist() == ["c1", "c2", "c1"]
    assert frame["item_id"].tolist() == ["p1", "p1", "p2"]
    assert frame["quantity"].tolist() == [1, 1, 3]  # an empty quantity means one
    assert frame["rating"].iloc[1] == 4.5 and np.isnan(frame["rating"].iloc[0])
    assert set(frame["event_type"]) == {"purchase"} and set(frame["platform"]) == {"shop"}
    assert interactions.has_timestamps
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (3, 3, 0)


@pytest.mark.parametrize(
    ("values", "unit", "expected"),
    [
        (["1704067200", "1704067200123"], "auto", [JAN1, JAN1 + 123]),  # s and ms by magnitude
        (["1704067200.5"], "auto", [JAN1 + 500]),
        (["1704067200"], "ms", [1_704_067_200]),
        (["1704067"], "s", [1_704_067_000]),
        (["2024-01-01", "2024-01-01T00:00:00.250+00:00"], "auto", [JAN1, JAN1 + 250]),
        (["Jan 1 2024 00:00:01"], "auto", [JAN1 + 1000]),  # not ISO: the slower parser
    ],
)
def test_timestamps_are_normalised_to_ms(
    tmp_path: Path, values: list[str], unit: str, expected: list[int]
) -> None:
    rows = "".join(f"u{i},i{i},view,{value}\n" for i, value in enumerate(values))
    path = write(tmp_path / "e.csv", "user_id,item_id,event_type,timestamp\n" + rows)
    interactions, _ = read_events(path, timestamp_unit=unit)
    assert sorted(interactions.frame["timestamp"].tolist()) == expected


def test_without_timestamps_file_order_is_time(tmp_path: Path) -> None:
    path = write(tmp_path / "e.csv", "user_id,item_id\nu1,b\nu1,a\nu2,c\n")
    interactions, _ = read_events(path, default_event_type="click")
    assert not interactions.has_timestamps
    assert interactions.frame["item_id"].tolist() == ["b", "a", "c"]
    assert interactions.frame["timestamp"].tolist() == [0, 1, 2]


def test_searches_may_have_no_item(tmp_path: Path) -> None:
    path = write(
        tmp_path / "e.csv", "user_id,item_id,event_type,query\nu1,,search,red shoes\nu1,a,click,\n"
    )
    interactions, _ = read_events(path)
    assert interactions.frame["query"].tolist() == ["red shoes", ""]


def test_jsonl_gz_events_and_catalog_with_nested_values(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl.gz"
    with gzip.open(events, "wt", encoding="utf-8") as handle:
        handle.write('{"uid": 7, "item_id": "a", "event_type": "cart", "timestamp": 1704067200}\n')
        handle.write("\n")  # blank lines are not data
        handle.write('{"uid": 8, "item_id": "b", "event_type": "VIEW", "timestamp": 1704067201}\n')
    interactions, report = read_events(events, mapping={"user_id": "uid"})
    assert interactions.frame["user_id"].tolist() == ["7", "8"]
    assert interactions.frame["event_type"].tolist() == ["cart", "view"]
    assert report.rows_read == 2

    catalog_path = write(
        tmp_path / "items.ndjson",
        '{"item_id": "a", "title": "Lamp", "category": ["Home", "Lighting"], '
        '"attributes": {"watts": 40, "colour": "red"}, "price": 19.5}\n'
        '{"item_id": "b", "title": "Mug", "category": "Home|Kitchen"}\n',
    )
    catalog, _ = read_catalog(catalog_path)
    lamp = catalog.item("a")
    assert lamp.category == ("Home", "Lighting") and lamp.price == 19.5
    assert lamp.attributes == {"watts": "40", "colour": "red"}
    assert catalog.item("b").category == ("Home", "Kitchen") and catalog.item("b").price is None


def test_parquet_with_native_types(tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    pd.DataFrame(
        {
            "user": [1, 2],
            "item_id": ["a", "b"],
            "at": pd.to_datetime(["2024-01-01 00:00:01", "2024-01-01 00:00:00"]),  # naive: UTC
            "rating": [5.0, None],
        }
    ).to_parquet(path)
    interactions, _ = read_events(
        path, mapping={"user_id": "user", "timestamp": "at"}, default_event_type="rating"
    )
    assert interactions.frame["user_id"].tolist() == ["2", "1"]
    assert interactions.frame["timestamp"].tolist() == [JAN1, JAN1 + 1000]


def test_parquet_catalog_with_list_and_struct_columns(tmp_path: Path) -> None:
    path = tmp_path / "items.parquet"
    pd.DataFrame(
        {
            "item_id": [1, 2],
            "title": ["Lamp", None],
            "category": [["Home", "Lamps"], None],
            "attributes": [{"watts": "40"}, None],
        }
    ).to_parquet(path)
    catalog, _ = read_catalog(path)
    lamp = catalog.item("1")
    assert (lamp.category, lamp.attributes) == (("Home", "Lamps"), {"watts": "40"})
    assert catalog.item("2").title == "" and catalog.item("2").category == ()


@pytest.mark.parametrize(
    ("cell", "path"),
    [("Home > Garden > Tools", "Home > Garden > Tools"), ("Home|Garden", "Home > Garden")],
)
def test_category_paths(tmp_path: Path, cell: str, path: str) -> None:
    catalog, _ = read_catalog(write(tmp_path / "c.csv", f"item_id,category\na,{cell}\n"))
    assert catalog.frame["category"].tolist() == [path]


def test_catalog_mapping_turns_extra_columns_into_attributes(tmp_path: Path) -> None:
    path = write(
        tmp_path / "products.csv",
        'SKU,Name,Maker,Colour,Cat\np1,Shoe,Acme,red,"[""Sport"", ""Run""]"\np2,Sock,,,\n',
    )
    mapping = {"item_id": "SKU", "title": "Name", "brand": "Maker", "colour": "Colour"}
    catalog, _ = read_catalog(path, mapping={**mapping, "category": "Cat"}, platform="acme")
    shoe = catalog.item("p1")
    assert (shoe.title, shoe.brand, shoe.category) == ("Shoe", "Acme", ("Sport", "Run"))
    assert shoe.attributes == {"colour": "red"} and shoe.platform == "acme"
    assert catalog.item("p2").attributes == {}


EVENT_HEADER = "user_id,item_id,event_type,timestamp,rating,quantity\n"
GOOD = "u1,a,view,1704067200,,\n"


@pytest.mark.parametrize(
    ("bad_row", "field", "message"),
    [
        (",a,view,1704067200,,", "user_id", "missing user id"),
        ("u2,,view,1704067200,,", "item_id", "missing item id"),
        ("u2,a,teleport,1704067200,,", "event_type", "unknown event type 'teleport'"),
        ("u2,a,view,yesterday-ish,,", "timestamp", "unparseable timestamp 'yesterday-ish'"),
        ("u2,a,view,,,", "timestamp", "missing timestamp"),
        ("u2,a,rating,1704067200,7,", "rating", "rating outside 0-5 '7'"),
        ("u2,a,rating,1704067200,-1,", "rating", "rating outside 0-5 '-1'"),
        ("u2,a,rating,1704067200,good,", "rating", "rating is not a number 'good'"),
        ("u2,a,purchase,1704067200,,0", "quantity", "non-positive quantity '0'"),
        ("u2,a,purchase,1704067200,,1.5", "quantity", "fractional quantity '1.5'"),
    ],
)
def test_event_errors_name_file_row_and_field(
    tmp_path: Path, bad_row: str, field: str, message: str
) -> None:
    path = write(tmp_path / "events.csv", EVENT_HEADER + GOOD + GOOD + bad_row + "\n" + GOOD)
    with pytest.raises(ValidationError) as caught:
        read_events(path)
    error = caught.value
    assert (error.source, error.row, error.field) == (str(path), 3, field)
    assert str(error).startswith(f"file {path}, row 3, field {field!r}: {message}")


@pytest.mark.parametrize(
    ("bad_row", "field", "message"),
    [
        (",Lamp,5", "item_id", "missing item id"),
        ("c,Lamp,-0.5", "price", "negative price '-0.5'"),
        ("c,Lamp,cheap", "price", "price is not a number 'cheap'"),
        ("a,Lamp again,5", "item_id", "duplicate item id 'a' (first at row 1)"),
    ],
)
def test_catalog_errors_name_file_row_and_field(
    tmp_path: Path, bad_row: str, field: str, message: str
) -> None:
    path = write(tmp_path / "items.csv", f"item_id,title,price\na,A,1\nb,B,2\n{bad_row}\n")
    with pytest.raises(ValidationError, match=re.escape(f"row 3, field '{field}': {message}")):
        read_catalog(path)


def test_missing_required_column_names_it_and_the_available_ones(tmp_path: Path) -> None:
    path = write(tmp_path / "e.csv", "customer,item_id\nu1,a\n")
    with pytest.raises(ValidationError) as caught:
        read_events(path, default_event_type="view")
    assert "missing required column 'user_id'" in str(caught.value)
    assert "available columns: ['customer', 'item_id']" in str(caught.value)
    assert caught.value.source == str(path)

    assert "--map user_id=COLUMN" in str(caught.value)  # the flag, not only the argument
    with pytest.raises(ValidationError, match="missing required column 'event_type'") as caught:
        read_events(path, mapping={"user_id": "customer"})
    assert "--event-type TYPE" in str(caught.value)
    items = write(tmp_path / "i.csv", "sku,name\na,A\n")
    with pytest.raises(ValidationError, match="--item-map item_id=COLUMN"):
        read_catalog(items)
    with pytest.raises(ValidationError, match="column 'CustomerID' mapped to field 'user_id'"):
        read_events(path, mapping={"user_id": "CustomerID"}, default_event_type="view")


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "e.csv", "user_id,item_id\nu1,a\n")
    with pytest.raises(ValidationError, match="unknown default event type 'like'"):
        read_events(path, default_event_type="like")
    with pytest.raises(ValidationError, match=r"unknown event field\(s\) \['colour'\]"):
        read_events(path, mapping={"colour": "c"}, default_event_type="view")
    with pytest.raises(ValidationError, match="policy must be one of"):
        read_events(path, default_event_type="view", policy="relaxed")
    with pytest.raises(ValidationError, match="unsupported file type"):
        read_events(write(tmp_path / "e.xlsx", ""), default_event_type="view")
    with pytest.raises(ValidationError, match="the file is empty"):
        read_events(write(tmp_path / "empty.csv", ""), default_event_type="view")


def test_lenient_rejects_bad_rows_to_a_csv_and_counts_them(tmp_path: Path) -> None:
    path = write(
        tmp_path / "orders.csv",
        "CustomerID,SKU,When\n"
        "c1,p1,2024-01-01\n"
        "c2,p1,not-a-date\n"
        ",p2,2024-01-02\n"
        "c3,p3,2024-01-03\n"
        "c4,p4,soon\n",
    )
    rejects = tmp_path / "rejects.csv"
    options = {"mapping": MAPPING, "default_event_type": "purchase", "rejects_path": rejects}
    with pytest.raises(ValidationError, match="row 2, field 'timestamp'"):
        read_events(path, **options)  # strict is the default
    assert not rejects.exists()  # strict writes nothing

    interactions, report = read_events(path, **options, policy="lenient", chunksize=2)
    assert interactions.frame["user_id"].tolist() == ["c1", "c3"]
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (5, 2, 3)
    assert report.reasons == Counter(
        {"timestamp: unparseable timestamp": 2, "user_id: missing user id": 1}
    )
    assert report.rejects_path == str(rejects)
    written = pd.read_csv(rejects, dtype=str, keep_default_na=False)
    assert list(written.columns) == ["CustomerID", "SKU", "When", "_row", "_field", "_reason"]
    assert written.values.tolist() == [
        ["c2", "p1", "not-a-date", "2", "timestamp", "unparseable timestamp 'not-a-date'"],
        ["", "p2", "2024-01-02", "3", "user_id", "missing user id"],
        ["c4", "p4", "soon", "5", "timestamp", "unparseable timestamp 'soon'"],
    ]
    summary = report.summary()
    assert summary.startswith(f"{path}: 5 rows read, 2 loaded, 3 rejected (")
    assert "timestamp: unparseable timestamp x2" in summary and str(rejects) in summary


def test_lenient_without_rejects_path_still_counts(tmp_path: Path) -> None:
    path = write(tmp_path / "e.csv", "user_id,item_id\nu1,a\n,b\n")
    interactions, report = read_events(path, default_event_type="view", policy="lenient")
    assert len(interactions) == 1 and report.rows_rejected == 1 and report.rejects_path is None


def test_duplicate_item_ids_across_chunks(tmp_path: Path) -> None:
    path = write(tmp_path / "items.csv", "item_id,title\na,A\nb,B\nc,C\na,A2\nd,D\nb,B2\n")
    with pytest.raises(ValidationError, match=r"row 4, field 'item_id': duplicate item id 'a'"):
        read_catalog(path, chunksize=2)
    catalog, report = read_catalog(path, chunksize=2, policy="lenient")
    assert catalog.item_ids.tolist() == ["a", "b", "c", "d"]
    assert catalog.item("a").title == "A"  # the first occurrence wins
    assert report.reasons == Counter({"item_id: duplicate item id": 2})


def test_chunked_reading_equals_one_chunk(tmp_path: Path) -> None:
    rows = "".join(f"u{i % 3},i{i % 5},click,{1704067200 + i * 7 % 11}\n" for i in range(23))
    path = write(tmp_path / "e.csv", "user_id,item_id,event_type,timestamp\n" + rows)
    whole, _ = read_events(path)
    chunked, report = read_events(path, chunksize=2)
    pd.testing.assert_frame_equal(whole.frame, chunked.frame)
    assert report.rows_read == 23


def test_blank_lines_are_skipped_and_rows_stay_line_numbers(tmp_path: Path) -> None:
    path = write(tmp_path / "e.csv", "user_id,item_id\nu1,a\n\nu2,\n")
    with pytest.raises(ValidationError, match="row 3, field 'item_id'"):
        read_events(path, default_event_type="view")


def test_gzipped_csv(tmp_path: Path) -> None:
    path = tmp_path / "items.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("item_id,title,price\na,Ä-Lampe,3.5\n")
    catalog, _ = read_catalog(path)
    assert catalog.item("a").title == "Ä-Lampe" and catalog.item("a").price == 3.5


def test_bad_encoding_names_file_row_and_byte_offset(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    content = b"item_id,title\na,Lamp\nb,Caf\xe9 chair\nc,Desk\n"
    path.write_bytes(content)
    with pytest.raises(ValidationError) as caught:
        read_catalog(path)
    error = caught.value
    assert (error.source, error.row, error.field) == (str(path), 2, "title")
    offset = content.index(b"\xe9")
    assert f"offset {offset}" in str(error)

    rejects = tmp_path / "rejects.csv"
    catalog, report = read_catalog(path, policy="lenient", rejects_path=rejects)
    assert catalog.item_ids.tolist() == ["a", "c"]
    assert report.reasons == Counter({"title: invalid UTF-8 bytes in text": 1})
    assert b"b,Caf\xe9 chair,2,title," in rejects.read_bytes()  # the bytes as they were


def test_byte_offset_across_read_blocks(tmp_path: Path) -> None:
    """A valid character split by the 1 MiB scan block is not an error; the offset stays exact."""
    head = b"item_id,title\na,"
    filler = b"x" * ((1 << 20) - len(head) - 1)
    content = head + filler + "é".encode() + b"\nb,bad \xff\n"  # é straddles the block edge
    path = tmp_path / "items.csv"
    path.write_bytes(content)
    with pytest.raises(ValidationError, match=rf"row 2, field 'title'.* offset {len(content) - 2}"):
        read_catalog(path)


def test_jsonl_bad_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path / "e.jsonl",
        '{"user_id": "u1", "item_id": "a"}\n{"user_id": "u2", "item_id": \n[1, 2]\n',
    )
    with pytest.raises(ValidationError, match=r"row 2: invalid JSON"):
        read_events(path, default_event_type="view")
    rejects = tmp_path / "rejects.csv"
    interactions, report = read_events(
        path, default_event_type="view", policy="lenient", rejects_path=rejects
    )
    assert len(interactions) == 1 and report.rows_rejected == 2
    written = pd.read_csv(rejects, dtype=str)
    assert written["_record"].tolist() == ['{"user_id": "u2", "item_id": ', "[1, 2]"]
    assert written["_reason"].iloc[1] == "a line must hold a JSON object"


def test_known_items_reject_events_on_unknown_items(tmp_path: Path) -> None:
    path = write(tmp_path / "e.csv", "user_id,item_id\nu1,a\nu1,zzz\n")
    with pytest.raises(ValidationError, match="row 2, field 'item_id': item not in the catalog"):
        read_events(path, default_event_type="view", known_items={"a"})


def test_report_round_trips_through_a_dict() -> None:
    report = IngestReport("f.csv", 3, 2, 1, Counter({"x: y": 1}), "r.csv")
    assert IngestReport.from_dict(json.loads(json.dumps(report.to_dict()))) == report
    assert (
        report.summary()
        == "f.csv: 3 rows read, 2 loaded, 1 rejected (x: y x1); rejected rows in r.csv"
    )
