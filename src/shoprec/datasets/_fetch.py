"""Fetching: download a dataset's official file, check it, unpack it into place.

:func:`_obtain` tries a dataset's downloads in order: each is streamed to a temp file, checked
against its sha256, unpacked (or converted) into a staging folder and moved into the data
directory, with a ``FETCHED.json`` record of where it came from. When the files are missing and
cannot be fetched, :func:`_not_found` says which files to put where and where they come from.
The registry (:mod:`shoprec.datasets._datasets`) passes its specs in; they are read through the
:class:`_Spec` and :class:`_Source` protocols, so this module does not import it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import logging
import os
import shutil
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Protocol

import pandas as pd
from tqdm.auto import tqdm

from shoprec.exceptions import DatasetNotFoundError

logger = logging.getLogger(__name__)

DATA_DIR_ENV = "SHOPREC_DATA_DIR"
"""Environment variable naming the data directory (see ``resolve_data_dir``)."""
_FETCH_RECORD = "FETCHED.json"
_TIMEOUT_S = 60.0
_CHUNK = 1 << 20


class _Source(Protocol):
    """What fetching reads of a :class:`~shoprec.datasets._datasets.DownloadSource`."""

    @property
    def url(self) -> str: ...
    @property
    def sha256(self) -> str | None: ...
    @property
    def unpack(self) -> Callable[[Path, Path], None]: ...
    @property
    def requires(self) -> tuple[str, ...]: ...
    @property
    def note(self) -> str: ...


class _Spec(Protocol):
    """What fetching reads of a :class:`~shoprec.datasets._datasets.DatasetSpec`."""

    @property
    def name(self) -> str: ...
    @property
    def folder(self) -> str: ...
    @property
    def files(self) -> tuple[str, ...]: ...
    @property
    def homepage(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def downloads(self) -> Sequence[_Source]: ...


# -- finding and fetching
def _missing_files(spec: _Spec, folder: Path) -> list[str]:
    return [name for name in spec.files if not (folder / name).is_file()]


def _not_found(spec: _Spec, folder: Path, missing: list[str], why: str) -> str:
    """The offline message: what is missing, and which files to put where, from where."""
    return (
        f"dataset {spec.name!r} not found in {folder} (missing {', '.join(missing)}); {why}. "
        f"Put these files in {folder}: {', '.join(spec.files)}. They come from {spec.source}. "
        f"Homepage: {spec.homepage}. Set the data directory with data_dir= or ${DATA_DIR_ENV}."
    )


def _download(url: str, dest: Path, *, progress: bool) -> str:
    """Stream ``url`` into ``dest``; returns the sha256 hex digest of the bytes."""
    digest = hashlib.sha256()
    with (
        urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response,
        dest.open("wb") as out,
        tqdm(
            total=int(response.headers.get("Content-Length") or 0) or None,
            unit="B",
            unit_scale=True,
            desc=f"downloading {PurePosixPath(url).name}",
            disable=not progress,
        ) as bar,
    ):
        while chunk := response.read(_CHUNK):
            out.write(chunk)
            digest.update(chunk)
            bar.update(len(chunk))
    return digest.hexdigest()


def _install(staging: Path, folder: Path) -> None:
    """Move the unpacked files into ``folder``; atomic when the folder does not exist yet."""
    if not folder.exists():
        os.replace(staging, folder)
        return
    for path in staging.iterdir():
        os.replace(path, folder / path.name)


def _fetch(spec: _Spec, source: _Source, root: Path, *, progress: bool) -> None:
    """Download ``source`` to a temp file, check it, unpack it and move it into place."""
    absent = [m for m in source.requires if importlib.util.find_spec(m) is None]
    if absent:
        raise RuntimeError(f"converting this download needs {', '.join(absent)} (pip install)")
    root.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=root, prefix=f".{spec.folder}.", suffix=".part")
    os.close(handle)
    archive = Path(name)
    staging = Path(tempfile.mkdtemp(dir=root, prefix=f".{spec.folder}.", suffix=".tmp"))
    try:
        logger.info("downloading %s from %s", spec.name, source.url)
        digest = _download(source.url, archive, progress=progress)
        if source.sha256 is None:
            logger.info("%s has sha256 %s (no known digest to check)", source.url, digest)
        elif digest != source.sha256.lower():
            raise ValueError(f"sha256 {digest} does not match the expected {source.sha256}")
        source.unpack(archive, staging)
        unpacked = _missing_files(spec, staging)
        if unpacked:
            raise ValueError(f"the download did not contain {', '.join(unpacked)}")
        record = {
            "url": source.url,
            "sha256": digest,
            "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "note": source.note,
        }
        (staging / _FETCH_RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        _install(staging, root / spec.folder)
    finally:
        archive.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)


def _obtain(spec: _Spec, root: Path, missing: list[str], *, progress: bool) -> None:
    """Fetch ``spec`` from its downloads; raises DatasetNotFoundError when none works."""
    folder = root / spec.folder
    failures = []
    for source in spec.downloads:
        try:
            _fetch(spec, source, root, progress=progress)
            return
        except (OSError, RuntimeError, ValueError, zipfile.BadZipFile) as error:
            if not _missing_files(spec, folder):
                return  # another process installed it meanwhile
            logger.warning("fetching %s from %s failed: %s", spec.name, source.url, error)
            failures.append(f"{source.url}: {error}")
    why = "fetching failed (" + "; ".join(failures) + ")"
    raise DatasetNotFoundError(_not_found(spec, folder, missing, why))


# -- unpacking official downloads
_MOVIELENS_FILES = ("README.txt", "links.csv", "movies.csv", "ratings.csv", "tags.csv")


def _unpack_movielens(archive: Path, out: Path) -> None:
    """Take the CSVs out of ``ml-latest-small/`` in the zip (by base name: no path traversal)."""
    with zipfile.ZipFile(archive) as zipped:
        for info in zipped.infolist():
            name = PurePosixPath(info.filename).name
            if name in _MOVIELENS_FILES and not info.is_dir():
                with zipped.open(info) as src, (out / name).open("wb") as dst:
                    shutil.copyfileobj(src, dst)


def _unpack_uci_online_retail(archive: Path, out: Path) -> None:
    """Convert the zip's ``Online Retail.xlsx`` to ``online_retail.parquet`` (needs openpyxl)."""
    with zipfile.ZipFile(archive) as zipped:
        books = [n for n in zipped.namelist() if n.lower().endswith(".xlsx")]
        if not books:
            raise ValueError("the archive holds no .xlsx workbook")
        data = io.BytesIO(zipped.read(books[0]))
    text = {"InvoiceNo": str, "StockCode": str, "Description": str, "Country": str}
    frame = pd.read_excel(data, dtype=text)
    frame["InvoiceDate"] = pd.to_datetime(frame["InvoiceDate"])
    frame.to_parquet(out / "online_retail.parquet", index=False)
