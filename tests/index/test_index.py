"""One contract suite over every VectorIndex, checked against brute-force numpy search."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoprec.exceptions import ArtifactError, NotFittedError, ValidationError
from shoprec.index import (
    INDEXES,
    ExactIndex,
    HNSWIndex,
    IVFIndex,
    VectorIndex,
    create_index,
    load_index,
)
from shoprec.index import _base as index_base

# Settings under which each index is exhaustive on the tiny data, so answers are exact:
# several catalog chunks for numpy, ef_search above n for HNSW, every cell probed for IVF.
EXHAUSTIVE_PARAMS: dict[str, dict[str, object]] = {
    "exact": {"block_size": 64},
    "hnsw": {"M": 8, "ef_construction": 64, "ef_search": 64},
    "ivf": {"nlist": 4, "nprobe": 4},
}
NAMES = sorted(INDEXES)
N, DIM = 40, 6


def make(name: str) -> VectorIndex:
    return create_index(name, **EXHAUSTIVE_PARAMS[name])


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def items() -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(3)
    return [f"item{i}" for i in range(N)], unit(rng.standard_normal((N, DIM)))


@pytest.fixture
def queries() -> np.ndarray:
    return unit(np.random.default_rng(4).standard_normal((7, DIM)))


@pytest.fixture(params=NAMES)
def built(request: pytest.FixtureRequest, items: tuple[list[str], np.ndarray]) -> VectorIndex:
    return make(request.param).build(*items)


def brute_force(
    ids: list[str], vectors: np.ndarray, queries: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Reference answer: full sort of all inner products, padded like the contract says."""
    scores = queries.astype(np.float64) @ vectors.T.astype(np.float64)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    top_ids = np.full((len(queries), k), "", dtype=object)
    top_scores = np.full((len(queries), k), -np.inf)
    width = order.shape[1]
    top_ids[:, :width] = np.asarray(ids, dtype=object)[order]
    top_scores[:, :width] = np.take_along_axis(scores, order, axis=1)
    return top_ids, top_scores


def assert_matches(
    index: VectorIndex, ids: list[str], vectors: np.ndarray, queries: np.ndarray, k: int
) -> None:
    got_ids, got_scores = index.search(queries, k=k)
    want_ids, want_scores = brute_force(ids, vectors, queries, k)
    np.testing.assert_array_equal(got_ids, want_ids)
    np.testing.assert_allclose(got_scores, want_scores, rtol=1e-5, atol=1e-5)


# -- lifecycle ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_use_before_build_raises(name: str, queries: np.ndarray, tmp_path: Path) -> None:
    index = make(name)
    assert len(index) == 0
    assert "item0" not in index
    calls: list[Callable[[], object]] = [
        lambda: index.search(queries, k=3),
        lambda: index.search_one(queries[0], k=3),
        lambda: index.add(["a"], queries[:1]),
        lambda: index.remove(["a"]),
        lambda: index.save(tmp_path / "index"),
        lambda: index.ids,
    ]
    for call in calls:
        with pytest.raises(NotFittedError):
            call()


@pytest.mark.parametrize("name", NAMES)
def test_params_stored_as_given_without_work(name: str) -> None:
    index = make(name)
    assert index.get_params() | EXHAUSTIVE_PARAMS[name] == index.get_params()
    assert type(index)(**index.get_params()).get_params() == index.get_params()
    assert not index.is_built
    assert repr(index).startswith(type(index).__name__ + "(")


@pytest.mark.parametrize(
    ("name", "bad"),
    [("exact", {"block_size": 0}), ("hnsw", {"M": 1}), ("hnsw", {"ef_search": 0}),
     ("ivf", {"nlist": 0}), ("ivf", {"nprobe": 0})],
)  # fmt: skip
def test_bad_hyper_parameters_fail_at_build(
    name: str, bad: dict[str, object], items: tuple[list[str], np.ndarray]
) -> None:
    index = create_index(name, **bad)  # stored as given: no validation in __init__
    with pytest.raises(ValueError, match=next(iter(bad))):
        index.build(*items)


def test_build_returns_self_and_holds_the_items(
    built: VectorIndex, items: tuple[list[str], np.ndarray]
) -> None:
    ids, _ = items
    assert len(built) == N
    assert built.dim_ == DIM
    assert list(built.ids) == ids
    assert "item7" in built and "nope" not in built


def test_build_copies_the_input(built: VectorIndex, items: tuple[list[str], np.ndarray]) -> None:
    _, vectors = items
    original = vectors.copy()
    expected = built.search(original[:3], k=5)
    vectors[:] = 0.0  # the caller reuses its buffer
    got = built.search(original[:3], k=5)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


def test_rebuild_replaces_the_content(built: VectorIndex, queries: np.ndarray) -> None:
    new_ids = ["x", "y", "z"]
    new_vectors = unit(np.random.default_rng(9).standard_normal((3, DIM)))
    built.build(new_ids, new_vectors)
    assert len(built) == 3
    assert_matches(built, new_ids, new_vectors, queries, k=4)


# -- search ---------------------------------------------------------------------------------------
def test_search_matches_brute_force(
    built: VectorIndex, items: tuple[list[str], np.ndarray], queries: np.ndarray
) -> None:
    ids, scores = built.search(queries, k=10)
    assert ids.shape == scores.shape == (len(queries), 10)
    assert ids.dtype == object and scores.dtype == np.float32
    assert (np.diff(scores, axis=1) <= 0).all()
    assert_matches(built, *items, queries, k=10)


def test_rows_are_padded_past_the_catalog(
    built: VectorIndex, items: tuple[list[str], np.ndarray], queries: np.ndarray
) -> None:
    ids, scores = built.search(queries, k=N + 5)
    assert (ids[:, N:] == "").all() and np.isneginf(scores[:, N:]).all()
    assert (ids[:, :N] != "").all() and np.isfinite(scores[:, :N]).all()
    assert_matches(built, *items, queries, k=N + 5)


def test_batch_equals_single(built: VectorIndex, queries: np.ndarray) -> None:
    exclude = [["item1", "item2"], [], ["item30"], [], [], ["unknown"], []]
    ids, scores = built.search(queries, k=6, exclude=exclude)
    for row, query in enumerate(queries):
        one_ids, one_scores = built.search_one(query, k=6, exclude=exclude[row])
        assert one_ids.shape == (6,)
        np.testing.assert_array_equal(one_ids, ids[row])
        np.testing.assert_allclose(one_scores, scores[row], rtol=1e-6)


def test_empty_query_batch(built: VectorIndex) -> None:
    ids, scores = built.search(np.empty((0, DIM), dtype=np.float32), k=3)
    assert ids.shape == scores.shape == (0, 3)


def test_exclude_leaves_out_ids_and_refills(
    built: VectorIndex, items: tuple[list[str], np.ndarray], queries: np.ndarray
) -> None:
    ids, vectors = items
    top, _ = built.search(queries[:2], k=5)
    banned = set(top[0, :3]) | {"not-an-item"}
    got, got_scores = built.search(queries[:2], k=5, exclude=[banned, set()])
    keep = [i for i, item in enumerate(ids) if item not in banned]
    want, want_scores = brute_force([ids[i] for i in keep], vectors[keep], queries[:1], k=5)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_allclose(got_scores[0], want_scores[0], rtol=1e-5)
    np.testing.assert_array_equal(got[1], top[1])  # an empty exclusion changes nothing


def test_exclude_everything_pads(built: VectorIndex, items: tuple[list[str], np.ndarray]) -> None:
    ids, vectors = items
    got, scores = built.search(vectors[:1], k=3, exclude=[ids[1:]])
    assert list(got[0]) == ["item0", "", ""]
    assert np.isneginf(scores[0, 1:]).all()


@pytest.mark.parametrize(
    "exclude", [[["item1"]], "item1", ["item1", "item2", "item3", "item4", "item5", "i", "j"]]
)
def test_exclude_needs_one_collection_per_query(
    built: VectorIndex, queries: np.ndarray, exclude: object
) -> None:
    with pytest.raises(ValidationError) as error:
        built.search(queries, k=3, exclude=exclude)  # type: ignore[arg-type]
    assert error.value.field == "exclude"


# -- updates --------------------------------------------------------------------------------------
def test_add_new_items(
    built: VectorIndex, items: tuple[list[str], np.ndarray], queries: np.ndarray
) -> None:
    ids, vectors = items
    extra = unit(np.random.default_rng(5).standard_normal((5, DIM)))
    extra_ids = [f"new{i}" for i in range(5)]
    assert built.add(extra_ids, extra) is built
    assert len(built) == N + 5
    assert_matches(built, ids + extra_ids, np.vstack([vectors, extra]), queries, k=8)
    assert built.search_one(extra[2], k=1)[0][0] == "new2"


def test_add_replaces_an_existing_vector(
    built: VectorIndex, items: tuple[list[str], np.ndarray], queries: np.ndarray
) -> None:
    ids, vectors = items
    target = ids[int(np.argmin(vectors @ queries[0]))]  # the worst match for query 0
    built.add([target], queries[:1] * 2.0)  # now the best, with score 2
    got, scores = built.search_one(queries[0], k=N + 1)
    assert got[0] == target and scores[0] == pytest.approx(2.0, rel=1e-5)
    assert list(got).count(target) == 1 and got[-1] == ""
    assert len(built) == N
    updated = vectors.copy()
    updated[ids.index(target)] = queries[0] * 2.0
    assert_matches(built, ids, updated, queries, k=10)


def test_remove_items(
    built: VectorIndex, items: tuple[list[str], np.ndarray], queries: np.ndarray
) -> None:
    ids, vectors = items
    top, _ = built.search(queries, k=3)
    gone = sorted(set(top.ravel()))
    assert built.remove(gone) is built
    assert len(built) == N - len(gone)
    assert not set(gone) & set(built.ids)
    keep = [i for i, item in enumerate(ids) if item not in gone]
    assert_matches(built, [ids[i] for i in keep], vectors[keep], queries, k=N)
    built.add([gone[0]], vectors[ids.index(gone[0])][None])  # a removed id can come back
    assert gone[0] in built and len(built) == N - len(gone) + 1


def test_remove_unknown_ids(built: VectorIndex) -> None:
    with pytest.raises(ValidationError, match="not in the index"):
        built.remove(["item1", "nope"])
    assert len(built) == N  # nothing removed when the call fails
    built.remove(["item1", "nope", "item1"], missing="ignore")
    assert len(built) == N - 1
    with pytest.raises(ValidationError):
        built.remove("item2")


def test_remove_everything_then_search(built: VectorIndex, queries: np.ndarray) -> None:
    built.remove(list(built.ids))
    ids, scores = built.search(queries, k=2)
    assert (ids == "").all() and np.isneginf(scores).all()
    built.add(["back"], queries[:1])
    assert built.search_one(queries[0], k=1)[0][0] == "back"


def test_compaction_renumbers_and_keeps_answers(
    built: VectorIndex,
    items: tuple[list[str], np.ndarray],
    queries: np.ndarray,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids, vectors = items
    monkeypatch.setattr(index_base, "_COMPACT_MIN_DEAD", 0)
    built.remove(ids[:15])
    assert built._n_slots == N  # 15 dead of 40: not worth compacting yet
    built.remove(ids[15:25])  # 25 dead > 15 live: compacted automatically
    assert built._n_slots == 15
    assert_matches(built, ids[25:], vectors[25:], queries, k=5)
    built.add(ids[:3], vectors[:3])
    built.compact()
    assert_matches(built, ids[25:] + ids[:3], np.vstack([vectors[25:], vectors[:3]]), queries, 5)


# -- persistence ----------------------------------------------------------------------------------
def test_save_load_round_trip(
    built: VectorIndex,
    items: tuple[list[str], np.ndarray],
    queries: np.ndarray,
    tmp_path: Path,
) -> None:
    _, vectors = items
    built.remove(["item3", "item4"])  # dead slots must survive the trip
    odd_ids = ["ünïcode ✓", "with\x00nul", "item5"]  # the last one is an upsert
    built.add(odd_ids, vectors[:3])
    path = built.save(tmp_path / "index")
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["index"] == built.name and manifest["size"] == len(built) == N
    assert not list(tmp_path.rglob("*.pkl"))

    loaded = load_index(path)
    assert type(loaded) is type(built)
    assert loaded.get_params() == built.get_params()
    assert list(loaded.ids) == list(built.ids)
    for got, want in zip(loaded.search(queries, k=N), built.search(queries, k=N), strict=True):
        np.testing.assert_array_equal(got, want)
    assert type(built).load(path).get_params() == built.get_params()
    loaded.add(["after"], queries[:1] * 3)  # a loaded index keeps accepting updates
    assert loaded.search_one(queries[0], k=1)[0][0] == "after"
    loaded.remove(["ünïcode ✓"])
    assert "ünïcode ✓" not in set(loaded.search(queries, k=N + 5)[0].ravel())


@pytest.mark.parametrize("name", NAMES)
def test_load_rejects_other_directories(
    name: str, items: tuple[list[str], np.ndarray], tmp_path: Path
) -> None:
    with pytest.raises(ArtifactError):
        load_index(tmp_path / "missing")
    path = make(name).build(*items).save(tmp_path / "index")
    other = ExactIndex if name != "exact" else HNSWIndex
    with pytest.raises(ArtifactError, match="is not a"):
        other.load(path)
    manifest = json.loads((path / "manifest.json").read_text())
    (path / "manifest.json").write_text(json.dumps({**manifest, "format": "something/9"}))
    with pytest.raises(ArtifactError, match="format"):
        load_index(path)


# -- validation -----------------------------------------------------------------------------------
def _nan_at_row_3(vectors: np.ndarray) -> np.ndarray:
    bad = vectors.copy()
    bad[2, 1] = np.nan
    return bad


@pytest.mark.parametrize(
    ("mutate", "field", "row"),
    [
        (lambda ids, v: (ids, _nan_at_row_3(v)), "vectors", 3),
        (lambda ids, v: (ids, np.where(v > 0.9, np.inf, v)), "vectors", None),
        (lambda ids, v: ([*ids[:5], "item1", *ids[6:]], v), "ids", 6),
        (lambda ids, v: (["", *ids[1:]], v), "ids", 1),
        (lambda ids, v: ([7, *ids[1:]], v), "ids", 1),
        (lambda ids, v: (ids[:-1], v), "vectors", None),
        (lambda ids, v: (ids, v[:, 0]), "vectors", None),
        (lambda ids, v: (ids, v.astype(str)), "vectors", None),
        (lambda ids, v: ([], v[:0]), "vectors", None),
        (lambda ids, v: ("abc", v[:3]), "ids", None),
    ],
)
@pytest.mark.parametrize("name", NAMES)
def test_build_rejects_bad_items(
    name: str,
    items: tuple[list[str], np.ndarray],
    mutate: Callable[[list[str], np.ndarray], tuple[object, np.ndarray]],
    field: str,
    row: int | None,
) -> None:
    bad_ids, bad_vectors = mutate(*items)
    with pytest.raises(ValidationError) as error:
        make(name).build(bad_ids, bad_vectors)  # type: ignore[arg-type]
    assert error.value.field == field
    if row is not None:
        assert error.value.row == row


def test_updates_and_queries_are_validated(built: VectorIndex, queries: np.ndarray) -> None:
    wrong_dim = np.ones((2, DIM + 1), dtype=np.float32)
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: built.add(["a", "b"], wrong_dim), "vectors"),
        (lambda: built.add(["a", "a"], queries[:2]), "ids"),
        (lambda: built.search(wrong_dim, k=3), "queries"),
        (lambda: built.search(queries[0], k=3), "queries"),
        (lambda: built.search(np.full((1, DIM), np.nan), k=3), "queries"),
        (lambda: built.search(queries, k=0), "k"),
        (lambda: built.search(queries, k=2.5), "k"),  # type: ignore[arg-type]
        (lambda: built.search_one(queries, k=3), "queries"),
    ]
    for call, field in cases:
        with pytest.raises(ValidationError) as error:
            call()
        assert error.value.field == field
    assert len(built) == N  # failed updates changed nothing
    assert_matches(built, list(built.ids), built._reconstruct(np.arange(N)), queries, k=3)


# -- registry, implementation details -------------------------------------------------------------
def test_registry() -> None:
    assert {name: cls.name for name, cls in INDEXES.items()} == {n: n for n in INDEXES}
    assert isinstance(create_index("hnsw", ef_search=7), HNSWIndex)
    with pytest.raises(ValueError, match="unknown index"):
        create_index("annoy")


def test_importing_the_package_does_not_import_faiss() -> None:
    code = "import sys, shoprec.index; print('faiss' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def test_ivf_cells_and_determinism(
    items: tuple[list[str], np.ndarray], queries: np.ndarray
) -> None:
    ids, vectors = items
    assert IVFIndex().build(ids, vectors).nlist_ == round(np.sqrt(N))
    assert IVFIndex(nlist=1000).build(ids, vectors).nlist_ == N  # capped at the catalog size
    first = IVFIndex(nlist=5, nprobe=1, random_state=1).build(ids, vectors).search(queries, k=5)
    second = IVFIndex(nlist=5, nprobe=1, random_state=1).build(ids, vectors).search(queries, k=5)
    np.testing.assert_array_equal(first[0], second[0])


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 30),
    dim=st.integers(1, 5),
    k=st.integers(1, 35),
    block_size=st.integers(1, 70),
    n_removed=st.integers(0, 10),
    seed=st.integers(0, 2**32 - 1),
)
def test_exact_search_equals_a_full_sort(
    n: int, dim: int, k: int, block_size: int, n_removed: int, seed: int
) -> None:
    """Any chunking, removals and exclusions give the brute-force answer."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    queries = rng.standard_normal((3, dim)).astype(np.float32)
    ids = [f"i{j}" for j in range(n)]
    index = ExactIndex(block_size=block_size).build(ids, vectors)
    removed = set(rng.choice(ids, size=min(n_removed, n), replace=False))
    index.remove(removed)
    banned = set(rng.choice(ids, size=min(3, n), replace=False))
    got, got_scores = index.search(queries, k=k, exclude=[banned, set(), banned])
    keep = [j for j, item in enumerate(ids) if item not in removed]
    for row in range(3):
        allowed = [j for j in keep if row == 1 or ids[j] not in banned]
        want, want_scores = brute_force(
            [ids[j] for j in allowed], vectors[allowed], queries[row : row + 1], k
        )
        np.testing.assert_array_equal(got[row], want[0])
        np.testing.assert_allclose(got_scores[row], want_scores[0], rtol=1e-4, atol=1e-4)


def test_exact_ties_prefer_the_earlier_item() -> None:
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]], dtype=np.float32)
    index = ExactIndex(block_size=2).build(["a", "b", "c", "d"], vectors)
    ids, _ = index.search(np.array([[1.0, 0.0]]), k=3)
    assert list(ids[0]) == ["a", "c", "d"]


# -- recall of the approximate indexes ------------------------------------------------------------
def clustered(n: int, dim: int, n_clusters: int, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors around Zipf-sized cluster centres: closer to text embeddings than noise."""
    centres = unit(rng.standard_normal((n_clusters, dim)))
    weights = 1.0 / np.arange(1, n_clusters + 1) ** 0.8
    labels = rng.choice(n_clusters, size=n, p=weights / weights.sum())
    return unit(centres[labels] + rng.standard_normal((n, dim)) / np.sqrt(dim))


def recall_at_10(index: VectorIndex, exact: VectorIndex, queries: np.ndarray) -> float:
    got, _ = index.search(queries, k=10)
    want, _ = exact.search(queries, k=10)
    return float(np.mean([len(set(g) & set(w)) / 10 for g, w in zip(got, want, strict=True)]))


@pytest.fixture(scope="module")
def uniform_5000() -> tuple[list[str], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return (
        [str(i) for i in range(5000)],
        unit(rng.standard_normal((5000, 64))),
        unit(rng.standard_normal((100, 64))),
    )


def test_hnsw_recall_on_uniform_vectors(
    uniform_5000: tuple[list[str], np.ndarray, np.ndarray],
) -> None:
    ids, vectors, queries = uniform_5000
    exact = ExactIndex().build(ids, vectors)
    hnsw = HNSWIndex(M=16, ef_construction=100, ef_search=128).build(ids, vectors)
    assert recall_at_10(hnsw, exact, queries) >= 0.95


def test_hnsw_and_ivf_recall_on_clustered_vectors() -> None:
    rng = np.random.default_rng(1)
    data = clustered(5100, 64, 50, rng)
    ids, vectors, queries = [str(i) for i in range(5000)], data[:5000], data[5000:]
    exact = ExactIndex().build(ids, vectors)
    hnsw = HNSWIndex(M=16, ef_construction=100, ef_search=64).build(ids, vectors)
    assert recall_at_10(hnsw, exact, queries) >= 0.95
    ivf = IVFIndex(nlist=32, nprobe=8).build(ids, vectors)
    assert recall_at_10(ivf, exact, queries) >= 0.95
    # and after a catalog update: removals are masked (HNSW) or deleted (IVF) correctly
    for index in (exact, hnsw, ivf):
        index.remove(ids[::3])
    assert recall_at_10(hnsw, exact, queries) >= 0.95
    assert recall_at_10(ivf, exact, queries) >= 0.95
