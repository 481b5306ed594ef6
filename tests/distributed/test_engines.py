"""Offline work on an engine: the same code and the same results in this process, split into
shards (an in-process engine that splits like a distributed one) and on Ray."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

from shoprec._runtime import LocalEngine, current_engine, use_engine
from shoprec.data import Interactions
from shoprec.datasets import make_synthetic_shop
from shoprec.distributed import RayEngine, create_engine
from shoprec.exceptions import ParameterError
from shoprec.models import ItemCoVisitation
from shoprec.text import create_encoder, item_texts


class SplittingEngine(LocalEngine):
    """Runs here, but splits work as a distributed engine of three workers does."""

    name = "splitting"
    workers = 3
    distributed = True

    def __init__(self) -> None:
        self.calls = 0

    def map_batches(
        self, make_fn: Callable[[], Callable[[Any], Any]], payloads: Sequence[Any]
    ) -> list[Any]:
        self.calls += 1
        return [make_fn()(p) for p in payloads]  # a fresh function per payload, like workers


@pytest.fixture(scope="module")
def shop():  # type: ignore[no-untyped-def]
    return make_synthetic_shop(n_users=400, n_items=300, random_state=5)


def single_type(interactions: Interactions) -> Interactions:
    frame = interactions.frame.copy()
    frame["event_type"] = "view"
    return Interactions(frame)


def test_sharded_covisitation_counts_equal_one_process(shop) -> None:  # type: ignore[no-untyped-def]
    train = shop.split.train
    local = ItemCoVisitation().fit(single_type(train))
    engine = SplittingEngine()
    with use_engine(engine):
        assert current_engine() is engine
        sharded = ItemCoVisitation().fit(single_type(train))
    assert engine.calls == 1 and current_engine() is not engine
    # unit weights: integer counts, exact whatever the order of the partial sums
    assert (local.neighbors_ != sharded.neighbors_).nnz == 0
    np.testing.assert_array_equal(local.popularity_, sharded.popularity_)
    mixed_local = ItemCoVisitation().fit(train)
    with use_engine(SplittingEngine()):
        mixed = ItemCoVisitation().fit(train)
    np.testing.assert_allclose(mixed.neighbors_.toarray(), mixed_local.neighbors_.toarray())


def test_sharded_encoding_equals_one_process(shop) -> None:  # type: ignore[no-untyped-def]
    texts = item_texts(shop.catalog)
    encoder = create_encoder("hashing")
    local = encoder.encode(texts, batch_size=32)
    engine = SplittingEngine()
    with use_engine(engine):
        sharded = encoder.encode(texts, batch_size=32)
    assert engine.calls == 1
    np.testing.assert_array_equal(local, sharded)


def test_engine_names_are_checked() -> None:
    assert isinstance(create_engine("local"), LocalEngine)
    assert isinstance(create_engine("ray", address="auto"), RayEngine)
    with pytest.raises(ParameterError, match="unknown engine"):
        create_engine("spark")
    with pytest.raises(ParameterError, match="--address needs"):
        create_engine("local", address="ray://head:10001")


@pytest.mark.slow  # starts a 2-CPU Ray cluster (20-60 s on a busy machine)
def test_ray_engine_gives_the_same_results(shop) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("ray", reason="ray is an optional extra: pip install 'shoprec[ray]'")
    texts = item_texts(shop.catalog)[:200]
    encoder = create_encoder("onnx")
    local_vectors = encoder.encode(texts, batch_size=32)
    local_counts = ItemCoVisitation().fit(single_type(shop.split.train))
    with RayEngine(workers=2) as engine, use_engine(engine):
        ray_vectors = encoder.encode(texts, batch_size=32)
        ray_counts = ItemCoVisitation().fit(single_type(shop.split.train))
    np.testing.assert_array_equal(local_vectors, ray_vectors)  # one ONNX encoder per worker
    assert (local_counts.neighbors_ != ray_counts.neighbors_).nnz == 0
    np.testing.assert_array_equal(local_counts.popularity_, ray_counts.popularity_)
