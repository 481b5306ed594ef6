"""One contract suite over every registered Recommender, like scikit-learn's common checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shoprec.data import Catalog, Interactions, leave_one_out
from shoprec.exceptions import NotFittedError, ParameterError
from shoprec.models import RECOMMENDERS, Recommender, create_recommender, load_recommender

# Settings that keep each model fast on the tiny test data; defaults otherwise.
FAST_PARAMS: dict[str, dict[str, Any]] = {
    "als": {"factors": 8, "iterations": 3},
    "content": {"encoder": "hashing"},
    "sasrec": {"max_epochs": 2, "hidden": 16, "n_layers": 1, "max_len": 10, "batch_size": 32},
    "text_sequence": {
        "encoder": "hashing",
        "max_epochs": 2,
        "hidden": 16,
        "n_layers": 1,
        "max_len": 10,
        "batch_size": 32,
        "n_experts": 2,
    },
}

MODEL_NAMES = sorted(RECOMMENDERS)


def make(name: str) -> Recommender:
    return create_recommender(name, **FAST_PARAMS.get(name, {}))


@pytest.fixture(params=MODEL_NAMES)
def fitted(request: pytest.FixtureRequest, random_interactions: Interactions) -> Recommender:
    split = leave_one_out(random_interactions)
    return make(request.param).fit(split.train, validation=split.valid)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_inference_before_fit_raises(name: str) -> None:
    model = make(name)
    with pytest.raises(NotFittedError):
        model.recommend(["u"], k=3)
    with pytest.raises(NotFittedError):
        model.score([np.array([0])])


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_params_are_stored_as_given(name: str) -> None:
    model = make(name)
    params = model.get_params()
    for key, value in FAST_PARAMS.get(name, {}).items():
        assert params[key] == value
    assert type(model)(**params).get_params() == params


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_fit_returns_self(name: str, tiny_interactions: Interactions) -> None:
    model = make(name)
    assert model.fit(tiny_interactions) is model


def test_score_shape_and_cold_start(fitted: Recommender) -> None:
    n_items = len(fitted.item_ids_)
    scores = fitted.score([np.array([0, 1]), np.array([], dtype=np.int64), np.array([5])])
    assert scores.shape == (3, n_items)
    assert scores.dtype == np.float32
    assert np.isfinite(scores).all()


def test_recommend_excludes_history_and_sorts(fitted: Recommender) -> None:
    users = list(fitted.histories_)[:20]
    ids, scores = fitted.recommend(users, k=10)
    assert ids.shape == scores.shape == (20, 10)
    assert (np.diff(scores, axis=1) <= 0).all()
    for user, row in zip(users, ids, strict=True):
        seen = set(fitted.item_ids_[fitted.histories_[user]])
        assert not seen & set(row)
        assert len(set(row)) == 10


def test_batch_equals_single(fitted: Recommender) -> None:
    users = [*list(fitted.histories_)[:5], "never-seen-user"]
    ids, scores = fitted.recommend(users, k=5)
    for row, user in enumerate(users):
        single_ids, single_scores = fitted.recommend_user(user, k=5)
        np.testing.assert_array_equal(single_ids, ids[row])
        np.testing.assert_allclose(single_scores, scores[row], rtol=1e-5, atol=1e-6)


def test_history_override_drives_recommendations(fitted: Recommender) -> None:
    history = list(fitted.item_ids_[:3])
    ids, _ = fitted.recommend(["someone"], k=5, histories={"someone": history})
    assert not set(history) & set(ids[0])
    expected, _ = fitted.recommend_histories([np.arange(3)], k=5)
    np.testing.assert_array_equal(ids, expected)


def test_save_load_round_trip(fitted: Recommender, tmp_path: Path) -> None:
    fitted.save(tmp_path / "model")
    loaded = load_recommender(tmp_path / "model")
    assert type(loaded) is type(fitted)
    assert loaded.get_params() == fitted.get_params()
    histories = [np.array([0, 3, 7]), np.array([], dtype=np.int64)]
    np.testing.assert_allclose(
        loaded.score(histories), fitted.score(histories), rtol=1e-5, atol=1e-6
    )
    users = list(fitted.histories_)[:5]
    np.testing.assert_array_equal(loaded.recommend(users)[0], fitted.recommend(users)[0])
    assert not list(tmp_path.rglob("*.pkl"))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_fit_is_deterministic(name: str, random_interactions: Interactions) -> None:
    first = make(name).fit(random_interactions)
    second = make(name).fit(random_interactions)
    histories = [np.array([1, 2, 3]), np.array([10])]
    np.testing.assert_allclose(
        first.score(histories), second.score(histories), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_catalog_defines_the_item_vocabulary(name: str, tiny_interactions: Interactions) -> None:
    frame = pd.DataFrame({"item_id": ["a", "b", "c", "d", "e", "new"], "title": list("ABCDEN")})
    model = make(name).fit(tiny_interactions, Catalog(frame))
    assert list(model.item_ids_) == ["a", "b", "c", "d", "e", "new"]
    assert model.score([np.array([0])]).shape == (1, 6)


def test_vector_scoring_models_score_by_inner_products(fitted: Recommender) -> None:
    """The ANN retrieval path relies on it: score == user vector . item vector."""
    from shoprec.models import VectorScoring

    expected = {"als", "content", "sasrec", "text_sequence"}
    assert isinstance(fitted, VectorScoring) == (fitted.name in expected)
    if not isinstance(fitted, VectorScoring):
        return
    histories = [np.array([0, 1]), np.array([5]), np.array([3, 2, 7, 4])]
    items = fitted.retrieval_vectors()
    users = fitted.query_vectors(histories)
    assert items.shape[0] == len(fitted.item_ids_) and users.shape == (3, items.shape[1])
    np.testing.assert_allclose(users @ items.T, fitted.score(histories), rtol=1e-4, atol=1e-4)


def test_score_events_is_score_with_context(fitted: Recommender) -> None:
    """Every model takes event context; without context support it is exactly ``score``,
    with it the shapes match and types the model never saw change nothing."""
    histories = [fitted.encode_items(["item0", "item1"]), fitted.encode_items(["item3"])]
    types = [["click"] * len(h) for h in histories]
    plain = fitted.score(histories)
    with_context = fitted.score_events(histories, event_types=types)
    assert with_context.shape == plain.shape
    if not fitted.supports_event_context:
        np.testing.assert_array_equal(with_context, plain)
    unseen = fitted.score_events(
        histories, event_types=[["never-seen"] * len(h) for h in histories]
    )
    assert unseen.shape == plain.shape and np.isfinite(unseen).all()


def test_add_items_follows_the_capability_flag(fitted: Recommender) -> None:
    """Models that support new items score them at once; the others refuse, clearly."""
    catalog = Catalog(pd.DataFrame({"item_id": ["brand-new"], "title": ["A brand new thing"]}))
    n_items = len(fitted.item_ids_)
    if not fitted.supports_new_items:
        with pytest.raises(ParameterError, match="cannot add items"):
            fitted.add_items(catalog)
        return
    fitted.add_items(catalog)
    assert list(fitted.item_ids_)[-1] == "brand-new"
    scores = fitted.score([fitted.encode_items(["item0"])])
    assert scores.shape == (1, n_items + 1) and np.isfinite(scores[0, -1])
