"""Clean ingestion: the safe fixes applied by default, and findings about everything else.

Safe fixes (each counted in the :class:`CleaningReport`):

- **id normalisation**: surrounding whitespace is stripped and integer ids written as floats
  (``13085.0``, what pandas writes for a column with gaps) become ``13085``, so a customer is
  the same customer whether the file came from CSV or Parquet;
- **exact duplicate rows** (every read column equal) are removed;
- **cancellations and returns** (a negative quantity, or an order id starting with a
  cancellation prefix such as UCI's ``C``) are netted against the same customer's earlier
  events of that item and type, latest first: fully cancelled purchases are removed, partly
  returned ones keep the rest, and cancellations without a matching purchase (it predates the
  file) are dropped; none is stored as a purchase.

Everything else is a :class:`Finding` (likely non-product items, case variants of ids, odd
timestamps, ...) that names the mapping or flag that fixes it. Findings are warnings; with
``strict`` they are errors.
"""

from __future__ import annotations

import logging
import re
import shlex
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from shoprec.data._schema import Catalog, Interactions
from shoprec.exceptions import ValidationError

__all__ = [
    "AUXILIARY_EVENT_FIELDS",
    "CLEAN",
    "CleaningConfig",
    "CleaningReport",
    "Finding",
    "clean_event_frame",
    "finish_cleaning",
    "inspect_events",
    "normalise_catalog",
    "normalise_ids",
]

logger = logging.getLogger(__name__)

AUXILIARY_EVENT_FIELDS = ("order_id", "price", "title")
"""Event-file fields read for cleaning and checks but not stored with the events: the order
(invoice) id, the unit price and the product's name on the order line."""
_FLOAT_INT = re.compile(r"^([+-]?\d+)\.0+$")
# Order lines that are not products: fees, postage, manual adjustments, discounts. The word must
# end the name ("Next Day Carriage", "AMAZON FEE"), not describe a product ("CARRIAGE CLOCK").
_NON_PRODUCT = re.compile(
    r"\b(?:postage|carriage|shipping|delivery|fees?|charges?|manual|adjust(?:ment)?s?|"
    r"discount|commission|samples?)\W*$",
    re.IGNORECASE,
)
_BASKET_SHARE = 0.2  # no real product is in a fifth of all orders; postage can be
_MIN_BASKETS = 100  # below this, shares say nothing


@dataclass(frozen=True)
class CleaningConfig:
    """Which fixes ingestion applies.

    Attributes
    ----------
    normalise_ids
        Strip ids and write float-looking integer ids as integers.
    fold_case
        Upper-case every id, merging case variants (``m`` and ``M``). Off by default: case may
        be meaningful; variants are reported instead.
    drop_duplicates
        Remove exact duplicate rows.
    handle_returns
        Net cancellations and returns against earlier events; off, negative quantities are bad
        rows as before.
    cancel_prefixes
        Order ids starting with one of these are cancellations (needs an ``order_id`` mapping).
    exclude_items
        Item ids dropped from the events (fees, postage, adjustments).
    strict
        Findings are errors instead of warnings.
    """

    normalise_ids: bool = True
    fold_case: bool = False
    drop_duplicates: bool = True
    handle_returns: bool = True
    cancel_prefixes: tuple[str, ...] = ("C",)
    exclude_items: tuple[str, ...] = ()
    strict: bool = False


CLEAN = CleaningConfig()
"""The default: every safe fix, findings as warnings."""


@dataclass(frozen=True)
class Finding:
    """Something in the data that ingestion does not fix by itself.

    Attributes
    ----------
    check
        Short name of the check, e.g. ``"non_product_items"``.
    message
        What was found, with counts.
    fix
        The mapping or flag that fixes it.
    count
        Rows, ids or items concerned.
    examples
        A few of them.
    severity
        ``"warning"`` (an error under ``strict``) or ``"info"``.
    """

    check: str
    message: str
    fix: str
    count: int = 0
    examples: tuple[str, ...] = ()
    severity: str = "warning"

    def line(self) -> str:
        """One line for a terminal: message, examples and the fix."""
        shown = f" (e.g. {', '.join(self.examples[:5])})" if self.examples else ""
        return f"{self.message}{shown}. Fix: {self.fix}"


@dataclass
class CleaningReport:
    """What cleaning did (``fixes``: description -> rows) and what it found."""

    fixes: Counter[str] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def lines(self) -> list[str]:
        """Human lines: one per fix with its count, then one per warning."""
        out = [f"fixed: {what}: {n:,}" for what, n in self.fixes.items() if n]
        return out + [f"warning: {finding.line()}" for finding in self.warnings]

    def to_dict(self) -> dict[str, Any]:
        return {
            "fixes": dict(self.fixes),
            "findings": [
                {**finding.__dict__, "examples": list(finding.examples)}
                for finding in self.findings
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CleaningReport:
        """The inverse of :meth:`to_dict`."""
        findings = [
            Finding(**{**f, "examples": tuple(f.get("examples", ()))})
            for f in data.get("findings", [])
        ]
        return cls(Counter(data.get("fixes", {})), findings)

    def raise_if_strict(self, config: CleaningConfig, source: str) -> None:
        """Under ``strict``, raise :class:`ValidationError` listing the warnings."""
        if config.strict and self.warnings:
            listed = "; ".join(finding.line() for finding in self.warnings)
            raise ValidationError(f"warnings are errors under --strict: {listed}", source=source)


def normalise_ids(values: pd.Series, config: CleaningConfig) -> tuple[pd.Series, np.ndarray]:
    """Ids with the configured normalisation, and the mask of ids it changed."""
    out = values
    if config.normalise_ids:
        out = out.str.strip().str.replace(_FLOAT_INT, r"\1", regex=True)
    if config.fold_case:
        out = out.str.upper()
    changed = (out != values).to_numpy(dtype=bool)
    return out, changed


def clean_event_frame(
    frame: pd.DataFrame, config: CleaningConfig, *, has_quantity: bool
) -> tuple[pd.DataFrame, CleaningReport]:
    """Apply the safe fixes to parsed events (with any ``_``-prefixed auxiliary columns).

    Parameters
    ----------
    frame
        Events as the reader parsed them: the event columns, ``_ids_fixed`` (ids changed by
        :func:`normalise_ids`) and the auxiliary fields as ``_order_id``, ``_price``, ``_title``
        when mapped.
    config
        Which fixes to apply.
    has_quantity
        Whether the file had a quantity column (returns are recognisable by sign).

    Returns
    -------
    tuple[pandas.DataFrame, CleaningReport]
        The cleaned events (auxiliary columns removed) and what was done and found.
    """
    report = CleaningReport()
    if "_ids_fixed" in frame:
        report.fixes["ids normalised (whitespace, float-looking integers, case)"] = int(
            frame["_ids_fixed"].sum()
        )
        frame = frame.drop(columns="_ids_fixed")
    if config.exclude_items:
        excluded = frame["item_id"].isin(set(config.exclude_items)).to_numpy()
        report.fixes["rows on excluded items removed"] = int(excluded.sum())
        frame = frame[~excluded]
    if config.drop_duplicates:
        duplicated = frame.duplicated(keep="first").to_numpy()
        report.fixes["exact duplicate rows removed"] = int(duplicated.sum())
        frame = frame[~duplicated]
    if config.handle_returns:
        frame = _net_returns(frame, config, report)
    report.findings.extend(_non_product_findings(frame))
    if not has_quantity and "_order_id" not in frame:
        report.findings.append(
            Finding(
                "returns_unrecognisable",
                "no quantity or order id column: cancellations and returns cannot be told "
                "from purchases",
                "map the quantity (--map quantity=COLUMN) or the order id "
                "(--map order_id=COLUMN) if the file has them",
                severity="info",
            )
        )
    auxiliary = [c for c in frame.columns if c.startswith("_")]
    return frame.drop(columns=auxiliary).reset_index(drop=True), report


def _net_returns(
    frame: pd.DataFrame, config: CleaningConfig, report: CleaningReport
) -> pd.DataFrame:
    """Remove cancellation rows and subtract their quantities from earlier matching events."""
    cancel = (frame["quantity"] < 0).to_numpy(copy=True)
    if "_order_id" in frame and config.cancel_prefixes:
        cancel |= frame["_order_id"].str.startswith(tuple(config.cancel_prefixes)).to_numpy()
    if not cancel.any():
        return frame
    keys = ["user_id", "item_id", "event_type"]
    returned = frame[cancel].assign(quantity=frame.loc[cancel, "quantity"].abs())
    owed = returned.groupby(keys)["quantity"].sum()
    # Latest first: what is still owed when an event is reached is the key's total minus the
    # quantities of the later events of that key.
    order = frame[~cancel].sort_values("timestamp", ascending=False, kind="stable")
    index = pd.MultiIndex.from_frame(order[keys])
    due = owed.reindex(index).fillna(0).to_numpy()
    quantity = order["quantity"].to_numpy()
    later = order.groupby(keys, sort=False)["quantity"].cumsum().to_numpy() - quantity
    left = np.clip(quantity - np.clip(due - later, 0, None), 0, None).astype(np.int64)
    matched = pd.Series(quantity - left, index=index).groupby(level=keys).sum()
    unmatched = (owed - matched.reindex(owed.index).fillna(0)).gt(0)
    report.fixes["cancellation and return rows netted against earlier events"] = int(cancel.sum())
    report.fixes["events fully cancelled and removed"] = int((left == 0).sum())
    report.fixes["events partly returned (quantity reduced)"] = int(
        ((left > 0) & (left < quantity)).sum()
    )
    report.fixes["cancellations without an earlier event in the file, dropped"] = int(
        unmatched.sum()
    )
    order = order.assign(quantity=left)
    return order[left > 0].sort_index()


def _non_product_findings(frame: pd.DataFrame) -> Iterable[Finding]:
    """Items that look like fees, postage or adjustments rather than products."""
    suspects: dict[str, str] = {}
    if "_price" in frame:
        price = frame.groupby("item_id")["_price"].max()
        for item in price.index[price <= 0]:
            suspects[item] = "price never above zero"
    if "_title" in frame:
        titles = frame.drop_duplicates("item_id").set_index("item_id")["_title"]
        for item in titles.index[titles.str.contains(_NON_PRODUCT, na=False)]:
            suspects[item] = f"named {titles[item]!r}"
    baskets = (
        frame["_order_id"]
        if "_order_id" in frame
        else frame["user_id"] + "@" + frame["timestamp"].astype(str)
    )
    n_baskets = baskets.nunique()
    share = baskets.groupby(frame["item_id"]).nunique() / max(n_baskets, 1)
    for item in share.index[(share > _BASKET_SHARE) & (n_baskets >= _MIN_BASKETS)]:
        suspects[item] = f"in {share[item]:.0%} of orders"
    if suspects:
        items = sorted(suspects)
        yield Finding(
            "non_product_items",
            f"{len(items)} item(s) look like fees, postage or adjustments rather than products",
            "exclude them with --exclude-items " + shlex.quote(",".join(items[:20])),
            count=len(items),
            examples=tuple(f"{item} ({suspects[item]})" for item in items[:8]),
        )


def normalise_catalog(catalog: Catalog, config: CleaningConfig | None) -> Catalog:
    """The catalog with its item ids normalised as the events' are, so that they still match
    (as it is without ``config``).

    Raises
    ------
    ValidationError
        Two catalog rows become one id (e.g. ``7`` and ``7.0``).
    """
    if config is None:
        return catalog
    frame = catalog.frame.copy()
    frame["item_id"], changed = normalise_ids(frame["item_id"], config)
    if not changed.any():
        return catalog
    return Catalog(frame)


class _Report(Protocol):
    source: str
    cleaning: dict[str, Any] | None


def finish_cleaning(
    report: _Report, interactions: Interactions, config: CleaningConfig | None
) -> None:
    """Add the checks of the stored events to a cleaned read's report (an ``IngestReport``,
    in place), log its warnings, and under ``strict`` raise :class:`ValidationError` when
    there is any. Does nothing without ``config``."""
    if config is None:
        return
    cleaning = CleaningReport.from_dict(report.cleaning or {})
    cleaning.findings.extend(inspect_events(interactions))
    for finding in cleaning.warnings:
        logger.warning("%s: %s", report.source, finding.line())
    report.cleaning = cleaning.to_dict()
    cleaning.raise_if_strict(config, report.source)


_YEAR_2000_MS = 946_684_800_000
_YEAR_1973_MS = 100_000_000_000  # numbers below 1e11 read as milliseconds land before 1973
_DAY_MS = 86_400_000


def inspect_events(interactions: Interactions, *, now_ms: int | None = None) -> list[Finding]:
    """Warnings about stored-form events: id case variants and implausible timestamps.

    Parameters
    ----------
    interactions
        Events as read (after cleaning).
    now_ms
        The present, for "in the future" (default: the clock).
    """
    findings = [
        finding
        for name in ("user_id", "item_id")
        for check in (_unnormalised_ids, _case_variants)
        if (finding := check(interactions.frame[name], name)) is not None
    ]
    if interactions.has_timestamps and len(interactions):
        findings.extend(_timestamp_findings(interactions.frame["timestamp"].to_numpy(), now_ms))
    return findings


def _unnormalised_ids(ids: pd.Series, name: str) -> Finding | None:
    distinct = pd.Series(ids.unique(), dtype=object).astype(str)
    odd = distinct[distinct.str.match(_FLOAT_INT) | (distinct != distinct.str.strip())]
    if odd.empty:
        return None
    return Finding(
        f"{name}_not_normalised",
        f"{len(odd)} {name.removesuffix('_id')} id(s) are floats ('13085.0') or carry spaces: "
        "the same id written another way elsewhere is another customer or product",
        "ingest again with cleaning on (the default; without --no-clean)",
        count=len(odd),
        examples=tuple(repr(i) for i in odd.iloc[:5]),
    )


def _case_variants(ids: pd.Series, name: str) -> Finding | None:
    distinct = pd.Series(ids.unique())
    distinct = distinct[distinct != ""]
    folded = distinct.str.upper()
    spellings = distinct.groupby(folded.to_numpy()).agg(list)
    variants = spellings[spellings.map(len) > 1]
    if variants.empty:
        return None
    return Finding(
        f"{name}_case_variants",
        f"{len(variants)} {name.removesuffix('_id')} id(s) appear in several spellings that "
        "differ only in case",
        "--fold-case to treat them as one id (if case carries no meaning in your ids)",
        count=len(variants),
        examples=tuple(" / ".join(map(str, group)) for group in variants.iloc[:5]),
    )


def _timestamp_findings(stamps: np.ndarray, now_ms: int | None) -> list[Finding]:
    import time

    now = int(time.time() * 1000) if now_ms is None else now_ms
    findings = []
    early = stamps < _YEAR_2000_MS
    if (stamps < _YEAR_1973_MS).mean() > 0.5:
        findings.append(
            Finding(
                "timestamp_unit",
                f"{int(early.sum()):,} timestamps fall before 1973: they look like seconds "
                "read as milliseconds",
                "--timestamp-unit s",
                count=int(early.sum()),
            )
        )
    elif early.any():
        findings.append(
            Finding(
                "timestamp_before_2000",
                f"{int(early.sum()):,} timestamps are before 2000",
                "check the timestamp column (--map timestamp=COLUMN) and --timestamp-unit",
                count=int(early.sum()),
            )
        )
    future = stamps > now + _DAY_MS
    if future.any():
        findings.append(
            Finding(
                "timestamp_future",
                f"{int(future.sum()):,} timestamps are in the future",
                "--timestamp-unit ms if they are milliseconds read as seconds; otherwise check "
                "the export's time zone and clock",
                count=int(future.sum()),
            )
        )
    return findings
