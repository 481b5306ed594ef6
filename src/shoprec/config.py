"""One shop's settings in one file: ``shoprec.toml``.

``shoprec init`` writes a commented file; every command reads it and flags override it. The file
is found as: ``--config FILE`` (or ``$SHOPREC_CONFIG``), else ``shoprec.toml`` in the working
directory. A second, site-wide file ``<virtualenv>/shoprec.toml`` (written by ``make install``)
may set only the data directory, so that the same directory is used inside and outside ``make``.

Relative paths in a file are relative to the file's own directory, so a project folder can be
moved or run from anywhere with ``--config``.

Sections and keys (all optional; see ``docs/configuration.md``)::

    [data]     dir, dataset, events, catalog, event_type, lenient, split, out, item_index,
               [data.columns] field = "column", [data.item_columns] field = "column"
    [model]    name, seed, encoder, index, [model.params] key = value,
               [model.index_params] key = value
    [rerank]   method, diversity, max_per_category, max_per_brand, novelty
    [store]    url
    [service]  pipeline, host, port
"""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from shoprec.exceptions import ConfigError

__all__ = [
    "CONFIG_ENV",
    "CONFIG_NAME",
    "SPLITS",
    "DataSection",
    "ModelSection",
    "RerankSection",
    "ServiceSection",
    "ShoprecConfig",
    "StoreSection",
    "find_config",
    "load_config",
    "read_config",
    "site_config_path",
]

CONFIG_NAME = "shoprec.toml"
CONFIG_ENV = "SHOPREC_CONFIG"
SPLITS = ("loo", "temporal")
"""How events are split for evaluation: leave-one-out per user, or one global cut in time."""


@dataclass(frozen=True)
class DataSection:
    """``[data]``: where the shop's data is and how it is read and split.

    Attributes
    ----------
    dir
        Directory of the named public datasets (overrides ``~/.cache/shoprec/data``).
    dataset
        The dataset commands use by default: a named dataset, an ingested directory, or
        ``synthetic``.
    events, catalog
        The shop's raw files, read by ``shoprec ingest``.
    columns, item_columns
        shoprec field -> column of the events / catalog file.
    event_type
        Event type of every row when the events file has no event-type column.
    lenient
        Send bad rows to a rejects file instead of failing on the first.
    split
        ``"loo"`` or ``"temporal"``; required for events with timestamps.
    out
        Where ``shoprec ingest`` writes the dataset.
    item_index
        UniSRec-style ``item2index`` map for RecBole ``.inter`` events keyed by item index.
    """

    dir: str | None = None
    dataset: str | None = None
    events: str | None = None
    catalog: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    item_columns: Mapping[str, str] = field(default_factory=dict)
    event_type: str | None = None
    lenient: bool = False
    split: str | None = None
    out: str | None = None
    item_index: str | None = None


@dataclass(frozen=True)
class ModelSection:
    """``[model]``: the recommender ``train`` and ``build`` fit, the item text encoder, and the
    candidate index (``auto``, ``exact`` or ``hnsw``) with its parameters."""

    name: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    encoder: str | None = None
    index: str | None = None
    index_params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RerankSection:
    """``[rerank]``: diversity, caps and the long-tail boost of a built pipeline."""

    method: str | None = None
    diversity: float | None = None
    max_per_category: int | None = None
    max_per_brand: int | None = None
    novelty: float | None = None


@dataclass(frozen=True)
class StoreSection:
    """``[store]``: the event store URL (``sqlite:///path.db`` or ``postgresql://...``)."""

    url: str | None = None


@dataclass(frozen=True)
class ServiceSection:
    """``[service]``: what ``shoprec serve`` serves and where."""

    pipeline: str | None = None
    host: str | None = None
    port: int | None = None


_PATH_KEYS = {
    "data": ("dir", "dataset", "events", "catalog", "out", "item_index"),
    "service": ("pipeline",),
}
_SECTIONS: dict[str, type] = {
    "data": DataSection,
    "model": ModelSection,
    "rerank": RerankSection,
    "store": StoreSection,
    "service": ServiceSection,
}
_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "bool": (bool,),
    "int": (int,),
    "float": (int, float),
}


@dataclass(frozen=True)
class ShoprecConfig:
    """A whole ``shoprec.toml``; every section defaults to empty.

    Attributes
    ----------
    path
        The file read (``None`` for an empty configuration).
    """

    data: DataSection = field(default_factory=DataSection)
    model: ModelSection = field(default_factory=ModelSection)
    rerank: RerankSection = field(default_factory=RerankSection)
    store: StoreSection = field(default_factory=StoreSection)
    service: ServiceSection = field(default_factory=ServiceSection)
    path: Path | None = None

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], *, path: Path | None = None) -> ShoprecConfig:
        """Check ``raw`` (parsed TOML) and build the configuration.

        Raises
        ------
        ConfigError
            An unknown section or key, a value of the wrong type, or an unknown split; the
            message names the file and the key.
        """
        where = str(path) if path is not None else "configuration"
        sections: dict[str, Any] = {}
        for name, values in raw.items():
            if name not in _SECTIONS:
                raise ConfigError(f"{where}: unknown section [{name}]; known: {sorted(_SECTIONS)}")
            if not isinstance(values, dict):
                raise ConfigError(f"{where}: [{name}] must be a table of keys")
            sections[name] = _section(_SECTIONS[name], name, values, where, path)
        config = cls(**sections, path=path)
        if config.data.split is not None and config.data.split not in SPLITS:
            raise ConfigError(
                f"{where}: [data] split = {config.data.split!r}; choose 'loo' or 'temporal'"
            )
        return config


def _section(
    kind: type, name: str, values: Mapping[str, Any], where: str, path: Path | None
) -> Any:
    known = {f.name: f for f in fields(kind)}
    checked: dict[str, Any] = {}
    for key, value in values.items():
        spec = known.get(key)
        if spec is None:
            raise ConfigError(f"{where}: unknown key {key!r} in [{name}]; known: {sorted(known)}")
        wanted = str(spec.type).replace(" | None", "")
        allowed = (dict,) if wanted.startswith("Mapping") else _TYPES[wanted]
        wrong = not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed)
        if wrong:
            shown = "a table" if allowed == (dict,) else f"a {wanted}"
            raise ConfigError(f"{where}: [{name}] {key} = {value!r} should be {shown}")
        if key in ("columns", "item_columns") and not all(
            isinstance(v, str) for v in value.values()
        ):
            raise ConfigError(f"{where}: [{name}.{key}] maps fields to column names (strings)")
        if key in _PATH_KEYS.get(name, ()) and path is not None:
            value = _relative_to(value, path.parent, may_be_name=key == "dataset")
        checked[key] = value
    return kind(**checked)


def _relative_to(value: str, base: Path, *, may_be_name: bool) -> str:
    """A path relative to the config file's folder. For a dataset, a word without a path
    separator that does not exist there (``amazon2014_beauty``, ``synthetic``) stays a name."""
    candidate = Path(value).expanduser()
    if candidate.is_absolute():
        return str(candidate)
    joined = base / candidate
    if may_be_name and "/" not in value and not joined.exists():
        return value
    return str(joined)


def site_config_path() -> Path:
    """``shoprec.toml`` at the root of the running Python environment (e.g. ``.venv/``)."""
    return Path(sys.prefix) / CONFIG_NAME


def find_config(start: Path | None = None) -> Path | None:
    """The configuration file commands read: ``$SHOPREC_CONFIG``, else ``shoprec.toml`` in
    ``start`` (the working directory), else ``None``."""
    chosen = os.environ.get(CONFIG_ENV)
    if chosen:
        return Path(chosen)
    candidate = (start or Path.cwd()) / CONFIG_NAME
    return candidate if candidate.is_file() else None


def load_config(path: str | Path | None = None) -> ShoprecConfig:
    """Read a ``shoprec.toml``: ``path``, else the one :func:`find_config` finds, else an empty
    configuration. (The site file is consulted only for the data directory, by
    :func:`shoprec.data.resolve_data_dir`.)

    Raises
    ------
    ConfigError
        The file is missing (when named), not valid TOML, or has unknown or mistyped keys.
    """
    chosen = Path(path) if path is not None else find_config()
    return read_config(chosen) if chosen is not None else ShoprecConfig()


def read_config(path: str | Path) -> ShoprecConfig:
    """Read one ``shoprec.toml`` as it is (no site file merged in).

    Raises
    ------
    ConfigError
        The file is missing or unreadable, not valid TOML, or has unknown or mistyped keys.
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"configuration file {path} is unreadable: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None
    return ShoprecConfig.from_dict(raw, path=path.resolve())
