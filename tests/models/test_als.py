"""ALS: fold-in against an explicit solve and the fitted factors, implicit as reference, quality."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shoprec.data import EncodedInteractions, Interactions, Split, leave_one_out
from shoprec.models import ALS, Popularity, Recommender

SMALL = {"factors": 8, "iterations": 5}


def cluster_shop(seed: int = 0, n_users: int = 200) -> Interactions:
    """Each customer buys 6-9 random items of one of four 10-item collections, in random order,
    plus best-sellers p0-p3 now and then: taste is the collection, not the order."""
    rng = np.random.default_rng(seed)
    rows, t = [], 0
    for user in range(n_users):
        cluster = rng.integers(4)
        items = [f"c{cluster}-{i}" for i in rng.choice(10, size=rng.integers(6, 10), replace=False)]
        items += [f"p{i}" for i in range(4) if rng.random() < 0.4]
        for item in rng.permutation(items):
            rows.append((f"u{user}", item, "purchase", t))
            t += 1
    return Interactions(
        pd.DataFrame(rows, columns=["user_id", "item_id", "event_type", "timestamp"])
    )


def test_fold_in_solves_the_implicit_als_normal_equations() -> None:
    model = ALS(alpha=3.0, regularization=0.5, **SMALL).fit(cluster_shop(n_users=40))
    item_factors = model.item_factors_.astype(np.float64)
    y0, y2 = item_factors[0], item_factors[2]
    # item 0 twice: confidence alpha * count = 6; item 2 once: 3
    lhs = item_factors.T @ item_factors + 0.5 * np.eye(8)
    lhs += (6 - 1) * np.outer(y0, y0) + (3 - 1) * np.outer(y2, y2)
    expected = np.linalg.solve(lhs, 6 * y0 + 3 * y2)
    folded = model.fold_in([np.array([0, 2, 0]), np.array([], dtype=np.int64)])
    assert folded.shape == (2, 8)
    np.testing.assert_allclose(folded[0], expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(folded[1], 0.0)


@pytest.mark.parametrize("bm25", [False, True])
def test_fold_in_recovers_the_fitted_user_factors(bm25: bool) -> None:
    data = cluster_shop()
    model = ALS(factors=8, iterations=60, alpha=2.0, regularization=0.1, bm25=bm25).fit(data)
    folded = model.fold_in(list(model.histories_.values()))
    fitted = model.user_factors_
    error = np.linalg.norm(folded - fitted, axis=1) / np.linalg.norm(fitted, axis=1)
    # implicit's last user update used the previous item factors and 3 CG steps: close, not equal
    assert np.median(error) < 0.02
    assert error.max() < 0.1


@pytest.mark.parametrize("bm25", [False, True])
def test_fit_matches_implicit_on_the_same_matrix(bm25: bool) -> None:
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.nearest_neighbours import bm25_weight

    data = cluster_shop(n_users=60)
    params = {"factors": 8, "iterations": 4, "alpha": 2.0, "regularization": 0.3}
    ours = ALS(bm25=bm25, bm25_k1=50.0, bm25_b=0.5, random_state=3, **params).fit(data)  # type: ignore[arg-type]
    matrix = EncodedInteractions.encode(data).matrix()
    if bm25:  # implicit's documented use: weight the item-user matrix
        matrix = bm25_weight(matrix.T, K1=50.0, B=0.5).T.tocsr()
    reference = AlternatingLeastSquares(random_state=3, num_threads=1, **params)
    reference.fit(matrix, show_progress=False)
    # BM25 cells agree to float32 rounding, which the ALS sweeps amplify a little
    atol = 5e-3 if bm25 else 1e-5
    np.testing.assert_allclose(ours.item_factors_, reference.item_factors, rtol=1e-4, atol=atol)


def test_empty_history_scores_by_popularity() -> None:
    rows = [("u1", "a", 0), ("u2", "a", 1), ("u2", "b", 2), ("u3", "a", 3), ("u3", "b", 4),
            ("u3", "c", 5)]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]).assign(
        event_type="purchase"
    )
    model = ALS(**SMALL).fit(Interactions(frame))
    ids, scores = model.recommend(["nobody"], k=3)
    assert list(ids[0]) == ["a", "b", "c"]
    np.testing.assert_allclose(scores[0], [1.0, 2 / 3, 1 / 3], rtol=1e-6)


def test_results_do_not_depend_on_threads() -> None:
    data = cluster_shop(n_users=80)
    one = ALS(num_threads=1, **SMALL).fit(data)
    two = ALS(num_threads=2, **SMALL).fit(data)
    np.testing.assert_array_equal(one.item_factors_, two.item_factors_)
    other_seed = ALS(random_state=1, **SMALL).fit(data)
    assert not np.allclose(one.item_factors_, other_seed.item_factors_)


@pytest.mark.parametrize(
    "params",
    [{"factors": 0}, {"iterations": 0}, {"alpha": 0.0}, {"regularization": -1.0},
     {"bm25": True, "bm25_b": 2.0}],
)  # fmt: skip
def test_invalid_hyper_parameters_are_rejected_at_fit(params: dict[str, float]) -> None:
    model = ALS(**params)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        model.fit(cluster_shop(n_users=10))


def valid_hit_rate(model: Recommender, split: Split, k: int) -> float:
    """Share of validation targets in the top ``k`` recommended from the training history."""
    histories, targets = split.train.histories(), split.valid.histories()
    users = list(targets)
    seqs = [model.encode_items(list(histories.get(u, []))) for u in users]
    ids, _ = model.recommend_histories(seqs, k=k)
    return float(np.mean([targets[u][0] in row for u, row in zip(users, ids, strict=True)]))


def test_beats_popularity_on_a_cluster_taste_structure() -> None:
    split = leave_one_out(cluster_shop(n_users=300))
    als = valid_hit_rate(ALS(factors=8, iterations=10).fit(split.train), split, k=5)
    popularity = valid_hit_rate(Popularity().fit(split.train), split, k=5)
    assert popularity < 0.35
    assert als > popularity + 0.2
