"""Options that choose how a shop's files are cleaned, shared by ingest, store import, validate."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from shoprec.data import CleaningConfig

__all__ = ["cleaning_config", "cleaning_options", "echo_cleaning"]

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS = (
    click.option(
        "--strict", is_flag=True, help="Treat every data-quality warning as an error (exit 1)."
    ),
    click.option(
        "--no-clean",
        is_flag=True,
        help="Store the rows as read: no id normalisation, duplicate removal or return netting.",
    ),
    click.option(
        "--exclude-items",
        multiple=True,
        metavar="ID,ID,...",
        help="Item ids to drop (fees, postage, adjustments). Repeatable, comma-separated.",
    ),
    click.option("--fold-case", is_flag=True, help="Upper-case ids, merging case variants."),
    click.option(
        "--cancel-prefix",
        "cancel_prefixes",
        multiple=True,
        default=("C",),
        show_default=True,
        help="Order ids (--map order_id=COLUMN) starting with this are cancellations.",
    ),
    click.option(
        "--timestamp-unit",
        type=click.Choice(["auto", "s", "ms"]),
        default="auto",
        show_default=True,
        help="Unit of numeric timestamps (auto: by magnitude).",
    ),
)


def cleaning_options(command: F) -> F:
    """Add the cleaning options to a command (keyword arguments: see :func:`cleaning_config`)."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def cleaning_config(
    *,
    strict: bool,
    no_clean: bool,
    exclude_items: Sequence[str],
    fold_case: bool,
    cancel_prefixes: Sequence[str],
) -> CleaningConfig | None:
    """The :class:`CleaningConfig` the options ask for (``None`` for ``--no-clean``)."""
    if no_clean:
        if strict or exclude_items or fold_case:
            raise click.UsageError("--no-clean cannot be combined with cleaning options")
        return None
    items = tuple(i.strip() for group in exclude_items for i in group.split(",") if i.strip())
    return CleaningConfig(
        fold_case=fold_case,
        cancel_prefixes=tuple(cancel_prefixes),
        exclude_items=items,
        strict=strict,
    )


def echo_cleaning(cleaning: dict[str, Any] | None) -> None:
    """Print what cleaning fixed (with counts) and, loudly, what it warns about."""
    from shoprec.data import CleaningReport

    if not cleaning:
        return
    report = CleaningReport.from_dict(cleaning)
    for line in report.lines():
        if not line.startswith("warning"):  # warnings were logged loudly as they were found
            click.echo(f"  {line}")
    if report.warnings:
        click.secho(f"  {len(report.warnings)} warning(s) above; --strict makes them errors",
                    fg="yellow", err=True)  # fmt: skip
