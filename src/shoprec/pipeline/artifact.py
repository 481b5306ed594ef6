"""A fitted pipeline as one directory::

    manifest.json          format, creation time, config, component classes and versions,
                           training-data fingerprint, metrics at training time, removed items
    model/ covisitation/ popularity/ trending/   the components (Recommender.save directories)
    ranker/                the attached ONNX CTR ranker export (when there is one)
    catalog.parquet        the current catalog (training items plus upserts)
    item_vectors.safetensors   unit text vectors of the catalog items, in catalog order

Written to a temporary sibling and moved into place only when complete.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from shoprec._manifest import read_manifest as _read_manifest
from shoprec.data.schema import Catalog, Interactions
from shoprec.exceptions import ArtifactError
from shoprec.text.onnx_graph import atomic_directory

if TYPE_CHECKING:
    from shoprec.pipeline.pipeline import Pipeline

__all__ = ["PIPELINE_FORMAT", "data_fingerprint", "load_pipeline", "save_pipeline"]

PIPELINE_FORMAT = "shoprec-pipeline/1"
_MANIFEST = "manifest.json"
_CATALOG = "catalog.parquet"
_VECTORS = "item_vectors.safetensors"
_COMPONENTS = ("model", "covisitation", "popularity", "trending")


def data_fingerprint(interactions: Interactions) -> str:
    """SHA-256 of the events (users, items, types, timestamps, platforms), order included."""
    frame = interactions.frame
    digest = hashlib.sha256()
    for column in ("user_id", "item_id", "event_type", "timestamp", "platform"):
        if column in frame:
            digest.update(pd.util.hash_pandas_object(frame[column], index=False).to_numpy())
    return digest.hexdigest()


def save_pipeline(pipeline: Pipeline, path: str | Path) -> Path:
    """Write ``pipeline`` to directory ``path`` (replaced atomically if it exists)."""
    from safetensors.numpy import save_file

    view = pipeline._check_fitted()
    with atomic_directory(path) as tmp:
        components: dict[str, Any] = {}
        for name in _COMPONENTS:
            component = getattr(pipeline, f"{name}_")
            if component is not None:
                component.save(tmp / name)
                components[name] = {"class": type(component).__name__, "name": component.name}
        ranker = pipeline.ranker_
        if ranker is not None:
            source = getattr(ranker, "path", None)
            if source is None:
                raise ArtifactError("only an ONNX CTR ranker (OnnxCTRRanker) can be saved")
            shutil.copytree(source, tmp / "ranker")
            components["ranker"] = {"class": type(ranker).__name__}
        view.catalog.frame.to_parquet(tmp / _CATALOG, index=False)
        save_file({"vectors": np.ascontiguousarray(view.vectors)}, str(tmp / _VECTORS))
        manifest = {
            "format": PIPELINE_FORMAT,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "config": pipeline.settings.to_dict(),
            "random_state": pipeline.random_state,
            "components": components,
            "data_fingerprint": pipeline.fingerprint_,
            "metrics": pipeline.metrics_,
            "removed_items": sorted(view.removed),
            "versions": {p: _version(p) for p in ("shoprec", "torch", "onnxruntime", "numpy")},
        }
        (tmp / _MANIFEST).write_text(json.dumps(manifest, indent=2, default=float) + "\n")
    return Path(path)


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest of a pipeline directory, format-checked."""
    return _read_manifest(Path(path) / _MANIFEST, PIPELINE_FORMAT, what="a pipeline directory")


def load_pipeline(path: str | Path) -> Pipeline:
    """Read a pipeline directory written by :func:`save_pipeline`."""
    from safetensors.numpy import load_file

    from shoprec.models import OnnxCTRRanker, Recommender
    from shoprec.pipeline.config import PipelineConfig
    from shoprec.pipeline.pipeline import Pipeline

    path = Path(path)
    manifest = read_manifest(path)
    pipeline = Pipeline(
        PipelineConfig.from_dict(manifest["config"]), random_state=manifest["random_state"]
    )
    components = manifest["components"]
    try:
        for name in _COMPONENTS:
            loaded = Recommender.load(path / name) if name in components else None
            setattr(pipeline, f"{name}_", loaded)
        catalog = Catalog(pd.read_parquet(path / _CATALOG))
        vectors = load_file(str(path / _VECTORS))["vectors"]
    except (OSError, ValueError, KeyError) as error:
        raise ArtifactError(f"{path} is not a complete pipeline directory: {error}") from error
    if len(vectors) != len(catalog):
        raise ArtifactError(f"{path}: {len(vectors)} item vectors for {len(catalog)} items")
    pipeline.ranker_ = OnnxCTRRanker(path / "ranker") if "ranker" in components else None
    pipeline.fingerprint_ = manifest["data_fingerprint"]
    pipeline.metrics_ = manifest.get("metrics", {})
    pipeline._view = pipeline._make_view(catalog, vectors, frozenset(manifest["removed_items"]))
    return pipeline


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None
