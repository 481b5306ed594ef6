"""The ``shoprec`` group, its shared options and helpers; commands live in sibling modules."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from shoprec.exceptions import ShoprecError

if TYPE_CHECKING:
    from shoprec.data.datasets import Dataset

__all__ = ["DEFAULT_DATASET", "load_source", "main", "parse_params"]

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


def load_source(source: str, data_dir: Path | None) -> Dataset:
    """A named dataset, a directory written by ``shoprec ingest``, or ``synthetic``."""
    from shoprec.data.datasets import load_dataset
    from shoprec.data.local import load_ingested
    from shoprec.data.synthetic import make_synthetic_shop

    if source == "synthetic":
        return make_synthetic_shop()
    if Path(source).is_dir():
        return load_ingested(Path(source))
    return load_dataset(source, data_dir=data_dir, progress=True)


class _Group(click.Group):
    """Turns library errors into one clear line and exit code 2 instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ShoprecError as error:
            click.secho(f"error: {error}", fg="red", err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="SHOPREC_DATA_DIR",
    help="Where named datasets live (env SHOPREC_DATA_DIR; default ~/.cache/shoprec/data).",
)
@click.pass_context
def main(ctx: click.Context, verbose: int, data_dir: Path | None) -> None:
    """shoprec: recommendations for online shops from catalog text and customer behaviour."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = {"data_dir": data_dir}
