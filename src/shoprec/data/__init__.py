"""Data: domain schema, readers with validation, named datasets, splits."""

from __future__ import annotations

from shoprec.data._cleaning import (
    AUXILIARY_EVENT_FIELDS,
    CleaningConfig,
    CleaningReport,
    Finding,
    clean_event_frame,
    inspect_events,
)
from shoprec.data._datasets import (
    DATA_DIR_ENV,
    DATASETS,
    Dataset,
    DatasetSpec,
    DownloadSource,
    available_datasets,
    load_dataset,
    resolve_data_dir,
)
from shoprec.data._encoding import EncodedInteractions
from shoprec.data._ingest import INGEST_POLICIES, IngestReport
from shoprec.data._local import (
    DATASET_FORMAT_VERSION,
    ingest_files,
    load_ingested,
    minimal_catalog,
    read_shop_files,
)
from shoprec.data._readers import read_catalog, read_events
from shoprec.data._recbole import (
    RECBOLE_ITEM_FIELDS,
    parse_token_seq,
    read_index_map,
    read_recbole_inter,
    read_recbole_item,
)
from shoprec.data._schema import (
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
from shoprec.data._sequences import (
    MIN_EPOCH_MS,
    N_GAP_BUCKETS,
    PAD,
    Example,
    gap_buckets,
    model_inputs,
    training_windows,
    user_sequences,
)
from shoprec.data._splits import (
    Split,
    auto_split,
    leave_one_out,
    temporal_split,
    temporal_split_at,
)
from shoprec.data._synthetic import SyntheticTastes, make_synthetic_shop, synthetic_tastes

__all__ = [
    "AUXILIARY_EVENT_FIELDS",
    "CATEGORY_SEPARATOR",
    "DATASETS",
    "DATASET_FORMAT_VERSION",
    "DATA_DIR_ENV",
    "DEFAULT_PLATFORM",
    "EVENT_COLUMNS",
    "INGEST_POLICIES",
    "ITEM_COLUMNS",
    "MIN_EPOCH_MS",
    "N_GAP_BUCKETS",
    "PAD",
    "RECBOLE_ITEM_FIELDS",
    "Catalog",
    "CleaningConfig",
    "CleaningReport",
    "Dataset",
    "DatasetSpec",
    "DownloadSource",
    "EncodedInteractions",
    "Event",
    "EventType",
    "Example",
    "Finding",
    "IngestReport",
    "Interactions",
    "Item",
    "Split",
    "SyntheticTastes",
    "auto_split",
    "available_datasets",
    "clean_event_frame",
    "gap_buckets",
    "ingest_files",
    "inspect_events",
    "leave_one_out",
    "load_dataset",
    "load_ingested",
    "make_synthetic_shop",
    "minimal_catalog",
    "model_inputs",
    "parse_token_seq",
    "read_catalog",
    "read_events",
    "read_index_map",
    "read_recbole_inter",
    "read_recbole_item",
    "read_shop_files",
    "resolve_data_dir",
    "synthetic_tastes",
    "temporal_split",
    "temporal_split_at",
    "training_windows",
    "user_sequences",
]
