"""Named public datasets: where they live, how they are read, split and fetched.

Each entry of :data:`DATASETS` is a :class:`DatasetSpec`: the folder under the data directory,
the files its adapter reads, where those files come from and, for datasets with an official
public download, how to fetch and convert it. :func:`load_dataset` reads one into a
:class:`Dataset` (catalog + split), fetching it first when it is missing and fetchable.
The loaders live in :mod:`shoprec.datasets._adapters`, downloading in
:mod:`shoprec.datasets._fetch`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from shoprec.config import find_config, read_config, site_config_path
from shoprec.data import Catalog, Dataset, Split
from shoprec.datasets._adapters import (
    Step,
    _load_amazon2014_beauty,
    _load_amazon2023_bhh,
    _load_amazon2023_electronics,
    _load_movielens,
    _load_uci_online_retail,
)
from shoprec.datasets._fetch import (
    DATA_DIR_ENV,
    _missing_files,
    _not_found,
    _obtain,
    _unpack_movielens,
    _unpack_uci_online_retail,
)
from shoprec.datasets._local import load_ingested
from shoprec.exceptions import DatasetNotFoundError

__all__ = [
    "DATASETS",
    "DATA_DIR_ENV",
    "Dataset",
    "DatasetSpec",
    "DownloadSource",
    "available_datasets",
    "data_dir_origin",
    "load_dataset",
    "resolve_data_dir",
]

logger = logging.getLogger(__name__)

Loader = Callable[[Path, Step], tuple[Catalog, Split]]
"""``loader(folder, step) -> (catalog, split)``: reads one dataset's files from ``folder``."""


@dataclass(frozen=True)
class DownloadSource:
    """An official download of a dataset and how to turn it into the adapter's files.

    Attributes
    ----------
    url
        Where to download from (``https://`` or, in tests, ``file://``).
    sha256
        Expected hex digest of the downloaded file; ``None`` when not known (then only logged).
    unpack
        ``unpack(archive, out_dir)`` writes the files the adapter reads into ``out_dir``.
    requires
        Modules ``unpack`` needs beyond the core dependencies; checked before downloading.
    note
        What this download is, recorded next to the files (e.g. which release it holds).
    """

    url: str
    sha256: str | None
    unpack: Callable[[Path, Path], None]
    requires: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class DatasetSpec:
    """Everything needed to find, fetch and read one named dataset.

    Attributes
    ----------
    name
        Registry name, e.g. ``movielens_small``.
    folder
        Folder under the data directory holding the files.
    description
        One line for listings and reports.
    protocol
        The split the loader produces: ``"temporal"`` or ``"loo"`` (leave-one-out).
    files
        The files the loader reads; the dataset is available when all are present.
    homepage
        The underlying data's official page.
    source
        Where these exact files come from, for users who must put them in place by hand.
    loader
        ``loader(folder, step) -> (catalog, split)``.
    downloads
        Official downloads, tried in order; empty when there is none for these files.
    """

    name: str
    folder: str
    description: str
    protocol: str
    files: tuple[str, ...]
    homepage: str
    source: str
    loader: Loader
    downloads: tuple[DownloadSource, ...] = ()


# -- the registry
_AMAZON2023 = "https://amazon-reviews-2023.github.io/"
_NO_FETCH = "There is no official single-file download of this exact subset; "

DATASETS: dict[str, DatasetSpec] = {
    "amazon2023_electronics": DatasetSpec(
        name="amazon2023_electronics",
        folder="amazon2023_electronics_subset",
        description="Amazon Reviews 2023 Electronics 5-core, 15k users, given temporal split",
        protocol="temporal",
        files=("items.parquet", "train.parquet", "val.parquet", "test.parquet"),
        homepage=_AMAZON2023,
        source=_NO_FETCH + "take data/{items,train,val,test}.parquet from "
        "github.com/21zaimotman-tech/amazon-recsys at commit "
        "12a02448d862053ba89d74e47ac62b598e825e58 (deleted from later commits)",
        loader=_load_amazon2023_electronics,
    ),
    "amazon2014_beauty": DatasetSpec(
        name="amazon2014_beauty",
        folder="amazon2014_beauty_5core",
        description="Amazon 2014 Beauty 5-core (SASRec/P5 benchmark), order only, leave-one-out",
        protocol="loo",
        files=("sequential_data.txt", "datamaps.json", "Amazon_Beauty.item"),
        homepage="https://cseweb.ucsd.edu/~jmcauley/datasets/amazon/links.html",
        source=_NO_FETCH + "take data/beauty/sequential_data.txt and data/beauty/datamaps.json "
        "from github.com/Wenyueh/LLM-RecSys-ID (commit 2200ad9fef647ef755c01d6d7e5c5de3082606c5) "
        "and dataset/Amazon_Beauty/Amazon_Beauty.item from github.com/parepic/RecBole_SAE "
        "(commit db83146720b1d9497d8614a16a8cdaa03c7a71b6)",
        loader=_load_amazon2014_beauty,
    ),
    "amazon2023_beauty_health_handmade": DatasetSpec(
        name="amazon2023_beauty_health_handmade",
        folder="amazon2023_beauty_health_handmade",
        description="Amazon Reviews 2023 Beauty/Health/Handmade, shared users, one platform each",
        protocol="temporal",
        files=("items.parquet", "interactions.parquet"),
        homepage=_AMAZON2023,
        source=_NO_FETCH + "take data/processed/items.parquet and "
        "data/processed/interactions.parquet from github.com/Amira-Senouci/RecoIA at commit "
        "9dced8d5e6ffe6ddc777b965d83bcac3657a8c4a",
        loader=_load_amazon2023_bhh,
    ),
    "uci_online_retail": DatasetSpec(
        name="uci_online_retail",
        folder="uci_online_retail",
        description="UCI Online Retail: a UK gift shop's purchases 2010-2011, temporal split",
        protocol="temporal",
        files=("online_retail.parquet",),
        homepage="https://archive.ics.uci.edu/dataset/352/online+retail",
        source="the UCI Machine Learning Repository (CC BY 4.0): online+retail.zip holds "
        "'Online Retail.xlsx'; save it as online_retail.parquet with its 8 columns, e.g. "
        "pandas.read_excel(...).to_parquet(...)",
        loader=_load_uci_online_retail,
        downloads=(
            DownloadSource(
                url="https://archive.ics.uci.edu/static/public/352/online+retail.zip",
                sha256="f5385cbb54bbebf7196389109c6b0621faab0c304e3702548165e71c84aede8b",
                unpack=_unpack_uci_online_retail,
                requires=("openpyxl",),
                note="UCI Online Retail (id 352), 541,909 rows, converted from .xlsx to parquet",
            ),
        ),
    ),
    "movielens_small": DatasetSpec(
        name="movielens_small",
        folder="movielens_latest_small_2016",
        description="MovieLens ml-latest-small ratings with genres and tags, temporal split",
        protocol="temporal",
        files=("movies.csv", "ratings.csv", "tags.csv"),
        homepage="https://grouplens.org/datasets/movielens/latest/",
        source="GroupLens: ml-latest-small.zip (the shared copy is the 2016-10-17 release, "
        "100,004 ratings; the download is the current one)",
        loader=_load_movielens,
        downloads=(
            DownloadSource(
                url="https://files.grouplens.org/datasets/movielens/ml-latest-small.zip",
                sha256="696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
                unpack=_unpack_movielens,
                note="ml-latest-small 2018-09-26 release (100,836 ratings, 610 users, 9,742 "
                "movies), newer than the 2016 release of 100,004 ratings used in the shared "
                "data; results on the two are not comparable",
            ),
        ),
    ),
}


# -- finding and loading
def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """The data directory: ``data_dir``, else ``$SHOPREC_DATA_DIR``, else ``[data] dir`` of the
    configuration (``./shoprec.toml``, then the environment's site file written by
    ``make install``), else ``~/.cache/shoprec/data``."""
    return data_dir_origin(data_dir)[0]


def data_dir_origin(data_dir: str | Path | None = None) -> tuple[Path, str]:
    """:func:`resolve_data_dir` and where the choice came from, in words (for listings)."""
    if data_dir:
        return Path(data_dir).expanduser(), "given"
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV]).expanduser(), f"${DATA_DIR_ENV}"
    for file in (find_config(), site_config_path()):
        if file is not None and file.is_file():
            configured = read_config(file).data.dir
            if configured:
                return Path(configured).expanduser(), f"[data] dir in {file}"
    return Path.home() / ".cache/shoprec/data", "the default"


def available_datasets(data_dir: str | Path | None = None) -> list[str]:
    """Names of the registered datasets whose files are all present in the data directory."""
    root = resolve_data_dir(data_dir)
    return [name for name, spec in DATASETS.items() if not _missing_files(spec, root / spec.folder)]


def load_dataset(
    name: str | Path,
    *,
    data_dir: str | Path | None = None,
    progress: bool = False,
    download: bool = True,
    split: str | None = None,
) -> Dataset:
    """Read a named dataset from the data directory (fetching it first when possible), or a
    dataset directory written by ``shoprec ingest``.

    Parameters
    ----------
    name
        A key of :data:`DATASETS`, or the path of an ingested dataset directory.
    data_dir
        The data directory (see :func:`resolve_data_dir`).
    progress
        Show progress bars for downloading and loading.
    download
        Fetch a missing dataset from its official download, if it has one.
    split
        ``"loo"`` or ``"temporal"`` to split the events that way instead of the dataset's
        standard protocol (an ingested dataset's standard is the split chosen at ingest).

    Returns
    -------
    Dataset
        The catalog and the split.

    Raises
    ------
    DatasetNotFoundError
        The name is unknown, or the files are missing and cannot be fetched; the message says
        which files to put where and where they come from.
    """
    if isinstance(name, Path) or (name not in DATASETS and Path(name).is_dir()):
        return load_ingested(name, split=split)
    spec = DATASETS.get(name)
    if spec is None:
        raise DatasetNotFoundError(
            f"unknown dataset {name!r}: not a directory, and not one of {sorted(DATASETS)}"
        )
    root = resolve_data_dir(data_dir)
    folder = root / spec.folder
    missing = _missing_files(spec, folder)
    if missing and not spec.downloads:
        why = "it cannot be downloaded automatically"
        raise DatasetNotFoundError(_not_found(spec, folder, missing, why))
    if missing and not download:
        why = "downloading is switched off (download=False)"
        raise DatasetNotFoundError(_not_found(spec, folder, missing, why))
    if missing:
        _obtain(spec, root, missing, progress=progress)
    with tqdm(total=3, desc=f"loading {name}", unit="step", disable=not progress) as bar:

        def step(stage: str) -> None:
            bar.set_postfix_str(stage, refresh=False)
            bar.update()

        catalog, given = spec.loader(folder, step)
    logger.info("loaded %s: %d items, %r", name, len(catalog), given)
    dataset = Dataset(name=name, catalog=catalog, split=given, description=spec.description)
    return dataset if split is None else dataset.with_split(split)
