"""The ``serve`` command: the recommendation service on a trained pipeline artifact.

Secrets never need the command line, where ``ps`` shows them to every user of the machine: the
keys and the store URL come from the environment (``SHOPREC_API_KEY``, ``SHOPREC_READ_KEY``,
``SHOPREC_STORE_URL``) or from files (``--api-key-file`` and friends, e.g. mounted secrets).
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from urllib.parse import urlsplit

import click

from shoprec.cli._app import main

_SECRET_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


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
    default=None,
    help="Event store URL: sqlite:///path.db or postgresql://... (default: env "
    "SHOPREC_STORE_URL, else SQLite under SHOPREC_STATE_DIR, ~/.local/share/shoprec). Put a URL "
    "with a password in SHOPREC_STORE_URL or --store-url-file instead.",
)
@click.option("--store-url-file", type=_SECRET_FILE, help="File whose first line is the store URL.")
@click.option(
    "--api-key-file",
    type=_SECRET_FILE,
    help="File whose first line is the admin key (else env SHOPREC_API_KEY).",
)
@click.option(
    "--read-key-file",
    type=_SECRET_FILE,
    help="File whose first line is the read key for shop front-ends (else SHOPREC_READ_KEY).",
)
@click.option(
    "--artifacts-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Reloads load only from here (default: env SHOPREC_ARTIFACTS_DIR, else the parent "
    "of --pipeline).",
)
@click.option(
    "--host",
    envvar="SHOPREC_HOST",
    default="127.0.0.1",
    show_default=True,
    help="Interface to bind (env SHOPREC_HOST).",
)
@click.option(
    "--port", type=int, envvar="SHOPREC_PORT", default=8000, show_default=True, help="TCP port."
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Processes serving on the same store (PostgreSQL, or a SQLite file); each follows "
    "the others' events, so a user's next request sees their writes on any worker.",
)
@click.option(
    "--insecure",
    is_flag=True,
    help="Serve on a non-loopback address without an API key (everything open to the network).",
)
def serve(
    pipeline: Path,
    store_url: str | None,
    store_url_file: Path | None,
    api_key_file: Path | None,
    read_key_file: Path | None,
    artifacts_dir: Path | None,
    host: str,
    port: int,
    workers: int,
    insecure: bool,
) -> None:
    """Serve recommendations over HTTP (OpenAPI docs at /docs, metrics at /v1/metrics)."""
    import uvicorn

    from shoprec.serve import ServiceSettings, create_app

    if store_url and urlsplit(store_url).password:
        click.echo(
            "warning: the --store URL holds a password, which `ps` shows to every user; "
            "use SHOPREC_STORE_URL or --store-url-file",
            err=True,
        )
    given = {
        "pipeline": pipeline,
        "store_url": store_url,
        "store_url_file": store_url_file,
        "api_key_file": api_key_file,
        "read_key_file": read_key_file,
        "artifacts_dir": artifacts_dir,
        "workers": workers,
    }
    try:
        settings = ServiceSettings(**{k: v for k, v in given.items() if v is not None})
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    _check_exposure(settings.api_key is not None, host, insecure)
    click.echo(f"serving {pipeline} on http://{host}:{port} (docs at /docs)")
    # uvicorn's access log would print raw paths, which hold user ids; the app logs route
    # templates instead (logger shoprec.serve.access).
    options = {"host": host, "port": port, "access_log": False}
    if workers == 1:
        uvicorn.run(create_app(settings), limit_concurrency=settings.max_concurrency, **options)
        return
    # Worker processes build their app from the environment (inherited, never on a command
    # line), so the options given here are handed over as SHOPREC_* variables.
    for name, value in given.items():
        if value is not None:
            os.environ[f"SHOPREC_{name.upper()}"] = str(value)
    uvicorn.run(
        "shoprec.serve:create_app",
        factory=True,
        workers=workers,
        limit_concurrency=settings.max_concurrency,
        **options,
    )


def _check_exposure(has_key: bool, host: str, insecure: bool) -> None:
    """Refuse to open a keyless service to the network unless told to; warn when keyless."""
    if has_key:
        return
    if not _loopback(host) and not insecure:
        raise click.UsageError(
            f"refusing to serve on {host} without an API key: anyone who can reach it could "
            "read personal data, write events and swap models. Set SHOPREC_API_KEY (or "
            "--api-key-file), or pass --insecure."
        )
    click.echo(
        "warning: no API key is set; every route is open to whoever can reach "
        f"{host} (set SHOPREC_API_KEY or --api-key-file)",
        err=True,
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: only "localhost" is known to stay on the machine
        return False
