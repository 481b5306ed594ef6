"""Data: the domain schema, readers with validation, encoded interactions and sequences, splits.

Named public datasets, ingested dataset directories and the synthetic shop are in
:mod:`shoprec.datasets`."""

from __future__ import annotations

from shoprec.data._cleaning import (
    AUXILIARY_EVENT_FIELDS,
    CleaningConfig,
    CleaningReport,
    Finding,
    clean_event_frame,
    inspect_events,
)
from shoprec.data._dataset import Dataset
from shoprec.data._encoding import EncodedInteractions
from shoprec.data._ingest import INGEST_POLICIES, IngestReport
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
    SequenceContext,
    gap_buckets,
    model_inputs,
    training_windows,
    user_sequences,
)
from shoprec.data._splits import (
    Split,
    auto_split,
    leave_one_out,
    split_events,
    temporal_split,
    temporal_split_at,
)
from shoprec.data._weights import DEFAULT_EVENT_WEIGHTS, event_weights, history_matrix

__all__ = [
    "AUXILIARY_EVENT_FIELDS",
    "CATEGORY_SEPARATOR",
    "DEFAULT_EVENT_WEIGHTS",
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
    "EncodedInteractions",
    "Event",
    "EventType",
    "Example",
    "Finding",
    "IngestReport",
    "Interactions",
    "Item",
    "SequenceContext",
    "Split",
    "auto_split",
    "clean_event_frame",
    "event_weights",
    "gap_buckets",
    "history_matrix",
    "inspect_events",
    "leave_one_out",
    "model_inputs",
    "parse_token_seq",
    "read_catalog",
    "read_events",
    "read_index_map",
    "read_recbole_inter",
    "read_recbole_item",
    "split_events",
    "temporal_split",
    "temporal_split_at",
    "training_windows",
    "user_sequences",
]
