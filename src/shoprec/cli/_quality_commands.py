"""`shoprec validate` (a data-quality report on a shop's files, a dataset or a store) and
`shoprec abuse scan|list|release` (abuse detection on the event store)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import click

from shoprec.cli._app import load_source, main
from shoprec.cli._cleaning import cleaning_config, cleaning_options


@main.command()
@click.option(
    "--events",
    "events_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A shop's events file (CSV, JSON Lines, Parquet), read as `shoprec ingest` reads it.",
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
@click.option("--dataset", help="Or a named dataset or an ingested dataset directory.")
@click.option("--store", "store_url", metavar="URL", help="Or an event store's events.")
@cleaning_options
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("validate-report.html"),
    show_default=True,
    help="Where to write the HTML report.",
)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def validate(
    ctx: click.Context,
    events_path: Path | None,
    catalog_path: Path | None,
    mapping: tuple[str, ...],
    item_mapping: tuple[str, ...],
    event_type: str | None,
    dataset: str | None,
    store_url: str | None,
    timestamp_unit: str,
    report_path: Path,
    json_path: Path | None,
    **cleaning: Any,
) -> None:
    """Report on a shop's data: rows read and rejected by reason, duplicates, cancellations and
    returns, likely non-product items, id and timestamp problems, the event-type mix,
    sparsity, one-event users and items, and the accounts abuse detection flags. Every finding
    names the mapping or flag that fixes it. Exits 1 under --strict when there are warnings."""
    import json

    from shoprec.quality import validate_data

    given = [x for x in (events_path, dataset, store_url) if x is not None]
    if len(given) != 1:
        raise click.UsageError("give one of --events, --dataset or --store")
    strict = cleaning["strict"]
    config = cleaning_config(**{**cleaning, "strict": False})  # report everything first
    reads: list[Any] = []
    if events_path is not None:
        catalog, interactions, reads = _read_files(
            events_path, catalog_path, mapping, item_mapping, event_type, config, timestamp_unit
        )
        source = str(events_path)
    elif store_url is not None:
        from shoprec.store import open_store

        with open_store(store_url) as store:
            interactions, catalog = store.to_interactions(), store.catalog()
        source = "the store"
    else:
        data = load_source(str(dataset), ctx.obj["data_dir"])
        interactions, catalog, source = data.interactions, data.catalog, data.name
    report = validate_data(interactions, catalog or None, source=source, reads=reads)
    click.echo(report.text())
    click.echo(f"report written to {report.write_html(report_path)}")
    if json_path is not None:
        json_path.write_text(json.dumps(report.to_dict(), indent=2, default=str) + "\n")
    if strict and report.warnings:
        raise click.ClickException(f"{len(report.warnings)} warning(s) under --strict")


def _read_files(
    events_path: Path,
    catalog_path: Path | None,
    mapping: tuple[str, ...],
    item_mapping: tuple[str, ...],
    event_type: str | None,
    config: Any,
    timestamp_unit: str,
) -> tuple[Any, Any, list[Any]]:
    """Read leniently (every bad row counted, none failing the run) into a scratch directory."""
    from shoprec.cli._data_commands import _mapping
    from shoprec.datasets import read_shop_files

    with tempfile.TemporaryDirectory(prefix="shoprec-validate-") as scratch:
        return read_shop_files(
            events_path,
            catalog_path,
            event_mapping=_mapping(mapping, "--map"),
            item_mapping=_mapping(item_mapping, "--item-map"),
            default_event_type=event_type,
            lenient=True,
            rejects_dir=scratch,
            progress=True,
            cleaning=config,
            timestamp_unit=timestamp_unit,
        )


@main.group()
def abuse() -> None:
    """Abuse detection on the event store: scan it, list the quarantined accounts, release one
    (the same as the service's /v1/admin/abuse endpoints, for cron and the shell)."""


_STORE = click.option(
    "--store", "store_url", envvar="SHOPREC_STORE_URL", required=True, metavar="URL"
)


@abuse.command("scan")
@_STORE
def abuse_scan(store_url: str) -> None:
    """Run abuse detection over every stored event; flagged accounts are quarantined (left out
    of training from the store) until released."""
    from shoprec.quality import scan_store
    from shoprec.store import open_store

    with open_store(store_url) as store:
        summary = scan_store(store)
    click.echo(
        f"{summary.flagged:,} of {summary.users:,} accounts flagged ({summary.new:,} new, "
        f"{summary.cleared:,} cleared, {summary.released:,} released): {summary.by_kind}"
    )
    for item in summary.suspicious_items[:10]:
        click.echo(
            f"  suspicious item {item['item_id']}: {item['feature']}, cohort {item['cohort']}"
        )


@abuse.command("list")
@_STORE
@click.option("--status", type=click.Choice(["flagged", "released"]), default=None)
def abuse_list(store_url: str, status: str | None) -> None:
    """The quarantine records: user, status, kind and reason."""
    from shoprec.store import open_store, quarantine_records

    with open_store(store_url) as store:
        records = quarantine_records(store)
    for user, record in sorted(records.items()):
        if status is None or record.get("status") == status:
            click.echo(
                f"{user}\t{record.get('status')}\t{record.get('kind')}\t{record.get('reason')}"
            )


@abuse.command("release")
@_STORE
@click.argument("user_id")
@click.option("--note", default="", help="Why (kept in the record).")
def abuse_release(store_url: str, user_id: str, note: str) -> None:
    """Release a flagged account: its events count again at the next training."""
    from shoprec.quality import release_user
    from shoprec.store import open_store

    with open_store(store_url) as store:
        release_user(store, user_id, note=note)
    click.echo(f"released {user_id}")
