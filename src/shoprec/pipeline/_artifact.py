"""A fitted pipeline as one directory::

    manifest.json          format, creation time, config, component classes and versions,
                           training-data fingerprint, metrics at training time, removed items
    model/ popularity/ covisitation/ ...   the components (Recommender.save directories;
                           a learned ranking stage as model/ in its own format)
    ranker/                the attached ONNX CTR ranker export (when there is one)
    catalog.parquet        the current catalog (training items plus upserts)
    item_vectors.safetensors   unit text vectors of the catalog items, in catalog order

Written to a temporary sibling and moved into place only when complete. This module reads and
writes :class:`PipelineParts` and knows nothing of the :class:`~shoprec.pipeline.Pipeline`
that assembles them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shoprec._artifacts import atomic_directory, manifest_text
from shoprec._artifacts import read_manifest as _read_manifest
from shoprec._artifacts import reading as _reading
from shoprec.data import Catalog, Interactions
from shoprec.exceptions import ArtifactError
from shoprec.models import Recommender, load_recommender
from shoprec.pipeline._config import PipelineConfig
from shoprec.pipeline._sources import CANDIDATE_SOURCES
from shoprec.ranking import LearnedRanking, Scorer, load_scorer

__all__ = [
    "PIPELINE_FORMAT",
    "PipelineParts",
    "data_fingerprint",
    "load_pipeline",
    "read_manifest",
    "save_pipeline",
]

PIPELINE_FORMAT = "shoprec-pipeline/1"
_MANIFEST = "manifest.json"
_CATALOG = "catalog.parquet"
_VECTORS = "item_vectors.safetensors"
_COMPONENTS = ("model", *CANDIDATE_SOURCES)


def data_fingerprint(interactions: Interactions) -> str:
    """SHA-256 of the events (users, items, types, timestamps, platforms), order included."""
    frame = interactions.frame
    digest = hashlib.sha256()
    for column in ("user_id", "item_id", "event_type", "timestamp", "platform"):
        if column in frame:
            digest.update(pd.util.hash_pandas_object(frame[column], index=False).to_numpy())
    return digest.hexdigest()


@dataclass(frozen=True)
class PipelineParts:
    """Everything a fitted pipeline consists of, as saved and loaded.

    Attributes
    ----------
    config, random_state
        How the pipeline was built.
    components
        Fitted recommenders by role: ``model``, and each candidate source by its name in
        :data:`~shoprec.pipeline.CANDIDATE_SOURCES` (``popularity`` always).
    ranker
        The second-stage scorer, or ``None``.
    catalog, vectors
        The current catalog and its unit text vectors, ``(n_items, dim)`` in catalog order.
    fingerprint, metrics, removed
        Training-data SHA-256, metrics at training time, items no longer recommended.
    """

    config: PipelineConfig
    random_state: int | None
    components: dict[str, Recommender]
    ranker: Scorer | None
    catalog: Catalog
    vectors: np.ndarray
    fingerprint: str
    metrics: dict[str, Any] = field(default_factory=dict)
    removed: frozenset[str] = frozenset()


def save_pipeline(parts: PipelineParts, path: str | Path) -> Path:
    """Write ``parts`` to directory ``path`` (replaced atomically if it exists)."""
    from safetensors.numpy import save_file

    with atomic_directory(path) as tmp:
        components: dict[str, Any] = {}
        for name, component in parts.components.items():
            component.save(tmp / name)
            components[name] = {"class": type(component).__name__, "name": component.name}
        if parts.ranker is not None:
            parts.ranker.save(tmp / "ranker")
            components["ranker"] = {"class": type(parts.ranker).__name__}
        parts.catalog.frame.to_parquet(tmp / _CATALOG, index=False)
        save_file({"vectors": np.ascontiguousarray(parts.vectors)}, str(tmp / _VECTORS))
        manifest = {
            "format": PIPELINE_FORMAT,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "config": parts.config.to_dict(),
            "random_state": parts.random_state,
            "components": components,
            "data_fingerprint": parts.fingerprint,
            "metrics": parts.metrics,
            "removed_items": sorted(parts.removed),
            "versions": {p: _version(p) for p in ("shoprec", "torch", "onnxruntime", "numpy")},
        }
        (tmp / _MANIFEST).write_text(manifest_text(manifest))
    return Path(path)


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest of a pipeline directory, checked against its schema.

    Raises
    ------
    ArtifactError
        Naming ``manifest.json`` and the key at fault.
    """
    file = Path(path) / _MANIFEST
    manifest = _read_manifest(file, PIPELINE_FORMAT, what="a pipeline directory")
    for key, types in _SCHEMA.items():
        if key not in manifest:
            if key in _OPTIONAL:
                continue
            raise ArtifactError(f"{file} lacks {key!r}")
        value = manifest[key]
        if not isinstance(value, types) or isinstance(value, bool):
            raise ArtifactError(f"{file}: {key!r} is a {type(value).__name__}, not {_name(types)}")
    components = manifest["components"]
    for name, entry in components.items():
        if name not in (*_COMPONENTS, "ranker"):
            raise ArtifactError(f"{file}: unknown component {name!r} in 'components'")
        if not isinstance(entry, dict) or not isinstance(entry.get("class"), str):
            raise ArtifactError(f"{file}: 'components'[{name!r}] needs a 'class' name")
    for name in ("model", "popularity"):
        if name not in components:
            raise ArtifactError(f"{file}: 'components' lacks {name!r}")
    if not all(isinstance(item, str) for item in manifest["removed_items"]):
        raise ArtifactError(f"{file}: 'removed_items' must be a list of item ids")
    return manifest


_SCHEMA: dict[str, type | tuple[type, ...]] = {
    "format": str,
    "created_at": str,
    "config": dict,
    "random_state": (int, type(None)),
    "components": dict,
    "data_fingerprint": str,
    "metrics": dict,
    "removed_items": list,
    "versions": dict,
}
_OPTIONAL = frozenset({"created_at", "metrics", "versions"})


def _name(types: type | tuple[type, ...]) -> str:
    kinds = types if isinstance(types, tuple) else (types,)
    return " or ".join("null" if t is type(None) else t.__name__ for t in kinds)


def load_pipeline(path: str | Path) -> PipelineParts:
    """Read a pipeline directory written by :func:`save_pipeline`.

    Every file is checked as it is read: the manifest against its schema and the config, each
    component (see :meth:`~shoprec.models.Recommender.load`), the ranker, the catalog, and the
    item vectors against the catalog; the first fault raises :class:`ArtifactError` naming the
    file.
    """
    path = Path(path)
    manifest = read_manifest(path)
    with _reading(path / _MANIFEST):
        config = PipelineConfig.from_dict(manifest["config"])
    entries = manifest["components"]
    components: dict[str, Recommender] = {}
    for name in _COMPONENTS:
        if name in entries:
            with _reading(path / name):
                components[name] = _load_component(path / name, entries[name])
    ranker = None
    if "ranker" in entries:
        with _reading(path / "ranker"):
            ranker = load_scorer(path / "ranker", entries["ranker"]["class"])
    with _reading(path / _CATALOG):
        catalog = Catalog(pd.read_parquet(path / _CATALOG))
    return PipelineParts(
        config=config,
        random_state=manifest["random_state"],
        components=components,
        ranker=ranker,
        catalog=catalog,
        vectors=_load_vectors(path / _VECTORS, len(catalog)),
        fingerprint=manifest["data_fingerprint"],
        metrics=manifest.get("metrics", {}),
        removed=frozenset(manifest["removed_items"]),
    )


def _load_component(path: Path, entry: dict[str, Any]) -> Recommender:
    """A saved recommender; the learned ranking stage has its own directory format."""
    if entry.get("class") == LearnedRanking.__name__:
        return LearnedRanking.load(path)
    return load_recommender(path)


def _load_vectors(file: Path, n_items: int) -> np.ndarray:
    from safetensors.numpy import load_file

    with _reading(file):
        vectors = load_file(str(file))["vectors"]
    if vectors.ndim != 2 or len(vectors) != n_items or not np.isfinite(vectors).all():
        raise ArtifactError(
            f"{file}: item_vectors of shape {vectors.shape} do not fit the {n_items} catalog "
            "items, or hold non-finite values"
        )
    return vectors


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None
