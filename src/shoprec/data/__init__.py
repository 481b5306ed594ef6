"""Data: domain schema, readers with validation, named datasets, splits."""

from __future__ import annotations

from shoprec.data.datasets import (
    DATA_DIR_ENV,
    DATASETS,
    Dataset,
    DatasetSpec,
    DownloadSource,
    available_datasets,
    load_dataset,
    resolve_data_dir,
)
from shoprec.data.encoding import EncodedInteractions
from shoprec.data.local import (
    DATASET_FORMAT_VERSION,
    ingest_files,
    load_ingested,
    minimal_catalog,
    read_shop_files,
)
from shoprec.data.readers import INGEST_POLICIES, IngestReport, read_catalog, read_events
from shoprec.data.recbole import (
    RECBOLE_ITEM_FIELDS,
    parse_token_seq,
    read_recbole_inter,
    read_recbole_item,
)
from shoprec.data.schema import (
    CATEGORY_SEPARATOR,
    DEFAULT_PLATFORM,
    EVENT_COLUMNS,
    ITEM_COLUMNS,
    Catalog,
    Event,
    EventType,
    Interactions,
    Item,
)
from shoprec.data.splits import (
    Split,
    auto_split,
    leave_one_out,
    temporal_split,
    temporal_split_at,
)
from shoprec.data.synthetic import make_synthetic_shop

__all__ = [
    "CATEGORY_SEPARATOR",
    "DATASETS",
    "DATASET_FORMAT_VERSION",
    "DATA_DIR_ENV",
    "DEFAULT_PLATFORM",
    "EVENT_COLUMNS",
    "INGEST_POLICIES",
    "ITEM_COLUMNS",
    "RECBOLE_ITEM_FIELDS",
    "Catalog",
    "Dataset",
    "DatasetSpec",
    "DownloadSource",
    "EncodedInteractions",
    "Event",
    "EventType",
    "IngestReport",
    "Interactions",
    "Item",
    "Split",
    "auto_split",
    "available_datasets",
    "ingest_files",
    "leave_one_out",
    "load_dataset",
    "load_ingested",
    "make_synthetic_shop",
    "minimal_catalog",
    "parse_token_seq",
    "read_catalog",
    "read_events",
    "read_recbole_inter",
    "read_recbole_item",
    "read_shop_files",
    "resolve_data_dir",
    "temporal_split",
    "temporal_split_at",
]
