"""ItemCoVisitation: known neighbours on tiny sequences, scoring, and quality against popularity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shoprec.data import Interactions, Split, event_weights, history_matrix, leave_one_out
from shoprec.models import ItemCoVisitation, Popularity, Recommender

EXACT = {"alpha": None, "backward_weight": 0.0, "popularity_weight": 0.0}


def sequences(users: dict[str, str], types: dict[str, str] | None = None) -> Interactions:
    """One event per letter, in order; ``types`` gives a user's event type per letter."""
    rows = []
    for user, items in users.items():
        kinds = (types or {}).get(user, "p" * len(items))
        for item, kind in zip(items, kinds, strict=True):
            event_type = {"v": "view", "c": "cart", "p": "purchase"}[kind]
            rows.append((user, item, event_type, len(rows)))
    return Interactions(
        pd.DataFrame(rows, columns=["user_id", "item_id", "event_type", "timestamp"])
    )


def neighbours(model: ItemCoVisitation) -> dict[str, dict[str, float]]:
    """The kept neighbour matrix as ``{item: {neighbour: weight}}``, items without any left out."""
    matrix, ids = model.neighbors_.tocsr(), model.item_ids_
    out = {}
    for row, item in enumerate(ids):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        if end > start:
            cols, values = matrix.indices[start:end], matrix.data[start:end]
            out[item] = {ids[c]: pytest.approx(float(v)) for c, v in zip(cols, values, strict=True)}
    return out


def encode(model: Recommender, items: str) -> np.ndarray:
    return model.encode_items(list(items))


ABC = {"u1": "abc", "u2": "abd", "u3": "cd"}


def test_window_one_counts_adjacent_forward_pairs() -> None:
    model = ItemCoVisitation(window=1, **EXACT).fit(sequences(ABC))
    assert neighbours(model) == {"a": {"b": 2}, "b": {"c": 1, "d": 1}, "c": {"d": 1}}


@pytest.mark.parametrize("window", [2, None])
def test_wider_window_pairs_events_further_apart(window: int | None) -> None:
    model = ItemCoVisitation(window=window, **EXACT).fit(sequences(ABC))
    expected = {"a": {"b": 2, "c": 1, "d": 1}, "b": {"c": 1, "d": 1}, "c": {"d": 1}}
    assert neighbours(model) == expected


def test_window_never_pairs_across_users() -> None:
    # u1's last item "c" and u3's first item "c" are adjacent in the event log but not a pair
    model = ItemCoVisitation(window=None, **EXACT).fit(sequences({"u1": "ab", "u2": "cd"}))
    assert neighbours(model) == {"a": {"b": 1}, "c": {"d": 1}}


def test_backward_pairs_count_with_their_weight() -> None:
    params = {**EXACT, "backward_weight": 0.5}
    model = ItemCoVisitation(window=1, **params).fit(sequences(ABC))
    assert neighbours(model) == {
        "a": {"b": 2},
        "b": {"a": 1.0, "c": 1, "d": 1},
        "c": {"b": 0.5, "d": 1},
        "d": {"b": 0.5, "c": 0.5},
    }


def test_forward_only_does_not_recommend_what_came_before() -> None:
    model = ItemCoVisitation(window=1, **{**EXACT, "popularity_weight": 1e-3}).fit(sequences(ABC))
    ids, _ = model.recommend_histories([encode(model, "b")], k=3)
    assert set(ids[0][:2]) == {"c", "d"}
    assert ids[0][2] == "a"  # only through the popularity prior


def test_event_type_weights_the_pair_ending_in_it() -> None:
    data = sequences({"u1": "xy", "u2": "xz"}, types={"u1": "vp", "u2": "vv"})
    model = ItemCoVisitation(window=1, **EXACT).fit(data)
    # default weights view 1, purchase 4, scaled to average 1 over the 4 events (mean 1.75)
    assert neighbours(model) == {"x": {"y": 4 / 1.75, "z": 1 / 1.75}}
    flat = ItemCoVisitation(window=1, event_weights={"view": 1, "purchase": 1}, **EXACT)
    assert neighbours(flat.fit(data)) == {"x": {"y": 1, "z": 1}}


@pytest.mark.parametrize(
    ("alpha", "to_b", "to_c"),
    [(0.5, 2 / np.sqrt(3 * 2), 1 / np.sqrt(3 * 1)), (1.0, 2 / 3, 1 / 3), (0.0, 2 / 2, 1 / 1)],
)
def test_alpha_normalises_by_popularity(alpha: float, to_b: float, to_c: float) -> None:
    # popularity: a 3, b 2, c 1; counts a->b 2, a->c 1
    data = sequences({"u1": "ab", "u2": "ab", "u3": "ac"})
    model = ItemCoVisitation(window=1, **{**EXACT, "alpha": alpha}).fit(data)
    assert neighbours(model) == {"a": {"b": to_b, "c": to_c}}


def test_max_neighbors_keeps_the_strongest_ties_to_the_lower_index() -> None:
    model = ItemCoVisitation(window=2, max_neighbors=1, **EXACT).fit(sequences(ABC))
    assert neighbours(model) == {"a": {"b": 2}, "b": {"c": 1}, "c": {"d": 1}}


def test_recent_items_of_the_history_weigh_most() -> None:
    params = {**EXACT, "recency_decay": 0.5}
    model = ItemCoVisitation(window=1, **params).fit(sequences({"u1": "ab", "u2": "cd"}))
    b, d = model.item_index_["b"], model.item_index_["d"]
    scores = model.score([encode(model, "ac"), encode(model, "ca")])
    np.testing.assert_allclose(scores[:, [b, d]], [[0.5, 1.0], [1.0, 0.5]])
    flat = ItemCoVisitation(window=1, **{**params, "recency_decay": 1.0}).fit(
        sequences({"u1": "ab", "u2": "cd"})
    )
    np.testing.assert_allclose(flat.score([encode(flat, "ac")])[0, [b, d]], [1.0, 1.0])


def test_cold_and_unrelated_histories_fall_back_to_popularity() -> None:
    data = sequences({"u1": "abc", "u2": "ab", "u3": "a"})
    model = ItemCoVisitation(window=1, backward_weight=0.0).fit(data)
    ids, scores = model.recommend_histories([np.array([], dtype=np.int64)], k=3)
    assert list(ids[0]) == ["a", "b", "c"]
    assert np.isfinite(scores).all()
    # "c" is always last: with forward pairs only it has no neighbours
    assert neighbours(model).get("c", {}) == {}
    ids, _ = model.recommend_histories([encode(model, "c")], k=2)
    assert list(ids[0]) == ["a", "b"]
    ids, _ = model.recommend(["nobody"], k=3)
    assert list(ids[0]) == ["a", "b", "c"]


def test_history_matrix_weights_by_recency_and_adds_repeats() -> None:
    matrix = history_matrix([np.array([0, 2, 0]), np.array([], dtype=np.int64)], 3,
                            recency_decay=0.5)  # fmt: skip
    np.testing.assert_allclose(matrix.toarray(), [[1.0 + 0.25, 0.0, 0.5], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(history_matrix([np.array([1, 1])], 2).toarray(), [[0.0, 2.0]])


def test_event_weights_average_one_and_reject_non_positive() -> None:
    weights = event_weights(np.array(["view", "purchase", "view", "mystery"]))
    np.testing.assert_allclose(weights, np.array([1.0, 4.0, 1.0, 1.0]) / 1.75)
    np.testing.assert_allclose(event_weights(np.array(["cart", "cart"])), [1.0, 1.0])
    with pytest.raises(ValueError, match="positive"):
        event_weights(np.array(["view"]), {"view": 0.0})


@pytest.mark.parametrize(
    "params",
    [{"window": 0}, {"backward_weight": 1.5}, {"alpha": -0.1}, {"max_neighbors": 0},
     {"recency_decay": 0.0}, {"popularity_weight": -1.0}],
)  # fmt: skip
def test_invalid_hyper_parameters_are_rejected_at_fit(params: dict[str, float]) -> None:
    model = ItemCoVisitation(**params)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        model.fit(sequences(ABC))


def sequential_shop(seed: int = 0) -> Split:
    """Customers walk through one of four 8-item collections in a fixed order, from a random
    start, with best-sellers (items p0-p3) mixed in: the next item follows from the last one."""
    rng = np.random.default_rng(seed)
    rows, t = [], 0
    for user in range(160):
        cluster, start = rng.integers(4), rng.integers(8)
        for step in range(rng.integers(5, 9)):
            if rng.random() < 0.3:
                rows.append((f"u{user}", f"p{rng.integers(4)}", "purchase", t))
                t += 1
            rows.append((f"u{user}", f"c{cluster}-{(start + step) % 8}", "purchase", t))
            t += 1
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "event_type", "timestamp"])
    frame = frame.drop_duplicates(["user_id", "item_id"])
    return leave_one_out(Interactions(frame))


def valid_hit_rate(model: Recommender, split: Split, k: int) -> float:
    """Share of validation targets in the top ``k`` recommended from the training history."""
    histories, targets = split.train.histories(), split.valid.histories()
    users = list(targets)
    seqs = [model.encode_items(list(histories.get(u, []))) for u in users]
    ids, _ = model.recommend_histories(seqs, k=k)
    return float(np.mean([targets[u][0] in row for u, row in zip(users, ids, strict=True)]))


def test_beats_popularity_on_a_sequential_taste_structure() -> None:
    split = sequential_shop()
    covisitation = valid_hit_rate(ItemCoVisitation().fit(split.train), split, k=5)
    popularity = valid_hit_rate(Popularity().fit(split.train), split, k=5)
    assert popularity < 0.4
    assert covisitation > popularity + 0.3


def test_scores_equal_the_sparse_formula(random_interactions: Interactions) -> None:
    """The serving path gathers neighbour rows with numpy; it must equal
    ``history_matrix(h) @ S + prior`` (repeated items and empty histories included)."""
    from shoprec.data import history_matrix

    model = ItemCoVisitation(recency_decay=0.7, popularity_weight=0.01).fit(random_interactions)
    rng = np.random.default_rng(0)
    n_items = len(model.item_ids_)
    histories = [rng.integers(0, n_items, size=n) for n in (0, 1, 5, 30)]
    histories.append(np.array([3, 3, 7, 3]))
    weighted = history_matrix(histories, n_items, recency_decay=0.7)
    expected = (weighted @ model.neighbors_).toarray() + 0.01 * model.popularity_
    np.testing.assert_allclose(model.score(histories), expected, rtol=1e-5, atol=1e-6)
