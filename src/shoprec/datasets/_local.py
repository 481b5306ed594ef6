"""A shop's own files as a stored dataset: what ``shoprec ingest`` writes and the loader for it.

An ingested dataset is a directory::

    manifest.json          format version, sources, ingest reports, counts, timestamp kind
    events.parquet         Interactions.frame (EVENT_COLUMNS)
    catalog.parquet        Catalog.frame (ITEM_COLUMNS)
    events.rejects.csv     rows rejected under the lenient policy (only when there are some)
    catalog.rejects.csv

It is written into a temporary directory beside ``out`` and renamed into place, so a failed
ingest leaves nothing at ``out``.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from shoprec._artifacts import read_manifest
from shoprec.config import SPLITS
from shoprec.data import (
    EVENT_COLUMNS,
    ITEM_COLUMNS,
    Catalog,
    Dataset,
    IngestReport,
    Interactions,
    read_catalog,
    read_events,
)
from shoprec.data._cleaning import CLEAN, CleaningConfig, finish_cleaning, normalise_catalog
from shoprec.data._splits import Split, auto_split, chosen_split, split_events
from shoprec.exceptions import ArtifactError, DatasetNotFoundError, ValidationError

__all__ = [
    "DATASET_FORMAT_VERSION",
    "ingest_files",
    "load_ingested",
    "minimal_catalog",
    "read_shop_files",
]

logger = logging.getLogger(__name__)

DATASET_FORMAT_VERSION = 1
_FORMAT = "shoprec-dataset"
_MANIFEST = "manifest.json"
_EVENTS = "events.parquet"
_CATALOG = "catalog.parquet"


def ingest_files(
    events_path: str | Path,
    catalog_path: str | Path | None = None,
    *,
    out: str | Path,
    event_mapping: Mapping[str, str] | None = None,
    item_mapping: Mapping[str, str] | None = None,
    default_event_type: str | None = None,
    lenient: bool = False,
    split: str | None = None,
    overwrite: bool = False,
    item_index: str | Path | None = None,
    progress: bool = False,
    cleaning: CleaningConfig | None = CLEAN,
    timestamp_unit: str = "auto",
) -> list[IngestReport]:
    """Validate a shop's events (and catalog) file and store them as a dataset directory.

    Parameters
    ----------
    events_path
        Events file: CSV, JSON Lines, Parquet or RecBole ``.inter`` (see
        :func:`~shoprec.data._readers.read_events`).
    catalog_path
        Catalog file in the same formats (or ``.item``). Without one, a minimal catalog is made
        from the events' item ids (title = item id). With one, events on items missing from it
        are bad rows. It may be the events file itself (an order file with product columns):
        then each item's first row describes it.
    out
        The dataset directory to create. An existing empty directory is used; an earlier
        ingested dataset is replaced only with ``overwrite=True``; any other path is refused.
    event_mapping, item_mapping
        shoprec field -> file column for each file.
    default_event_type
        Event type for rows without one.
    lenient
        Reject bad rows into ``*.rejects.csv`` in the dataset instead of failing on the first.
    split
        How the dataset is split for evaluation, recorded in its manifest: ``"temporal"`` (one
        global cut in time) or ``"loo"`` (each user's last event is the test target). Required
        when the events have timestamps, because positions exported as timestamps look the
        same as real times; events without timestamps can only be split ``"loo"``.
    overwrite
        Replace an existing ingested dataset at ``out``.
    item_index
        For RecBole ``.inter`` events keyed by item index (UniSRec's form): the
        ``item2index`` file mapping the catalog's ids to those indexes.
    progress
        Show progress bars.
    cleaning, timestamp_unit
        As for :func:`read_shop_files`.

    Returns
    -------
    list[IngestReport]
        The catalog's report (when a catalog file was given), then the events'.

    Raises
    ------
    ValidationError
        For bad rows (strict), missing columns, unreadable files, no valid events at all (the
        rejected rows are then kept beside ``out`` and the message names the file), or a
        missing or impossible ``split``.
    ArtifactError
        When ``out`` exists and is not an empty directory, or is an ingested dataset and
        ``overwrite`` is false.
    """
    out = Path(out)
    if split is not None and split not in SPLITS:
        raise ValidationError(f"unknown split {split!r}; choose from {list(SPLITS)}", field="split")
    _check_target(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.ingest-"))
    try:
        reports = _write_dataset(
            Path(events_path),
            None if catalog_path is None else Path(catalog_path),
            staging,
            out,
            event_mapping=event_mapping or None,
            item_mapping=item_mapping or None,
            default_event_type=default_event_type,
            policy="lenient" if lenient else "strict",
            split=split,
            item_index=item_index,
            progress=progress,
            read_options={"cleaning": cleaning, "timestamp_unit": timestamp_unit},
        )
        _replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("dataset written to %s", out)
    return reports


def _check_target(out: Path, overwrite: bool) -> None:
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return
    if _is_dataset(out):
        if overwrite:
            logger.warning("replacing the ingested dataset at %s", out)
            return
        raise ArtifactError(
            f"{out} already holds an ingested dataset; pass --overwrite (overwrite=True) to "
            "replace it, or choose another output directory"
        )
    raise ArtifactError(
        f"{out} exists and is not an ingested dataset; choose another output directory"
    )


def _is_dataset(path: Path) -> bool:
    try:
        return json.loads((path / _MANIFEST).read_text())["format"] == _FORMAT
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _replace(staging: Path, out: Path) -> None:
    """Move the finished dataset into place; an earlier one is removed only afterwards."""
    if not out.exists():
        staging.rename(out)
        return
    retired = out.with_name(f".{out.name}.old-{staging.name}")
    out.rename(retired)
    staging.rename(out)
    shutil.rmtree(retired, ignore_errors=True)


def read_shop_files(
    events_path: str | Path,
    catalog_path: str | Path | None = None,
    *,
    event_mapping: Mapping[str, str] | None = None,
    item_mapping: Mapping[str, str] | None = None,
    default_event_type: str | None = None,
    lenient: bool = False,
    rejects_dir: str | Path | None = None,
    keep_rejects_at: str | Path | None = None,
    item_index: str | Path | None = None,
    progress: bool = False,
    cleaning: CleaningConfig | None = CLEAN,
    timestamp_unit: str = "auto",
) -> tuple[Catalog, Interactions, list[IngestReport]]:
    """Read and validate a shop's events (and catalog) file, as :func:`ingest_files` does.

    Parameters
    ----------
    events_path, catalog_path, event_mapping, item_mapping, default_event_type, lenient,
    item_index, progress
        As for :func:`ingest_files`.
    rejects_dir
        Where the lenient policy writes ``events.rejects.csv`` / ``catalog.rejects.csv``
        (default: beside the events file).
    keep_rejects_at
        When every event row is rejected, move the events' rejects file here before raising
        (for a ``rejects_dir`` about to be deleted), so that the error names a file that exists.
    cleaning, timestamp_unit
        Safe fixes (``None``: as read; see the events report's ``cleaning``), timestamp unit.

    Returns
    -------
    tuple[Catalog, Interactions, list[IngestReport]]
        The catalog (a minimal one from the events' item ids without a catalog file), the
        valid events in time order, and the reports (catalog first, when given).
    """
    policy = "lenient" if lenient else "strict"
    rejects = Path(rejects_dir) if rejects_dir is not None else Path(events_path).parent
    reports: list[IngestReport] = []
    catalog: Catalog | None = None
    if catalog_path is not None:
        same_file = Path(catalog_path).resolve() == Path(events_path).resolve()
        catalog, report = read_catalog(
            catalog_path,
            mapping=item_mapping or None,
            policy=policy,
            rejects_path=rejects / "catalog.rejects.csv",
            progress=progress,
            # an order file repeats the product on every line: its first line is the item
            repeated_ids="first" if same_file else "reject",
        )
        reports.append(report)
        catalog = normalise_catalog(catalog, cleaning)
    interactions, report = read_events(
        events_path,
        mapping=event_mapping or None,
        default_event_type=default_event_type,
        policy=policy,
        rejects_path=rejects / "events.rejects.csv",
        progress=progress,
        known_items=None if catalog is None else set(catalog.item_ids),
        item_index=item_index,
        cleaning=cleaning,
        timestamp_unit=timestamp_unit,
    )
    reports.append(report)
    finish_cleaning(report, interactions, cleaning)
    if len(interactions) == 0:
        if keep_rejects_at is not None:
            _keep_rejects(report, Path(keep_rejects_at))
        raise ValidationError(f"no valid events to store ({report.summary()})")
    return catalog or minimal_catalog(interactions), interactions, reports


def _write_dataset(
    events_path: Path,
    catalog_path: Path | None,
    staging: Path,
    out: Path,
    *,
    event_mapping: Mapping[str, str] | None,
    item_mapping: Mapping[str, str] | None,
    default_event_type: str | None,
    policy: str,
    split: str | None,
    item_index: str | Path | None,
    progress: bool,
    read_options: Mapping[str, Any],
) -> list[IngestReport]:
    """Read, validate and write everything into ``staging``; paths in reports point to ``out``."""
    catalog, interactions, reports = read_shop_files(
        events_path,
        catalog_path,
        event_mapping=event_mapping,
        item_mapping=item_mapping,
        default_event_type=default_event_type,
        lenient=policy == "lenient",
        rejects_dir=staging,
        keep_rejects_at=out.with_name(f"{out.name}.events.rejects.csv"),
        item_index=item_index,
        progress=progress,
        **read_options,
    )
    protocol = chosen_split(interactions, split, source=str(events_path))
    for report in reports:  # the staging directory becomes ``out``
        if report.rejects_path is not None:
            report.rejects_path = str(out / Path(report.rejects_path).name)
    interactions.frame.to_parquet(staging / _EVENTS, index=False)
    catalog.frame.to_parquet(staging / _CATALOG, index=False)
    manifest = _manifest(events_path, catalog_path, reports, interactions, catalog, out.name)
    manifest["split"] = protocol
    (staging / _MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return reports


def _keep_rejects(report: IngestReport, kept: Path) -> None:
    """Move the rejects file to ``kept`` and point the report at it."""
    if report.rejects_path is None:
        return
    shutil.move(report.rejects_path, kept)
    report.rejects_path = str(kept)


def minimal_catalog(interactions: Interactions) -> Catalog:
    """One item per event item id, titled by its id, on the platform of its first event."""
    frame = interactions.frame[interactions.frame["item_id"] != ""]
    firsts = frame.drop_duplicates("item_id")
    items = pd.DataFrame({"item_id": firsts["item_id"], "title": firsts["item_id"]})
    items["platform"] = firsts["platform"]
    return Catalog(items.reset_index(drop=True))


def _manifest(
    events_path: Path,
    catalog_path: Path | None,
    reports: list[IngestReport],
    interactions: Interactions,
    catalog: Catalog,
    name: str,
) -> dict[str, Any]:
    timestamps = interactions.frame["timestamp"].to_numpy()
    return {
        "format": _FORMAT,
        "format_version": DATASET_FORMAT_VERSION,
        "name": name,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "sources": {
            "events": str(events_path.resolve()),
            "catalog": None if catalog_path is None else str(catalog_path.resolve()),
        },
        "reports": [_relative(report.to_dict()) for report in reports],
        "counts": {
            "events": len(interactions),
            "users": len(interactions.user_ids),
            "items": len(interactions.item_ids),
            "catalog_items": len(catalog),
        },
        "has_timestamps": interactions.has_timestamps,
        "time_range": [int(timestamps.min()), int(timestamps.max())],
        "catalog_generated": catalog_path is None,
    }


def _relative(report: dict[str, Any]) -> dict[str, Any]:
    """A report whose rejects file is named relative to the dataset directory."""
    if report["rejects_path"]:
        report["rejects_path"] = Path(report["rejects_path"]).name
    return report


def load_ingested(path: str | Path, *, split: str | None = None) -> Dataset:
    """Load a dataset directory written by :func:`ingest_files`, split for evaluation.

    Parameters
    ----------
    path
        The dataset directory.
    split
        ``"loo"`` or ``"temporal"``; ``None`` uses the split chosen at ingest (datasets from
        before that choice was recorded: temporal when the timestamps span time, else
        leave-one-out, with a warning).

    Raises
    ------
    DatasetNotFoundError
        ``path`` does not exist or is not a directory.
    ArtifactError
        The directory is not an ingested dataset, is from a newer format, or a file is missing
        or unreadable.
    """
    path = Path(path)
    if not path.is_dir():
        raise DatasetNotFoundError(
            f"no ingested dataset at {path}; create one with `shoprec ingest --out {path} ...`"
        )
    manifest = _read_manifest(path)
    interactions = Interactions(
        _read_frame(path / _EVENTS, EVENT_COLUMNS),
        has_timestamps=bool(manifest.get("has_timestamps")),
    )
    catalog = Catalog(_read_frame(path / _CATALOG, ITEM_COLUMNS))
    sources = manifest.get("sources", {})
    return Dataset(
        name=str(manifest.get("name") or path.name),
        catalog=catalog,
        split=_split(interactions, split or manifest.get("split"), path),
        description=f"ingested from {sources.get('events')}",
    )


def _read_manifest(path: Path) -> dict[str, Any]:
    manifest = read_manifest(path / _MANIFEST, _FORMAT, what="an ingested dataset")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > DATASET_FORMAT_VERSION:
        raise ArtifactError(
            f"{path} has dataset format version {version!r}; this shoprec reads up to "
            f"{DATASET_FORMAT_VERSION}: upgrade shoprec or ingest the files again"
        )
    return manifest


def _read_frame(file: Path, columns: Mapping[str, str] | None = None) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(file)
    except FileNotFoundError:
        raise ArtifactError(f"{file} is missing; ingest the files again") from None
    except Exception as error:  # pyarrow raises several types for a damaged file
        raise ArtifactError(f"{file} is unreadable ({error}); ingest the files again") from None
    missing = sorted(set(columns or {}) - set(frame.columns))
    if missing:
        raise ArtifactError(f"{file} lacks column(s) {missing}; ingest the files again")
    return frame


def _split(interactions: Interactions, protocol: str | None, path: Path) -> Split:
    if protocol is not None:
        return split_events(interactions, protocol)
    split = auto_split(interactions)
    logger.warning(
        "%s does not record its split (ingested by an older shoprec); using %s: ingest it again "
        "with --split, or pass --split, to choose",
        path,
        split.protocol,
    )
    return split
