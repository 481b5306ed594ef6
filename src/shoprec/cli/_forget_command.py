"""The ``forget`` command: a deletion request carried into offline artifacts and the store."""

from __future__ import annotations

from pathlib import Path

import click

from shoprec.cli._app import main


@main.command()
@click.argument("user_ids", nargs=-1, required=True)
@click.option(
    "--pipeline",
    "pipelines",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    multiple=True,
    help="A pipeline artifact directory to remove the users from (repeatable); rewritten in "
    "place, atomically.",
)
@click.option(
    "--store",
    "store_url",
    envvar="SHOPREC_STORE_URL",
    default=None,
    help="Also delete the users from this event store (env SHOPREC_STORE_URL); they join its "
    "deletion list, which `--deletion-list` and the service honour.",
)
def forget(user_ids: tuple[str, ...], pipelines: tuple[Path, ...], store_url: str | None) -> None:
    """Remove users from pipeline artifacts (training histories and per-user model state) and,
    with --store, from the event store. Reload a served pipeline afterwards to serve the new
    version."""
    from shoprec.pipeline import Pipeline, forget_users

    if not pipelines and not store_url:
        raise click.UsageError("give --pipeline DIR and/or --store URL")
    for path in pipelines:
        pipeline = Pipeline.load(path)
        forgotten = forget_users(pipeline, user_ids)
        if forgotten:
            pipeline.save(path)
        click.echo(f"{path}: {len(forgotten)} of {len(user_ids)} users were in its training data")
    if store_url:
        from shoprec.store import open_store

        with open_store(store_url) as store:
            events = sum(store.delete_user(user) for user in user_ids)
        click.echo(f"store: {events} events deleted; {len(user_ids)} users on the deletion list")
