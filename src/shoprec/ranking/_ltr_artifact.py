"""A fitted learned ranking stage as a directory (no pickle)::

    manifest.json      format, parameters, source names, feature names, candidate recall
    ranker/            model.txt (LightGBM's text format) + manifest.json
    sources/<name>/    each retriever (Recommender.save directories)
    context.npz        item context as of the request time (popularity, ages, text vectors)
    histories.npz      user histories (indptr, items) in the order of users.json
    users.json

Written to a temporary sibling and moved into place only when complete.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shoprec import __version__
from shoprec._artifacts import atomic_directory, read_manifest, reading
from shoprec.exceptions import ArtifactError
from shoprec.models import load_recommender
from shoprec.ranking._ltr import LTRRanker
from shoprec.ranking._ltr_context import ItemContext

if TYPE_CHECKING:
    from shoprec.ranking._learned_ranking import LearnedRanking

__all__ = [
    "LEARNED_RANKING_FORMAT",
    "load_learned_ranking",
    "read_learned_ranking_params",
    "save_learned_ranking",
]

LEARNED_RANKING_FORMAT = "shoprec.learned-ranking/1"
_MANIFEST = "manifest.json"


def save_learned_ranking(model: LearnedRanking, path: str | Path, *, params: dict) -> Path:
    """Write the fitted ``model`` (hyper-parameters ``params``) to directory ``path``."""
    path = Path(path)
    users = list(model.histories_)
    lengths = np.array([len(model.histories_[u]) for u in users], dtype=np.int64)
    with atomic_directory(path) as tmp:
        model.ranker_.save(tmp / "ranker")
        for name, source in model.sources_.items():
            source.save(tmp / "sources" / name)
        model.context_.save(tmp / "context.npz")
        items = [model.histories_[u] for u in users]
        np.savez(
            tmp / "histories.npz",
            indptr=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            items=np.concatenate(items).astype(np.int64) if items else np.empty(0, np.int64),
        )
        (tmp / "users.json").write_text(json.dumps(users))
        manifest = {
            "format": LEARNED_RANKING_FORMAT,
            "model": model.name,
            "shoprec_version": __version__,
            "params": params,
            "sources": list(model.sources_),
            "feature_names": model.feature_names_,
            "recall": model.recall_,
        }
        (tmp / _MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
    return path


def _manifest(path: Path) -> dict[str, Any]:
    return read_manifest(
        path / _MANIFEST,
        LEARNED_RANKING_FORMAT,
        what="a learned ranking directory",
        required=("params", "sources", "feature_names"),
    )


def read_learned_ranking_params(path: str | Path) -> dict[str, Any]:
    """The hyper-parameters saved in the directory ``path``."""
    params = _manifest(Path(path))["params"]
    if not isinstance(params, dict):
        raise ArtifactError(f"{Path(path) / _MANIFEST}: 'params' must be an object")
    return params


def load_learned_ranking(model: LearnedRanking, path: str | Path) -> None:
    """Restore the fitted parts of ``model`` from the directory ``path``."""
    path = Path(path)
    manifest = _manifest(path)
    model.ranker_ = LTRRanker.load(path / "ranker")
    model.sources_ = {n: load_recommender(path / "sources" / n) for n in manifest["sources"]}
    if not model.sources_:
        raise ArtifactError(f"{path / _MANIFEST}: no sources")
    model.context_ = ItemContext.load(path / "context.npz")
    model.item_ids_ = next(iter(model.sources_.values())).item_ids_
    model.item_index_ = {item: i for i, item in enumerate(model.item_ids_)}
    with reading(path / "histories.npz"), reading(path / "users.json"):
        users = json.loads((path / "users.json").read_text())
        with np.load(path / "histories.npz", allow_pickle=False) as stored:
            indptr, items = stored["indptr"], stored["items"]
        model.histories_ = {u: items[indptr[i] : indptr[i + 1]] for i, u in enumerate(users)}
    model.feature_names_ = list(manifest["feature_names"])
    model.recall_ = float(manifest.get("recall", float("nan")))
    if model.feature_names_ != model.ranker_.feature_names_:
        raise ArtifactError(f"{path}: the ranker's features differ from the manifest's")
    if model.context_.n_items != len(model.item_ids_):
        raise ArtifactError(f"{path / 'context.npz'} does not fit the sources' items")
    for name, source in model.sources_.items():
        if not np.array_equal(source.item_ids_, model.item_ids_):
            raise ArtifactError(f"{path / 'sources' / name} has another item vocabulary")
