"""``shoprec init``: write a commented ``shoprec.toml`` for a shop, its column mapping guessed
from the files' headers and shown for review."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import click

from shoprec.cli._app import main

__all__ = ["init", "render_config"]

# Column names seen in shop exports, normalised (lower case, letters and digits only).
_EVENT_NAMES = {
    "user_id": ("userid", "user", "customerid", "customer", "clientid", "visitorid", "reviewerid"),
    "item_id": ("itemid", "item", "sku", "productid", "product", "stockcode", "asin", "articleid"),
    "timestamp": ("timestamp", "time", "datetime", "date", "invoicedate", "orderdate", "eventtime",
                  "createdat", "ts"),
    "event_type": ("eventtype", "event", "action", "behavior", "behaviour", "type"),
    "quantity": ("quantity", "qty"),
    "rating": ("rating", "stars", "score"),
    "review": ("review", "reviewtext"),
    "platform": ("platform", "shop", "store"),
}  # fmt: skip
_ITEM_NAMES = {
    "item_id": _EVENT_NAMES["item_id"],
    "title": ("title", "name", "productname", "itemname", "description"),
    "description": ("description", "details", "body"),
    "brand": ("brand", "manufacturer", "maker", "vendor"),
    "category": ("category", "categories", "categorypath", "maincategory"),
    "price": ("price", "unitprice", "listprice"),
}


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _peek(path: Path) -> Any:
    """The first rows of a CSV (also gzipped), JSON Lines or Parquet file."""
    import pandas as pd

    suffixes = [s.lower() for s in path.suffixes]
    if ".parquet" in suffixes:
        import pyarrow.parquet as pq

        return next(pq.ParquetFile(path).iter_batches(batch_size=200)).to_pandas()
    if ".jsonl" in suffixes or ".json" in suffixes or ".ndjson" in suffixes:
        return pd.read_json(path, lines=True, nrows=200)
    return pd.read_csv(path, nrows=200, dtype=str)


def guess_mapping(columns: list[str], names: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """shoprec field -> the first column whose normalised name is a known alias (in alias
    order); each column is used once."""
    normal = {_normal(column): column for column in columns}
    mapping: dict[str, str] = {}
    for field, aliases in names.items():
        for alias in aliases:
            column = normal.get(alias)
            if column is not None and column not in mapping.values():
                mapping[field] = column
                break
    return mapping


def _split_advice(frame: Any, column: str | None) -> tuple[str | None, str]:
    """The split to write and why, from the timestamp column's first values."""
    import pandas as pd

    if column is None:
        return "loo", "no timestamp column: each user's last event is the test target"
    values = frame[column].dropna().astype(str)
    numeric = pd.to_numeric(values, errors="coerce").notna().all()
    if numeric:
        return None, (
            f"{column!r} holds numbers: if they are times (epoch seconds or ms) choose "
            '"temporal"; if they are positions or export times choose "loo"'
        )
    return "temporal", f"{column!r} holds dates: train on the past, test on the latest events"


def render_config(
    events: Path | None, catalog: Path | None, *, name: str, base: Path
) -> tuple[str, list[str]]:
    """The text of a commented ``shoprec.toml`` and notes for the terminal."""
    notes: list[str] = []
    columns: dict[str, str] = {}
    item_columns: dict[str, str] = {}
    split: str | None = "loo"
    why = "no events file given yet"
    if events is not None:
        frame = _peek(events)
        columns = guess_mapping(list(frame.columns), _EVENT_NAMES)
        split, why = _split_advice(frame, columns.get("timestamp"))
        notes.append(f"{events.name}: columns {list(frame.columns)}")
        missing = [f for f in ("user_id", "item_id") if f not in columns]
        if missing:
            notes.append(f"no column recognised for {missing}: fill in [data.columns]")
    if catalog is not None:
        frame = _peek(catalog)
        item_columns = guess_mapping(list(frame.columns), _ITEM_NAMES)
        if item_columns.get("description") == item_columns.get("title"):
            item_columns.pop("description", None)
        notes.append(f"{catalog.name}: columns {list(frame.columns)}")
    event_type = None if "event_type" in columns else "purchase"
    text = _TEMPLATE.format(
        name=name,
        events=_toml_path("events", events, base, "orders.csv"),
        catalog=_toml_path("catalog", catalog, base, "products.csv"),
        columns=_table(columns, 'user_id = "CustomerID"'),
        item_columns=_table(item_columns, 'title = "Name"'),
        event_type=(
            f"event_type = {json.dumps(event_type)}  # every row is one; "
            "or map an event-type column"
            if event_type
            else '# event_type = "purchase"  # the file has an event-type column'
        ),
        split=f"split = {json.dumps(split)}" if split else _UNCHOSEN,
        why=textwrap.fill(why, width=96, subsequent_indent="# "),
        out=json.dumps(f"data/{name}"),
    )
    notes.append(f"split: {split or 'not chosen'} ({why})")
    return text, notes


_UNCHOSEN = '# split = "temporal"  # or "loo": choose one before `shoprec ingest`'


def _toml_path(key: str, path: Path | None, base: Path, example: str) -> str:
    """``key = "path"`` relative to ``base`` when inside it; a commented example without one."""
    if path is None:
        return f"# {key} = {json.dumps(example)}"
    try:
        shown = str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        shown = str(path.resolve())
    return f"{key} = {json.dumps(shown)}"


def _table(mapping: dict[str, str], example: str) -> str:
    if not mapping:
        return f"# {example}"
    return "\n".join(f"{field} = {json.dumps(column)}" for field, column in mapping.items())


_TEMPLATE = """\
# shoprec settings for {name}. Every shoprec command run in this folder reads this file
# (elsewhere: shoprec --config PATH/shoprec.toml ...); a flag on the command line wins over it.
# Reference: docs/configuration.md. Paths are relative to this file.

[data]
# The shop's raw files, read by `shoprec ingest` (CSV, CSV.gz, JSON Lines or Parquet).
{events}
{catalog}
# Where `shoprec ingest` writes the checked dataset; other commands then use it.
out = {out}
{event_type}
# How events are split for evaluation: "temporal" (one global cut in time) or "loo"
# (each user's last event is the test target). Chosen here, never guessed:
# {why}.
{split}
lenient = true  # bad rows go to a rejects file with their reasons instead of stopping
# dir = "/path/to/datasets"  # where named public datasets are looked for

# shoprec field = column in the events file (fields: user_id, item_id, event_type,
# timestamp, platform, rating, review, query, quantity). Check the guesses.
[data.columns]
{columns}

# shoprec field = column in the catalog file (fields: item_id, title, description, brand,
# category, price, attributes, platform; any other name, e.g. in_stock = "Stock", becomes
# an attribute).
[data.item_columns]
{item_columns}

[model]
# The recommender `shoprec build` fits: "auto" trains popularity-recent, covisitation, als and
# ltr (the learned ranking stage over all of them) and keeps the best on the validation
# events; or name one (`shoprec models`), e.g. "als" (fast) or "text_sequence" (item text).
name = "auto"
seed = 0
# encoder = "onnx"  # item text encoder: onnx (English MiniLM) or multilingual (many languages)

[model.params]
# factors = 64

[rerank]
method = "mmr"        # none, mmr or dpp: trade a little relevance for variety
diversity = 0.2       # 0 = pure relevance, 1 = maximal variety
# max_per_category = 3
# max_per_brand = 2
novelty = 0.0         # boost for less popular items

[store]
# Where the service keeps events: sqlite:///path.db or postgresql://user@host/db
url = "sqlite:///shoprec-events.db"

[service]
pipeline = "pipelines/{name}"   # written by `shoprec build --out pipelines/{name}`
host = "127.0.0.1"
port = 8000
"""


@main.command()
@click.option(
    "--events",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The shop's events file; its columns are mapped for you.",
)
@click.option(
    "--catalog",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The shop's catalog file (may be the events file when it holds product columns).",
)
@click.option("--name", default=None, help="The shop's name (default: this folder's name).")
@click.option("--force", is_flag=True, help="Overwrite an existing shoprec.toml.")
def init(events: Path | None, catalog: Path | None, name: str | None, force: bool) -> None:
    """Write a commented shoprec.toml for a shop in the working directory."""
    from shoprec.config import CONFIG_NAME, read_config

    target = Path.cwd() / CONFIG_NAME
    if target.exists() and not force:
        raise click.ClickException(f"{target} exists; pass --force to overwrite it")
    shop = name or re.sub(r"[^A-Za-z0-9_-]+", "-", Path.cwd().name).strip("-") or "shop"
    text, notes = render_config(events, catalog, name=shop, base=Path.cwd())
    target.write_text(text, encoding="utf-8")
    read_config(target)  # what was written must read back
    for note in notes:
        click.echo(note)
    click.echo(f"wrote {target}: check [data.columns] and the split, then run `shoprec ingest`")
