"""Commands about data: `shoprec ingest`, `shoprec datasets`."""

from __future__ import annotations

from pathlib import Path

import click

from shoprec.cli._app import main


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
    out: Path,
) -> None:
    """Validate and store a shop's events (and catalog) as a dataset directory."""
    from shoprec.data.local import ingest_files

    reports = ingest_files(
        events_path,
        catalog_path,
        out=out,
        event_mapping=dict(p.split("=", 1) for p in mapping),
        item_mapping=dict(p.split("=", 1) for p in item_mapping),
        default_event_type=event_type,
        lenient=lenient,
        progress=True,
    )
    for report in reports:
        click.echo(report.summary())
    click.echo(f"dataset written to {out}")


@main.command()
@click.pass_context
def datasets(ctx: click.Context) -> None:
    """List the named datasets and whether they are present in the data directory."""
    from shoprec.data.datasets import DATASETS, available_datasets, resolve_data_dir

    present = set(available_datasets(ctx.obj["data_dir"]))
    click.echo(f"data directory: {resolve_data_dir(ctx.obj['data_dir'])}")
    for name, spec in DATASETS.items():
        mark = "present" if name in present else "missing"
        click.echo(f"  {name:<36} {mark:<8} {spec.description}")
