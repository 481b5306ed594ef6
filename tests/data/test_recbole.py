"""RecBole atomic files: .inter (plain and sequence form) and .item, tiny and the real one."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import SHARED_DATA, requires_shared_data
from shoprec.data import (
    RECBOLE_ITEM_FIELDS,
    parse_token_seq,
    read_catalog,
    read_events,
    read_index_map,
    read_recbole_inter,
    read_recbole_item,
)
from shoprec.datasets import ingest_files, load_dataset
from shoprec.exceptions import ValidationError


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("cell", "tokens"),
    [
        ("'Beauty', 'Makeup', 'Face'", ["Beauty", "Makeup", "Face"]),
        ("'Beauty', \"Women's\", 'Eau de Parfum'", ["Beauty", "Women's", "Eau de Parfum"]),
        ('["a b", "c"]', ["a b", "c"]),
        ("12 7  9", ["12", "7", "9"]),
        ("'unclosed, x", ["'unclosed,", "x"]),  # not a literal: RecBole's space-separated form
        ("", []),
    ],
)
def test_parse_token_seq(cell: str, tokens: list[str]) -> None:
    assert parse_token_seq(cell) == tokens


def test_plain_inter_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "shop.inter",
        [
            "user_id:token\titem_id:token\trating:float\ttimestamp:float",
            "u1\ti2\t4.0\t1700000060",
            "u1\ti1\t5.0\t1700000000",
            "u2\ti1\t3.0\t1700000030",
        ],
    )
    interactions, report = read_recbole_inter(path)
    frame = interactions.frame
    assert frame["item_id"].tolist() == ["i1", "i1", "i2"]
    assert frame["timestamp"].tolist() == [1_700_000_000_000, 1_700_000_030_000, 1_700_000_060_000]
    assert frame["rating"].tolist() == [5.0, 3.0, 4.0]
    assert set(frame["event_type"]) == {"rating"} and interactions.has_timestamps
    assert report.rows_loaded == 3

    same, _ = read_events(path)  # read_events dispatches on the suffix
    assert same.frame.equals(frame)


def test_inter_without_rating_or_time_is_order_only_purchases(tmp_path: Path) -> None:
    path = write(tmp_path / "x.inter", ["user_id:token\titem_id:token", "u1\tb", "u1\ta"])
    interactions, _ = read_recbole_inter(path, default_event_type=None)
    assert interactions.frame["item_id"].tolist() == ["b", "a"]
    assert set(interactions.frame["event_type"]) == {"purchase"}
    assert not interactions.has_timestamps


def test_sequence_form_expands_in_order_and_collapses_prefix_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path / "seq.inter",
        [
            "user_id:token\titem_id_list:token_seq\titem_id:token",
            "u1\ta\tb",
            "u2\tx y\tz",
            "u1\ta b\tc",  # RecBole writes one line per prefix; only the longest is expanded
        ],
    )
    interactions, _ = read_recbole_inter(path)
    assert interactions.histories()["u1"].tolist() == ["a", "b", "c"]
    assert interactions.histories()["u2"].tolist() == ["x", "y", "z"]
    assert len(interactions) == 6 and not interactions.has_timestamps


def test_sequence_lines_that_are_not_prefixes_are_all_kept(tmp_path: Path) -> None:
    path = write(
        tmp_path / "seq.inter",
        ["user_id:token\titem_id_list:token_seq\titem_id:token", "u1\ta\tb", "u1\tc\td"],
    )
    interactions, _ = read_recbole_inter(path)
    assert interactions.histories()["u1"].tolist() == ["a", "b", "c", "d"]


def test_inter_validation_and_rejects(tmp_path: Path) -> None:
    path = write(
        tmp_path / "bad.inter",
        ["user_id:token\titem_id:token\trating:float", "u1\ta\t5", "u2\tb\t9", "\tc\t1"],
    )
    with pytest.raises(ValidationError, match=r"bad.inter, row 2, field 'rating': rating outside"):
        read_recbole_inter(path)
    rejects = tmp_path / "rejects.csv"
    interactions, report = read_recbole_inter(path, policy="lenient", rejects_path=rejects)
    assert len(interactions) == 1 and report.rows_rejected == 2
    header = rejects.read_text().splitlines()[0]
    assert header == "user_id:token,item_id:token,rating:float,_row,_field,_reason"


def test_header_must_be_recbole(tmp_path: Path) -> None:
    path = write(tmp_path / "x.inter", ["user_id\titem_id", "u1\ta"])
    with pytest.raises(ValidationError, match="not a RecBole atomic file"):
        read_recbole_inter(path)
    path = write(tmp_path / "y.inter", ["session:token\tproduct:token", "u1\ta"])
    with pytest.raises(ValidationError, match="needs user_id and item_id"):
        read_recbole_inter(path)


def test_item_file_maps_fields_and_keeps_the_rest_as_attributes(tmp_path: Path) -> None:
    path = write(
        tmp_path / "shop.item",
        [
            "item_id:token\ttitle:token\tsales_type:token\tsales_rank:float\t"
            "categories:token_seq\tprice:float\tbrand:token",
            "A1\tCrabtree &amp; Evelyn Hand Cream\tBeauty\t10486.0\t"
            "'Beauty', 'Skin Care', 'Hands & Nails'\t5.04\tCrabtree &amp; Evelyn",
            'A2\tPerfume\tBeauty\t764.0\t"\'Beauty\', ""Women\'s"""\t\t',
        ],
    )
    catalog, report = read_recbole_item(path, platform="beauty")
    cream = catalog.item("A1")
    assert cream.title == "Crabtree & Evelyn Hand Cream" and cream.brand == "Crabtree & Evelyn"
    assert cream.category == ("Beauty", "Skin Care", "Hands & Nails") and cream.price == 5.04
    assert cream.attributes == {"sales_rank": "10486.0", "sales_type": "Beauty"}
    assert cream.platform == "beauty"
    perfume = catalog.item("A2")
    assert perfume.category == ("Beauty", "Women's") and perfume.price is None
    assert report.rows_loaded == 2
    assert read_catalog(path)[0].frame.equals(read_recbole_item(path)[0].frame)
    assert RECBOLE_ITEM_FIELDS["categories"] == "category"


def test_item_file_rejects_duplicates(tmp_path: Path) -> None:
    path = write(tmp_path / "d.item", ["item_id:token\ttitle:token", "a\tA", "a\tB"])
    with pytest.raises(ValidationError, match=r"row 2, field 'item_id': duplicate item id 'a'"):
        read_recbole_item(path)


@requires_shared_data("amazon2014_beauty_5core")
def test_real_amazon_beauty_item_file() -> None:
    catalog, report = read_recbole_item(SHARED_DATA / "amazon2014_beauty_5core/Amazon_Beauty.item")
    assert len(catalog) == 12_101 and report.rows_rejected == 0  # PROVENANCE.md's count
    assert (catalog.frame["title"] != "").sum() == 12_094
    assert (catalog.frame["brand"] != "").sum() == 10_003
    assert (catalog.frame["category"] != "").sum() == 12_101
    perfume = catalog.item("9788072216")
    assert perfume.category == ("Beauty", "Fragrance", "Women's", "Eau de Parfum")
    assert perfume.brand == "Prada" and perfume.price == 65.86
    assert perfume.attributes["sales_rank"] == "78916.0"


def put(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def unisrec_files(tmp_path: Path) -> dict[str, Path]:
    """The UniSRec / VQ-Rec distribution form: .inter keyed by item index, .text keyed by ASIN,
    and the item2index map between them."""
    asins = ["B0001", "B0002", "B0003", "B0004"]
    files = {
        "inter": put(
            tmp_path / "Scientific.train.inter",
            "user_id:token\titem_id_list:token_seq\titem_id:token\n"
            "1\t1 2\t3\n2\t2 3\t4\n3\t4 1\t2\n",
        ),
        "text": put(
            tmp_path / "Scientific.text",
            "item_id:token\ttext:token_seq\n"
            + "".join(f"{a}\tMicroscope slide set {i} &amp; case\n" for i, a in enumerate(asins)),
        ),
        "map": put(
            tmp_path / "Scientific.item2index",
            "".join(f"{a}\t{i + 1}\n" for i, a in enumerate(asins)),
        ),
    }
    return files


def test_text_file_titles_and_item2index_join(tmp_path: Path) -> None:
    files = unisrec_files(tmp_path)
    catalog, _ = read_catalog(files["text"])
    assert catalog.item("B0002").title == "Microscope slide set 1 & case"  # not an attribute
    assert catalog.item("B0002").attributes == {}
    assert read_index_map(files["map"])["3"] == "B0003"

    events, _ = read_events(files["inter"], item_index=files["map"])
    assert events.frame["item_id"].tolist()[:3] == ["B0001", "B0002", "B0003"]
    with pytest.raises(ValidationError, match="item not in the catalog"):
        read_events(files["inter"], known_items=set(catalog.item_ids))  # indexes do not join

    out = tmp_path / "scientific"
    ingest_files(files["inter"], files["text"], out=out, item_index=files["map"])
    dataset = load_dataset(str(out))
    assert dataset.split.protocol == "loo" and len(dataset.interactions) == 9
    assert set(dataset.interactions.frame["item_id"]) <= set(catalog.item_ids)


def test_item2index_errors_name_the_file_and_row(tmp_path: Path) -> None:
    files = unisrec_files(tmp_path)
    put(files["map"], "B0001\t1\nB0002\t1\n")
    with pytest.raises(ValidationError, match=r"Scientific.item2index, row 2: index '1' is given"):
        read_index_map(files["map"])
    put(files["map"], "B0001 1\n")
    with pytest.raises(ValidationError, match="row 1: expected ORIGINAL_ID<tab>INDEX"):
        read_index_map(files["map"])
    put(files["map"], "B0001\t1\n")
    with pytest.raises(ValidationError, match="item index not in the item2index map"):
        read_events(files["inter"], item_index=files["map"])
    csv = put(tmp_path / "e.csv", "user_id,item_id\nu,1\n")
    with pytest.raises(ValidationError, match=r"applies to RecBole \.inter files"):
        read_events(csv, item_index=files["map"], default_event_type="view")


def test_renamed_text_file_still_gives_titles(tmp_path: Path) -> None:
    text = unisrec_files(tmp_path)["text"]
    renamed = put(tmp_path / "Scientific.item", text.read_text())
    assert read_catalog(renamed)[0].item("B0001").title.startswith("Microscope")
