"""The ``shoprec`` group, its shared options and helpers; commands live in sibling modules."""

from __future__ import annotations

import datetime as dt
import json
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from shoprec.exceptions import ShoprecError

if TYPE_CHECKING:
    from shoprec.data import Dataset

__all__ = [
    "DEFAULT_DATASET",
    "SPLIT_OPTION",
    "from_store_options",
    "load_source",
    "main",
    "parse_params",
    "parse_time",
]

DEFAULT_DATASET = "amazon2023_electronics"


def parse_params(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``key=value`` pairs to a dict; values are JSON where they parse, strings otherwise."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected key=value, got {pair!r}", param_hint="--param")
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
    return params


_DURATION_UNITS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def parse_time(text: str, *, now_ms: int | None = None) -> int:
    """A point in time as ms since the epoch: ``1700000000000`` (ms), ``2024-05-01`` or an ISO
    date-time (UTC unless it says otherwise), or an age such as ``30d``, ``6h``, ``90m``."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    unit = _DURATION_UNITS.get(text[-1:])
    if unit is not None and text[:-1].isdigit():
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        return now - int(text[:-1]) * unit
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a time; use ms since the epoch, an ISO date or an age like 30d"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is not None:
        ctx.ensure_object(dict)[param.name] = value
    return value


def from_store_options(command: Any) -> Any:
    """Add ``--from-store URL`` and ``--since T`` to a command that loads a dataset: with them,
    :func:`load_source` reads the events and catalog from that store instead; and
    ``--deletion-list URL``: users deleted in that store are dropped from a dataset read from
    files."""
    command = click.option(
        "--deletion-list",
        "deletion_list",
        metavar="URL",
        callback=_remember,
        expose_value=False,
        envvar="SHOPREC_DELETION_LIST",
        help="Drop the users deleted in this event store (its deletion list) from the dataset.",
    )(command)
    command = click.option(
        "--since",
        callback=_remember,
        expose_value=False,
        help="With --from-store: only events at or after this time (ISO date, ms, or age: 30d).",
    )(command)
    return click.option(
        "--from-store",
        "from_store",
        metavar="URL",
        callback=_remember,
        expose_value=False,
        envvar="SHOPREC_FROM_STORE",
        help="Read the dataset from this event store (sqlite:///..., postgresql://...).",
    )(command)


def load_source(source: str, data_dir: Path | None, split: str | None = None) -> Dataset:
    """A named dataset, a directory written by ``shoprec ingest``, ``synthetic``, or, when the
    command was given ``--from-store URL`` (or ``source`` is a store URL), the store's events;
    split under ``split`` (``loo``/``temporal``) instead of its standard protocol when given."""
    from shoprec.datasets import load_dataset, make_synthetic_shop

    ctx = click.get_current_context(silent=True)
    options = (ctx.obj if ctx is not None else None) or {}
    url = options.get("from_store") or (source if "://" in source else None)
    if url is not None:
        stored = _store_dataset(url, options.get("since"))
        return stored if split is None else stored.with_split(split)
    if options.get("since") is not None:
        raise click.BadParameter("--since needs --from-store", param_hint="--since")
    if source == "synthetic":
        shop = make_synthetic_shop()
        return shop if split is None else shop.with_split(split)
    dataset = load_dataset(source, data_dir=data_dir, progress=True, split=split)
    if options.get("deletion_list"):
        dataset = _without_deleted(dataset, options["deletion_list"])
    return dataset


def _without_deleted(dataset: Dataset, url: str) -> Dataset:
    from shoprec.store import drop_deleted_users, open_store

    with open_store(url) as store:
        dataset, dropped = drop_deleted_users(dataset, store.deleted_users())
    click.echo(f"left out {dropped} users on the store's deletion list", err=True)
    return dataset


SPLIT_OPTION = click.option(
    "--split",
    type=click.Choice(["loo", "temporal"]),
    default=None,
    help="Split the events this way (loo: each user's last event is the test target; temporal: "
    "one global cut in time) instead of the dataset's own split.",
)


def _store_dataset(url: str, since: str | None) -> Dataset:
    from shoprec.store import dataset_from_store, open_store

    with open_store(url) as store:
        return dataset_from_store(store, since=None if since is None else parse_time(since))


class Terminated(SystemExit):
    """Raised in the command by SIGTERM, so that atomic writers discard their half-written
    output on the way out and the process exits 143 (128 + SIGTERM), as a shell expects."""


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated(128 + signum)


class _Group(click.Group):
    """Turns library errors into one clear line and exit code 2 instead of a traceback, and
    SIGTERM into a clean stop with exit code 143 (never a success)."""

    def invoke(self, ctx: click.Context) -> Any:
        in_main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _terminate) if in_main else None
        try:
            return super().invoke(ctx)
        except ShoprecError as error:
            click.secho(f"error: {error}", fg="red", err=True)
            sys.exit(2)
        except Terminated:
            click.secho("terminated (SIGTERM); unfinished output was discarded", err=True)
            raise
        finally:
            if in_main:
                signal.signal(signal.SIGTERM, previous)


@click.group(cls=_Group)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="SHOPREC_CONFIG",
    help="Settings file (env SHOPREC_CONFIG; default ./shoprec.toml if present); flags win.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="SHOPREC_DATA_DIR",
    help="Where named datasets live (env SHOPREC_DATA_DIR, else [data] dir of shoprec.toml or "
    "of the environment's site file, else ~/.cache/shoprec/data; see `shoprec datasets`).",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    envvar="SHOPREC_ENGINE",
    show_default=True,
    help="Where offline work runs (catalog encoding, co-visitation counts): this process, or "
    "Ray (pip install 'shoprec[ray]'; a local 2-CPU cluster unless --address names one).",
)
@click.option("--address", default=None, help="Ray cluster address for --engine ray.")
@click.option("--engine-workers", type=click.IntRange(1), default=2, show_default=True)
@click.pass_context
def main(
    ctx: click.Context,
    verbose: int,
    config_path: Path | None,
    data_dir: Path | None,
    engine: str,
    address: str | None,
    engine_workers: int,
) -> None:
    """shoprec: recommendations for online shops from catalog text and customer behaviour.

    Settings come from flags, then ./shoprec.toml (or --config; `shoprec init` writes one),
    then the built-in defaults."""
    from shoprec.cli._defaults import command_defaults
    from shoprec.config import load_config

    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(config_path)
    except ShoprecError as error:
        click.secho(f"error: {error}", fg="red", err=True)
        sys.exit(2)
    origin = {
        click.core.ParameterSource.COMMANDLINE: "--data-dir",
        click.core.ParameterSource.ENVIRONMENT: "$SHOPREC_DATA_DIR",
    }.get(ctx.get_parameter_source("data_dir"))  # type: ignore[arg-type]
    if data_dir is None and config.data.dir is not None and config.path is not None:
        data_dir, origin = Path(config.data.dir), f"[data] dir in {config.path}"
    ctx.obj = {"data_dir": data_dir, "data_dir_origin": origin, "config": config}
    if engine != "local" or address is not None:
        _use_engine(ctx, engine, address, engine_workers)
    ctx.default_map = command_defaults(ctx.command, config)


def _use_engine(ctx: click.Context, name: str, address: str | None, workers: int) -> None:
    """Run the command's offline work on the named engine (started when first used)."""
    from shoprec._runtime import use_engine
    from shoprec.distributed import create_engine

    try:
        engine = create_engine(name, address=address, workers=workers)
    except ShoprecError as error:
        raise click.UsageError(str(error)) from None
    if hasattr(engine, "__exit__"):
        ctx.with_resource(engine)  # type: ignore[arg-type]  # shut down with the command
    ctx.with_resource(use_engine(engine))
