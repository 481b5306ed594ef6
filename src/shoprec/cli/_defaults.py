"""``shoprec.toml`` as command defaults: each setting becomes the default of the flags that
take it (click's ``default_map``), so a flag on the command line always wins."""

from __future__ import annotations

import json
from typing import Any

import click

from shoprec.config import ShoprecConfig

__all__ = ["command_defaults"]


def _pairs(mapping: Any) -> list[str] | None:
    return [f"{key}={value}" for key, value in mapping.items()] or None


def _params(mapping: Any) -> list[str] | None:
    return [f"{key}={json.dumps(value)}" for key, value in mapping.items()] or None


def _settings(config: ShoprecConfig) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Settings every command takes by parameter name, and per-command ones."""
    data, model, rerank, service = config.data, config.model, config.rerank, config.service
    shared = {
        "dataset": data.dataset or data.out,
        "split": data.split,
        "encoder": model.encoder,
        "seed": model.seed,
    }
    fitting = {"model_name": model.name, "params": _params(model.params)}
    # "auto" (choose by validation) is build's; train needs a model by name
    training = {**fitting, "model_name": None if model.name == "auto" else model.name}
    files = {
        "events_path": data.events,
        "catalog_path": data.catalog,
        "mapping": _pairs(data.columns),
        "item_mapping": _pairs(data.item_columns),
        "event_type": data.event_type,
    }
    specific = {
        "ingest": {
            **files,
            "lenient": data.lenient or None,
            "out": data.out,
            "item_index": data.item_index,
        },
        # validate checks the raw files the file names, as ingest will read them
        "validate": {**files, "dataset": None} if data.events else {},
        "init": {},
        "train": training,
        "build": {
            **fitting,
            "rerank": rerank.method,
            "diversity": rerank.diversity,
            "max_per_category": rerank.max_per_category,
            "max_per_brand": rerank.max_per_brand,
            "novelty": rerank.novelty,
            "index": model.index,
            "index_params": _params(model.index_params),
            "out": service.pipeline,  # build writes what serve serves
        },
        "serve": {
            "pipeline": service.pipeline,
            "store_url": config.store.url,
            "host": service.host,
            "port": service.port,
        },
        "explain": {"pipeline_dir": service.pipeline},
        "store import": {"store_url": config.store.url},
        "similar": {"pipeline_dir": service.pipeline},
    }
    return shared, specific


def command_defaults(group: click.Command, config: ShoprecConfig) -> dict[str, Any]:
    """``default_map`` for ``group``: command name -> parameter name -> value from ``config``
    (nested for sub-groups such as ``store import``).

    Only parameters a command has are filled in, and only settings the file gives.
    """
    shared, specific = _settings(config)
    return _defaults(group, "", shared, specific)


def _defaults(
    group: click.Command, prefix: str, shared: dict[str, Any], specific: dict[str, Any]
) -> dict[str, Any]:
    defaults: dict[str, Any] = {}
    for name, command in getattr(group, "commands", {}).items():
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            nested = _defaults(command, f"{path} ", shared, specific)
            if nested:
                defaults[name] = nested
            continue
        wanted = {**shared, **specific.get(path, {})}
        names = {param.name for param in command.params}
        chosen = {key: value for key, value in wanted.items() if key in names and value is not None}
        if chosen:
            defaults[name] = chosen
    return defaults
