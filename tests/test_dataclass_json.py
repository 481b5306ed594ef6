"""Configs serialise generically: every field, nested configs included, goes out and back."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

import pytest

from shoprec._dataclass_json import config_from_dict, config_to_dict
from shoprec.exceptions import ParameterError
from shoprec.pipeline import PipelineConfig
from shoprec.rerank import Caps, RerankConfig


@dataclass(frozen=True)
class Inner:
    limit: int | None = None
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outer:
    inner: Inner = field(default_factory=Inner)
    weight: float = 1.0
    tags: frozenset[str] = frozenset()


def test_nested_configs_go_out_as_json_and_come_back_equal() -> None:
    config = Outer(Inner(3, ("a", "b")), 0.5, frozenset({"x"}))
    text = json.dumps(config_to_dict(config))
    assert config_from_dict(Outer, json.loads(text)) == config


def test_missing_fields_take_defaults_and_unknown_ones_are_named() -> None:
    assert config_from_dict(Outer, {"weight": 2.0}) == Outer(weight=2.0)
    with pytest.raises(ParameterError, match=r"Outer has no field \['wieght'\]"):
        config_from_dict(Outer, {"wieght": 2.0})
    with pytest.raises(ParameterError, match="Inner has no field"):
        config_from_dict(Outer, {"inner": {"limit": 1, "extra": 0}})


def test_every_pipeline_config_field_is_saved() -> None:
    config = PipelineConfig(
        model="als",
        model_params={"factors": 8},
        rerank=RerankConfig(method="mmr", diversity=0.3, caps=Caps(2, 3), pool=40),
        ann_threshold=None,
    )
    saved = json.loads(json.dumps(config.to_dict()))
    assert set(saved) == {f.name for f in dataclasses.fields(PipelineConfig)}
    assert set(saved["rerank"]) == {f.name for f in dataclasses.fields(RerankConfig)}
    assert PipelineConfig.from_dict(saved) == config


def test_manifests_with_the_older_flat_caps_still_load() -> None:
    config = PipelineConfig(rerank=RerankConfig(method="mmr", caps=Caps(max_per_brand=2)))
    old = config.to_dict()
    caps = old["rerank"].pop("caps")
    old["rerank"] = {**old["rerank"], **caps}
    assert PipelineConfig.from_dict(old) == config
