"""Datasets: the named public shop datasets (adapters, data directory, fetching), dataset
directories written by ``shoprec ingest``, and a synthetic shop with known tastes."""

from __future__ import annotations

from shoprec.datasets._datasets import (
    DATA_DIR_ENV,
    DATASETS,
    DatasetSpec,
    DownloadSource,
    available_datasets,
    data_dir_origin,
    load_dataset,
    resolve_data_dir,
)
from shoprec.datasets._local import (
    DATASET_FORMAT_VERSION,
    ingest_files,
    load_ingested,
    minimal_catalog,
    read_shop_files,
)
from shoprec.datasets._synthetic import SyntheticTastes, make_synthetic_shop, synthetic_tastes

__all__ = [
    "DATASETS",
    "DATASET_FORMAT_VERSION",
    "DATA_DIR_ENV",
    "DatasetSpec",
    "DownloadSource",
    "SyntheticTastes",
    "available_datasets",
    "data_dir_origin",
    "ingest_files",
    "load_dataset",
    "load_ingested",
    "make_synthetic_shop",
    "minimal_catalog",
    "read_shop_files",
    "resolve_data_dir",
    "synthetic_tastes",
]
