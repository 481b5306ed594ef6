"""Commands about data: `shoprec ingest`, `shoprec datasets`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from shoprec.cli._app import SPLIT_OPTION, main
from shoprec.cli._cleaning import cleaning_config, cleaning_options, echo_cleaning


@main.command()
@click.option(
    "--events",
    "events_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="Events file: CSV, JSON Lines or Parquet.",
)
@click.option(
    "--catalog",
    "catalog_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Catalog file: CSV, JSON Lines or Parquet.",
)
@click.option(
    "--map",
    "mapping",
    multiple=True,
    metavar="FIELD=COLUMN",
    help="Map a shoprec field to a file column, e.g. user_id=CustomerID. Repeatable.",
)
@click.option(
    "--item-map",
    "item_mapping",
    multiple=True,
    metavar="FIELD=COLUMN",
    help="The same for the catalog file.",
)
@click.option("--event-type", help="Event type for every row when the file has no event column.")
@click.option(
    "--lenient", is_flag=True, help="Write bad rows to a rejects file instead of failing."
)
@click.option(
    "--item-index",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="item2index map (ORIGINAL_ID<tab>INDEX) for a RecBole .inter keyed by item index, as "
    "UniSRec ships it: the events then join a catalog keyed by the original ids.",
)
@SPLIT_OPTION
@cleaning_options
@click.option("--overwrite", is_flag=True, help="Replace an existing ingested dataset at --out.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory to write the ingested dataset to.",
)
def ingest(
    events_path: Path,
    catalog_path: Path | None,
    mapping: tuple[str, ...],
    item_mapping: tuple[str, ...],
    event_type: str | None,
    lenient: bool,
    item_index: Path | None,
    split: str | None,
    overwrite: bool,
    out: Path,
    timestamp_unit: str,
    **cleaning: Any,
) -> None:
    """Validate and store a shop's events (and catalog) as a dataset directory.

    Safe fixes apply by default and are reported with counts: ids normalised (13085.0 ->
    13085), exact duplicates removed, cancellations and returns netted against purchases.
    Anything else is a warning that names its fix; --strict makes warnings errors.

    --split is required when the events have timestamps (see docs/data-format.md)."""
    from shoprec.datasets import ingest_files

    reports = ingest_files(
        events_path,
        catalog_path,
        out=out,
        event_mapping=_mapping(mapping, "--map"),
        item_mapping=_mapping(item_mapping, "--item-map"),
        default_event_type=event_type,
        lenient=lenient,
        split=split,
        overwrite=overwrite,
        item_index=item_index,
        progress=True,
        cleaning=cleaning_config(**cleaning),
        timestamp_unit=timestamp_unit,
    )
    for report in reports:
        click.echo(report.summary())
        echo_cleaning(report.cleaning)
    chosen = split or "loo (the events have no timestamps)"
    click.echo(f"dataset written to {out}; split for evaluation: {chosen}")


@main.command()
@click.pass_context
def datasets(ctx: click.Context) -> None:
    """List the named datasets and whether they are present in the data directory."""
    from shoprec.datasets import DATASETS, available_datasets, data_dir_origin

    present = set(available_datasets(ctx.obj["data_dir"]))
    root, origin = data_dir_origin(ctx.obj["data_dir"])
    origin = ctx.obj["data_dir_origin"] or origin
    click.echo(f"data directory: {root} ({origin}; change it with --data-dir or SHOPREC_DATA_DIR)")
    for name, spec in DATASETS.items():
        mark = "present" if name in present else "missing"
        click.echo(f"  {name:<36} {mark:<8} {spec.description}")


def _mapping(pairs: tuple[str, ...], flag: str) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        field, sep, column = pair.partition("=")
        if not sep or not field or not column:
            raise click.BadParameter(f"expected FIELD=COLUMN, got {pair!r}", param_hint=flag)
        mapping[field] = column
    return mapping
