"""Named public datasets: where they live, how they are read, split and fetched.

Each entry of :data:`DATASETS` is a :class:`DatasetSpec`: the folder under the data directory,
the files its adapter reads, where those files come from and, for datasets with an official
public download, how to fetch and convert it. :func:`load_dataset` reads one into a
:class:`Dataset` (catalog + split), fetching it first when it is missing and fetchable.
Every item and event carries its ``platform`` so models can train across shops.
"""

from __future__ import annotations

import ast
import hashlib
import html
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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from shoprec.data.schema import CATEGORY_SEPARATOR, Catalog, Interactions
from shoprec.data.splits import Split, leave_one_out, temporal_split
from shoprec.exceptions import DatasetNotFoundError, ValidationError

__all__ = [
    "DATASETS",
    "DATA_DIR_ENV",
    "Dataset",
    "DatasetSpec",
    "DownloadSource",
    "available_datasets",
    "load_dataset",
    "resolve_data_dir",
]

logger = logging.getLogger(__name__)

DATA_DIR_ENV = "SHOPREC_DATA_DIR"
_FETCH_RECORD = "FETCHED.json"
_TIMEOUT_S = 60.0
_CHUNK = 1 << 20

Step = Callable[[str], None]
"""Progress callback a loader calls once per stage: ``items``, ``events``, ``split``."""
Loader = Callable[[Path, Step], tuple[Catalog, Split]]


@dataclass(frozen=True)
class Dataset:
    """A shop's catalog and its events, split for evaluation.

    Attributes
    ----------
    name
        The registry name (``amazon2014_beauty``), ``synthetic``, or an ingested directory's name.
    catalog
        Every item the events refer to (and possibly more: items without events).
    split
        Train / validation / test events under the dataset's standard protocol.
    description
        One line for listings and reports.
    """

    name: str
    catalog: Catalog
    split: Split
    description: str = ""

    @property
    def interactions(self) -> Interactions:
        """All events: train, validation and test together, in time order."""
        return self.split.train_valid.concat(self.split.test)


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


# -- reading helpers
def _text(values: pd.Series) -> pd.Series:
    """Strings with HTML entities decoded (the 2014 Amazon metadata has ``&amp;``); nulls -> ""."""
    return values.fillna("").astype(str).map(html.unescape)


def _attributes(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """Per row, the non-empty values of ``columns`` as JSON object text."""
    rows = zip(*(frame[c].fillna("").astype(str) for c in columns), strict=True)
    return [json.dumps({k: v for k, v in zip(columns, r, strict=True) if v}) for r in rows]


def _catalog(items: pd.DataFrame, events: pd.DataFrame) -> Catalog:
    """The items, plus bare rows (id and platform only) for event items without metadata."""
    known = pd.Index(items["item_id"])
    firsts = events.drop_duplicates("item_id")
    bare = firsts.loc[~firsts["item_id"].isin(known), ["item_id", "platform"]]
    if len(bare):
        logger.warning("%d event item(s) have no metadata row; added bare", len(bare))
        items = pd.concat([items, bare], ignore_index=True)
    return Catalog(items)


def _ms(values: pd.Series) -> np.ndarray:
    """Datetimes (naive = UTC) as int64 milliseconds since the epoch."""
    return values.to_numpy().astype("datetime64[ms]").astype(np.int64)


# -- adapters
def _load_amazon2023_electronics(folder: Path, step: Step) -> tuple[Catalog, Split]:
    platform = "amazon_electronics"
    items = pd.read_parquet(folder / "items.parquet")
    leaf = items["category"].fillna("")
    items = pd.DataFrame(
        {
            "item_id": items["item_id"],
            "title": items["title"],
            "brand": items["brand"],
            "category": ("Electronics" + CATEGORY_SEPARATOR + leaf).where(leaf != "", ""),
            "price": items["price"],
            "attributes": _attributes(items, ["image_url"]),
            "platform": platform,
        }
    )
    step("items")
    columns = ["user_id", "item_id", "rating", "timestamp"]
    parts = [
        pd.read_parquet(folder / f"{part}.parquet", columns=columns).assign(
            event_type="purchase",
            platform=platform,  # a review implies a purchase
        )
        for part in ("train", "val", "test")
    ]
    step("events")
    train, valid, test = (Interactions(p) for p in parts)
    catalog = _catalog(items, pd.concat(parts, ignore_index=True))
    step("split")
    return catalog, Split(train=train, valid=valid, test=test, protocol="temporal")


def _read_sequences(folder: Path, maps: dict[str, dict[str, str]]) -> pd.DataFrame:
    """``sequential_data.txt`` as one row per event with ASINs, reviewerIDs and positions."""
    id2user, id2item = maps["id2user"], maps["id2item"]
    users: list[str] = []
    items: list[str] = []
    positions: list[int] = []
    path = folder / "sequential_data.txt"
    with path.open(encoding="utf-8") as lines:
        for row, line in enumerate(lines, start=1):
            user, *sequence = line.split()
            try:
                reviewer = id2user[user]
                items.extend(id2item[i] for i in sequence)
            except KeyError as error:
                raise ValidationError(
                    f"index {error.args[0]} is not in datamaps.json", source=str(path), row=row
                ) from None
            users.extend([reviewer] * len(sequence))
            positions.extend(range(len(sequence)))
    return pd.DataFrame({"user_id": users, "item_id": items, "timestamp": positions})


def _category_path(text: str) -> str:
    """RecBole's quoted list (``'Beauty', 'Makeup', "Women's"``) as a category path."""
    try:
        parts = ast.literal_eval(f"[{text}]")
    except (ValueError, SyntaxError):
        parts = [p.strip(" '\"") for p in text.split(",")]
    return CATEGORY_SEPARATOR.join(html.unescape(str(p)).strip() for p in parts if str(p).strip())


def _load_amazon2014_beauty(folder: Path, step: Step) -> tuple[Catalog, Split]:
    platform = "amazon_beauty"
    raw = pd.read_csv(
        folder / "Amazon_Beauty.item", sep="\t", dtype=str, keep_default_na=False
    ).rename(columns=lambda c: c.split(":")[0])
    rank = pd.to_numeric(raw["sales_rank"], errors="coerce")
    raw["sales_rank"] = rank.map(lambda r: "" if np.isnan(r) else str(int(r)))
    raw["sales_type"] = _text(raw["sales_type"])
    items = pd.DataFrame(
        {
            "item_id": raw["item_id"],
            "title": _text(raw["title"]),
            "brand": _text(raw["brand"]),
            "category": raw["categories"].map(_category_path),
            "price": pd.to_numeric(raw["price"], errors="coerce"),
            "attributes": _attributes(raw, ["sales_rank", "sales_type"]),
            "platform": platform,
        }
    )
    step("items")
    maps = json.loads((folder / "datamaps.json").read_text(encoding="utf-8"))
    events = _read_sequences(folder, maps).assign(event_type="purchase", platform=platform)
    step("events")
    interactions = Interactions(events, has_timestamps=False)  # positions, not times
    catalog = _catalog(items, events)
    step("split")
    return catalog, leave_one_out(interactions)


# Amazon 2023 main categories -> the review category they were collected under.
_AMAZON2023_PLATFORMS = {
    "All Beauty": "All_Beauty",
    "Premium Beauty": "All_Beauty",
    "Health & Personal Care": "Health_and_Personal_Care",
    "Handmade": "Handmade_Products",
}


def _load_amazon2023_bhh(folder: Path, step: Step) -> tuple[Catalog, Split]:
    raw = pd.read_parquet(folder / "items.parquet")
    events = pd.read_parquet(
        folder / "interactions.parquet",
        columns=["user_id", "item_id", "rating", "timestamp", "source_category"],
    )
    events = events.rename(columns={"source_category": "platform"}).assign(event_type="purchase")
    step("events")
    # Only interacted items: the items table is a 10k sample, most never reached the 3-core.
    raw = raw[raw["item_id"].isin(events["item_id"])].reset_index(drop=True)
    by_events = events.drop_duplicates("item_id").set_index("item_id")["platform"]
    mapped = raw["category"].map(_AMAZON2023_PLATFORMS)
    items = pd.DataFrame(
        {
            "item_id": raw["item_id"],
            "title": raw["title"],
            "brand": raw["brand"],
            "category": raw["category"],
            "price": raw["price"],
            "attributes": _attributes(raw, ["image_url"]),
            "platform": mapped.fillna(raw["item_id"].map(by_events)),
        }
    )
    catalog = _catalog(items, events)
    step("items")
    split = temporal_split(Interactions(events))  # duplicate (user, item) rows stay as repeats
    step("split")
    return catalog, split


def _load_uci_online_retail(folder: Path, step: Step) -> tuple[Catalog, Split]:
    platform = "uci_online_retail"
    raw = pd.read_parquet(folder / "online_retail.parquet")
    cancelled = raw["InvoiceNo"].astype(str).str.startswith("C").to_numpy()
    non_positive = (raw["Quantity"] <= 0).to_numpy()
    no_customer = raw["CustomerID"].isna().to_numpy()
    keep = ~(cancelled | non_positive | no_customer)
    logger.info(
        "uci_online_retail: %d rows; removed %d cancellation, %d non-positive quantity and %d "
        "no-CustomerID rows (overlapping), %d in all; %d purchases kept",
        len(raw), cancelled.sum(), non_positive.sum(), no_customer.sum(), (~keep).sum(), keep.sum(),
    )  # fmt: skip
    clean = raw[keep]
    events = pd.DataFrame(
        {
            "user_id": clean["CustomerID"].astype(np.int64).astype(str).to_numpy(),
            "item_id": clean["StockCode"].astype(str).to_numpy(),
            "event_type": "purchase",
            "timestamp": _ms(clean["InvoiceDate"]),  # shop-local (UK) time, read as UTC
            "quantity": clean["Quantity"].to_numpy(),
            "platform": platform,
        }
    )
    step("events")
    descriptions = (
        clean.dropna(subset=["Description"])
        .groupby(["StockCode", "Description"], observed=True)
        .size()
        .reset_index(name="n")
        .sort_values(["StockCode", "n", "Description"], ascending=[True, False, True])
        .drop_duplicates("StockCode")
        .set_index("StockCode")["Description"]
    )
    prices = clean.groupby("StockCode", observed=True)["UnitPrice"].median()
    items = pd.DataFrame({"item_id": prices.index.astype(str), "price": prices.to_numpy()})
    items["title"] = items["item_id"].map(descriptions).fillna("").str.strip()
    items["platform"] = platform
    catalog = _catalog(items, events)
    step("items")
    split = temporal_split(Interactions(events))
    step("split")
    return catalog, split


def _movie_descriptions(tags: pd.DataFrame) -> pd.Series:
    """Per movie, its distinct tags in first-use order joined by ", "."""
    tags = tags.assign(tag=tags["tag"].astype(str).str.strip())
    tags = tags[tags["tag"] != ""].drop_duplicates(["movieId", "tag"])
    return tags.groupby("movieId", sort=False)["tag"].agg(", ".join)


def _load_movielens(folder: Path, step: Step) -> tuple[Catalog, Split]:
    platform = "movielens"
    movies = pd.read_csv(folder / "movies.csv", dtype={"movieId": str, "title": str})
    tags = pd.read_csv(folder / "tags.csv", dtype={"movieId": str, "tag": str})
    genres = movies["genres"].fillna("").replace("(no genres listed)", "")
    # Genres are a set, not a path: root "Movies", the leaf is the genre combination.
    leaf = genres.str.replace("|", ", ", regex=False)
    items = pd.DataFrame(
        {
            "item_id": movies["movieId"],
            "title": movies["title"],
            "description": movies["movieId"].map(_movie_descriptions(tags)).fillna(""),
            "category": ("Movies" + CATEGORY_SEPARATOR + leaf).where(leaf != "", "Movies"),
            "attributes": _attributes(movies.assign(genres=genres), ["genres"]),
            "platform": platform,
        }
    )
    step("items")
    ratings = pd.read_csv(folder / "ratings.csv", dtype={"userId": str, "movieId": str})
    events = pd.DataFrame(
        {
            "user_id": ratings["userId"],
            "item_id": ratings["movieId"],
            "event_type": "rating",
            "rating": ratings["rating"].astype(float),
            "timestamp": ratings["timestamp"].astype(np.int64) * 1000,  # seconds -> ms
            "platform": platform,
        }
    )
    step("events")
    catalog = _catalog(items, events)
    split = temporal_split(Interactions(events))
    step("split")
    return catalog, split


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


# -- finding and fetching
def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """The data directory: ``data_dir``, else ``$SHOPREC_DATA_DIR``, else
    ``~/.cache/shoprec/data``."""
    chosen = data_dir or os.environ.get(DATA_DIR_ENV) or Path.home() / ".cache/shoprec/data"
    return Path(chosen).expanduser()


def _missing_files(spec: DatasetSpec, folder: Path) -> list[str]:
    return [name for name in spec.files if not (folder / name).is_file()]


def available_datasets(data_dir: str | Path | None = None) -> list[str]:
    """Names of the registered datasets whose files are all present in the data directory."""
    root = resolve_data_dir(data_dir)
    return [name for name, spec in DATASETS.items() if not _missing_files(spec, root / spec.folder)]


def _not_found(spec: DatasetSpec, folder: Path, missing: list[str], why: str) -> str:
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


def _fetch(spec: DatasetSpec, source: DownloadSource, root: Path, *, progress: bool) -> None:
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


def _obtain(spec: DatasetSpec, root: Path, missing: list[str], *, progress: bool) -> None:
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


def load_dataset(
    name: str,
    *,
    data_dir: str | Path | None = None,
    progress: bool = False,
    download: bool = True,
) -> Dataset:
    """Read a named dataset from the data directory, fetching it first when possible.

    Parameters
    ----------
    name
        A key of :data:`DATASETS`.
    data_dir
        The data directory (see :func:`resolve_data_dir`).
    progress
        Show progress bars for downloading and loading.
    download
        Fetch a missing dataset from its official download, if it has one.

    Returns
    -------
    Dataset
        The catalog and the split under the dataset's standard protocol.

    Raises
    ------
    DatasetNotFoundError
        The name is unknown, or the files are missing and cannot be fetched; the message says
        which files to put where and where they come from.
    """
    spec = DATASETS.get(name)
    if spec is None:
        raise DatasetNotFoundError(f"unknown dataset {name!r}; choose from {sorted(DATASETS)}")
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

        catalog, split = spec.loader(folder, step)
    logger.info("loaded %s: %d items, %r", name, len(catalog), split)
    return Dataset(name=name, catalog=catalog, split=split, description=spec.description)
