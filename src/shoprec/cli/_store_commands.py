"""Commands about the event store: `shoprec store import` loads a shop's history into it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from shoprec.cli._app import load_source, main
from shoprec.cli._cleaning import cleaning_config, cleaning_options, echo_cleaning


@main.group()
def store() -> None:
    """The event store: the service's source of truth, and what training reads with
    ``--from-store``."""


@store.command("import")
@click.option(
    "--store",
    "store_url",
    envvar="SHOPREC_STORE_URL",
    required=True,
    help="Destination store URL: sqlite:///path.db or postgresql://... (env SHOPREC_STORE_URL).",
)
@click.option("--dataset", default=None, help="A named dataset, ingested directory or 'synthetic'.")
@click.option(
    "--events",
    "events_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Or an events file (CSV, JSON Lines, Parquet), read as `shoprec ingest` reads it.",
)
@click.option(
    "--catalog",
    "catalog_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Catalog file for --events.",
)
@click.option("--map", "mapping", multiple=True, metavar="FIELD=COLUMN", help="As for ingest.")
@click.option("--item-map", "item_mapping", multiple=True, metavar="FIELD=COLUMN")
@click.option("--event-type", help="Event type for every row when the file has no event column.")
@click.option("--lenient", is_flag=True, help="Write bad rows to a rejects file, import the rest.")
@click.option("--batch-size", type=click.IntRange(min=1), default=10_000, show_default=True)
@cleaning_options
@click.pass_context
def import_command(
    ctx: click.Context,
    store_url: str,
    dataset: str | None,
    events_path: Path | None,
    catalog_path: Path | None,
    mapping: tuple[str, ...],
    item_mapping: tuple[str, ...],
    event_type: str | None,
    lenient: bool,
    batch_size: int,
    timestamp_unit: str,
    **cleaning: Any,
) -> None:
    """Load a dataset's or a shop's files' catalog and events into a store. Idempotent: running
    it again (or on a longer export of the same history) stores each event once. Files are
    cleaned as `shoprec ingest` cleans them (--no-clean, --strict and the other options)."""
    from shoprec.datasets import read_shop_files
    from shoprec.store import import_events, open_store, record_import

    if (dataset is None) == (events_path is None):
        raise click.UsageError("give either --dataset or --events")
    reports: list[Any] = []
    if events_path is not None:
        catalog, interactions, reports = read_shop_files(
            events_path,
            catalog_path,
            event_mapping=_pairs(mapping, "--map"),
            item_mapping=_pairs(item_mapping, "--item-map"),
            default_event_type=event_type,
            lenient=lenient,
            progress=True,
            cleaning=cleaning_config(**cleaning),
            timestamp_unit=timestamp_unit,
        )
        for report in reports:
            click.echo(report.summary())
            echo_cleaning(report.cleaning)
    else:
        data = load_source(str(dataset), ctx.obj["data_dir"])
        catalog, interactions = data.catalog, data.interactions
    with open_store(store_url) as events_store:
        result = import_events(
            events_store, interactions, catalog, batch_size=batch_size, progress=True
        )
        source = str(events_path) if events_path is not None else f"dataset {dataset}"
        record_import(events_store, result, reports, source=source)  # for the dashboard
        total = events_store.count_events()
    click.echo(f"imported {result.summary()}; the store holds {total:,} events")


def _pairs(pairs: tuple[str, ...], option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key or not value:
            raise click.BadParameter(f"expected FIELD=COLUMN, got {pair!r}", param_hint=option)
        out[key] = value
    return out
