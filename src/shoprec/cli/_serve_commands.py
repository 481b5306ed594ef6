"""The ``serve`` command: the recommendation service on a trained pipeline artifact."""

from __future__ import annotations

from pathlib import Path

import click

from shoprec.cli._app import main


@main.command()
@click.option(
    "--pipeline",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    envvar="SHOPREC_PIPELINE",
    required=True,
    help="Pipeline artifact directory (env SHOPREC_PIPELINE).",
)
@click.option(
    "--store",
    "store_url",
    envvar="SHOPREC_STORE_URL",
    default=None,
    help="Event store URL: sqlite:///path.db or postgresql://... (default: SQLite under "
    "SHOPREC_STATE_DIR, ~/.local/share/shoprec).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", type=int, default=8000, show_default=True, help="TCP port.")
@click.option(
    "--api-key",
    envvar="SHOPREC_API_KEY",
    default=None,
    help="Require this key (X-API-Key header) on write and admin endpoints (env SHOPREC_API_KEY).",
)
def serve(pipeline: Path, store_url: str | None, host: str, port: int, api_key: str | None) -> None:
    """Serve recommendations over HTTP (OpenAPI docs at /docs, metrics at /v1/metrics)."""
    import uvicorn

    from shoprec.serve import ServiceSettings, create_app

    overrides: dict[str, object] = {"pipeline": pipeline}
    if store_url:
        overrides["store_url"] = store_url
    if api_key:
        overrides["api_key"] = api_key
    settings = ServiceSettings.model_validate(overrides)
    click.echo(f"serving {pipeline} on http://{host}:{port} (docs at /docs)")
    # uvicorn's access log would print raw paths, which hold user ids; the app logs route
    # templates instead (logger shoprec.serve._access).
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        access_log=False,
        limit_concurrency=settings.max_concurrency,
    )
