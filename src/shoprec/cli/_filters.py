"""Business-rule flags shared by the commands that produce lists: price, category, brand,
stock and exclusions, turned into one :class:`~shoprec.rerank.BusinessRules`."""

from __future__ import annotations

import functools
from typing import Any

import click

__all__ = ["filter_options", "rules_from"]

_PRICE = click.FloatRange(min=0)
_OPTIONS = (
    click.option("--min-price", type=_PRICE, help="Only items costing this or more."),
    click.option("--max-price", type=_PRICE, help="Only items costing this or less."),
    click.option(
        "--category",
        "categories",
        multiple=True,
        help="Only items with this name at any level of their category path (repeatable).",
    ),
    click.option(
        "--exclude-category", "exclude_categories", multiple=True, help="Never these categories."
    ),
    click.option("--brand", "brands", multiple=True, help="Only items of this brand (repeatable)."),
    click.option("--exclude-brand", "exclude_brands", multiple=True, help="Never this brand."),
    click.option(
        "--allow-out-of-stock",
        is_flag=True,
        help="Also show items whose in_stock attribute says none are left.",
    ),
    click.option("--exclude", "exclude_items", multiple=True, help="Never this item id."),
)  # fmt: skip
_NAMES = (
    "min_price", "max_price", "categories", "exclude_categories", "brands", "exclude_brands",
    "allow_out_of_stock", "exclude_items",
)  # fmt: skip


def filter_options(command: Any) -> Any:
    """Add the filter flags to ``command``; it receives them as one ``rules`` keyword
    (``None`` when no filter was given)."""

    @functools.wraps(command)  # also carries the click parameters declared below this one
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name in _NAMES}
        return command(*args, rules=rules_from(**values), **kwargs)

    for option in reversed(_OPTIONS):
        wrapped = option(wrapped)
    return wrapped


def rules_from(
    *,
    min_price: float | None = None,
    max_price: float | None = None,
    categories: tuple[str, ...] = (),
    exclude_categories: tuple[str, ...] = (),
    brands: tuple[str, ...] = (),
    exclude_brands: tuple[str, ...] = (),
    allow_out_of_stock: bool = False,
    exclude_items: tuple[str, ...] = (),
) -> Any:
    """The rules the flags describe; ``None`` when no flag was given (the pipeline's default:
    in-stock items only)."""
    from shoprec.rerank import BusinessRules

    given = (min_price, max_price, categories, exclude_categories, brands, exclude_brands)
    if not any(v not in (None, ()) for v in given) and not allow_out_of_stock and not exclude_items:
        return None
    return BusinessRules(
        include_categories=frozenset(categories),
        exclude_categories=frozenset(exclude_categories),
        include_brands=frozenset(brands),
        exclude_brands=frozenset(exclude_brands),
        min_price=min_price,
        max_price=max_price,
        exclude_item_ids=frozenset(exclude_items),
        allow_out_of_stock=allow_out_of_stock,
    )
