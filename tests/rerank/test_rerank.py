"""Re-ranking: MMR and DPP on tiny known answers and against from-scratch references, caps,
business rules, exclusions and the per-request Reranker."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoprec.data import Catalog, Item
from shoprec.exceptions import ValidationError
from shoprec.metrics import intra_list_diversity
from shoprec.rerank import (
    BusinessRules,
    Caps,
    ItemAttributes,
    RerankConfig,
    Reranker,
    capped_top_k,
    dpp,
    keep_mask,
    mmr,
)

DIVERSIFIERS = [mmr, dpp]

# Two clusters: three near-duplicates along x with high scores, two along y with low ones.
CLUSTER_SCORES = np.array([1.0, 0.95, 0.9, 0.5, 0.45])
CLUSTER_VECTORS = np.array([[1.0, 0.0], [0.99, 0.1], [0.98, 0.15], [0.0, 1.0], [0.1, 0.99]])


# -- independent references (from scratch, slow) -------------------------------------------------
def _reference_mmr(scores: np.ndarray, vectors: np.ndarray, k: int, weight: float) -> list[int]:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    relevance = (scores - scores.min()) / (scores.max() - scores.min())
    picked = [int(np.argmax(scores))]
    while len(picked) < k:
        best, best_value = -1, -np.inf
        for i in range(len(scores)):
            if i in picked:
                continue
            value = (1 - weight) * relevance[i] - weight * max(unit[i] @ unit[j] for j in picked)
            if value > best_value:
                best, best_value = i, value
        picked.append(best)
    return picked


def _reference_dpp(scores: np.ndarray, vectors: np.ndarray, k: int, weight: float) -> list[int]:
    """Greedy MAP by log-determinants of L computed from scratch at every step."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    relevance = (scores - scores.min()) / (scores.max() - scores.min())
    quality = np.exp((1 - weight) / (2 * weight) * relevance)
    kernel = quality[:, None] * (unit @ unit.T) * quality[None, :]
    picked: list[int] = []
    while len(picked) < k:
        gains = np.full(len(scores), -np.inf)
        for i in set(range(len(scores))) - set(picked):
            subset = [*picked, i]
            gains[i] = np.linalg.slogdet(kernel[np.ix_(subset, subset)])[1]
        # Near-ties (all gains equal at the first step of diversity 1) go to the higher score.
        tied = gains >= gains.max() - 1e-9
        picked.append(int(np.argmax(np.where(tied, scores, -np.inf))))
    return picked


# -- diversity functions -------------------------------------------------------------------------
@pytest.mark.parametrize("rerank", [*DIVERSIFIERS, None])
def test_diversity_zero_is_relevance_order_with_ties_by_position(rerank: object) -> None:
    scores = np.array([1.0, 3.0, 3.0, 2.0, 3.0])
    vectors = np.eye(5)
    if rerank is None:
        picked = capped_top_k(scores, k=4)
    else:
        picked = rerank(scores, vectors, k=4, diversity=0.0)  # type: ignore[operator]
    np.testing.assert_array_equal(picked, [1, 2, 4, 3])


def test_mmr_two_clusters_known_answer() -> None:
    # Step 2 at diversity 0.5: a near-duplicate scores 0.5 * 0.909 - 0.5 * 0.995 < 0, the best of
    # the other cluster 0.5 * 0.091 - 0 > 0.
    picked = mmr(CLUSTER_SCORES, CLUSTER_VECTORS, k=3, diversity=0.5)
    np.testing.assert_array_equal(picked, [0, 3, 1])
    # Pure novelty: after the most relevant, the candidate least similar to the picked ones.
    np.testing.assert_array_equal(mmr(CLUSTER_SCORES, CLUSTER_VECTORS, k=2, diversity=1.0), [0, 3])


@pytest.mark.parametrize("rerank", DIVERSIFIERS)
def test_diversity_raises_intra_list_diversity(rerank: object) -> None:
    plain = capped_top_k(CLUSTER_SCORES, k=3)
    diverse = rerank(CLUSTER_SCORES, CLUSTER_VECTORS, k=3, diversity=0.5)  # type: ignore[operator]
    np.testing.assert_array_equal(plain, [0, 1, 2])
    assert 3 in diverse and 0 in diverse
    before = intra_list_diversity(plain[None, :], embeddings=CLUSTER_VECTORS)
    after = intra_list_diversity(diverse[None, :], embeddings=CLUSTER_VECTORS)
    assert after > before + 0.3


@pytest.mark.parametrize("weight", [0.1, 0.5, 0.9, 1.0])
def test_mmr_matches_reference(weight: float) -> None:
    rng = np.random.default_rng(3)
    scores, vectors = rng.normal(size=12), rng.normal(size=(12, 4))
    picked = mmr(scores, vectors, k=6, diversity=weight)
    assert picked.tolist() == _reference_mmr(scores, vectors, 6, weight)


@pytest.mark.parametrize("weight", [0.2, 0.5, 1.0])
def test_dpp_matches_greedy_log_determinants_from_scratch(weight: float) -> None:
    rng = np.random.default_rng(5)
    scores, vectors = rng.normal(size=12), rng.normal(size=(12, 8))
    picked = dpp(scores, vectors, k=6, diversity=weight)
    assert picked.tolist() == _reference_dpp(scores, vectors, 6, weight)


def test_dpp_fills_in_relevance_order_once_the_kernel_is_spanned() -> None:
    # Rank-2 kernel: after two picks nothing adds volume; the zero vector never does.
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [1.0, 1.0]])
    picked = dpp(scores, vectors, k=5, diversity=0.5)
    np.testing.assert_array_equal(picked, [0, 2, 1, 3, 4])


@pytest.mark.parametrize("rerank", DIVERSIFIERS)
def test_caps_are_honoured_exactly(rerank: object) -> None:
    scores = np.array([6.0, 5.0, 4.0, 3.0, 2.0, 1.0])
    vectors = np.eye(6)
    category = np.array([0, 0, 0, 1, 1, -1])  # -1: no category, never capped
    brand = np.array([0, 1, 0, 1, 2, 2])
    picked = rerank(  # type: ignore[operator]
        scores, vectors, k=6, diversity=0.0, group_caps=[(category, 1), (brand, 1)]
    )
    # 1 and 2 share category 0 with 0, 4 shares category 1 with 3, 5's brand is then free.
    np.testing.assert_array_equal(picked, [0, 3, 5])
    picked = capped_top_k(scores, k=6, group_caps=[(category, 2)])
    np.testing.assert_array_equal(picked, [0, 1, 3, 4, 5])


@pytest.mark.parametrize("rerank", DIVERSIFIERS)
def test_fewer_candidates_than_k(rerank: object) -> None:
    picked = rerank(CLUSTER_SCORES[:2], CLUSTER_VECTORS[:2], k=10, diversity=0.3)  # type: ignore[operator]
    assert sorted(picked.tolist()) == [0, 1]
    empty = rerank(np.zeros(0), np.zeros((0, 2)), k=3, diversity=0.3)  # type: ignore[operator]
    assert empty.shape == (0,)


@pytest.mark.parametrize("rerank", DIVERSIFIERS)
@pytest.mark.parametrize(
    ("scores", "vectors", "kwargs", "field"),
    [
        ([1.0, np.nan], np.eye(2), {}, "scores"),
        ([1.0, np.inf], np.eye(2), {}, "scores"),
        ([[1.0, 2.0]], np.eye(2), {}, "scores"),
        ([1.0, 2.0], np.eye(3), {}, "embeddings"),
        ([1.0, 2.0], [[1.0, np.nan], [0.0, 1.0]], {}, "embeddings"),
        ([1.0, 2.0], np.eye(2), {"k": 0}, "k"),
        ([1.0, 2.0], np.eye(2), {"k": True}, "k"),
        ([1.0, 2.0], np.eye(2), {"diversity": 1.5}, "diversity"),
        ([1.0, 2.0], np.eye(2), {"diversity": float("nan")}, "diversity"),
        ([1.0, 2.0], np.eye(2), {"group_caps": [(np.array([0]), 1)]}, "group_caps"),
        ([1.0, 2.0], np.eye(2), {"group_caps": [(np.array([0, 1]), 0)]}, "group_caps"),
    ],
)
def test_validation_names_the_field(
    rerank: object, scores: object, vectors: object, kwargs: dict[str, object], field: str
) -> None:
    arguments: dict[str, object] = {"k": 2, "diversity": 0.5, **kwargs}
    with pytest.raises(ValidationError) as error:
        rerank(np.asarray(scores), np.asarray(vectors), **arguments)  # type: ignore[operator]
    assert error.value.field == field


@st.composite
def _requests(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int, float, np.ndarray, int]:
    n = draw(st.integers(0, 25))
    # Few distinct score values, so ties are common.
    scores = np.array(draw(st.lists(st.integers(0, 4), min_size=n, max_size=n)), dtype=float)
    dim = draw(st.integers(1, 4))
    values = st.floats(-2, 2, allow_nan=False).map(lambda v: round(v, 1))
    flat = draw(st.lists(values, min_size=n * dim, max_size=n * dim))
    vectors = np.array(flat, dtype=float).reshape(n, dim)
    groups = np.array(draw(st.lists(st.integers(-1, 3), min_size=n, max_size=n)), dtype=np.int64)
    return (
        scores,
        vectors,
        draw(st.integers(1, 30)),
        draw(st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0])),
        groups,
        draw(st.integers(1, 3)),
    )


@settings(max_examples=150, deadline=None)
@given(request=_requests(), use_dpp=st.booleans())
def test_properties_of_the_picked_positions(
    request: tuple[np.ndarray, np.ndarray, int, float, np.ndarray, int], use_dpp: bool
) -> None:
    scores, vectors, k, weight, groups, limit = request
    rerank = dpp if use_dpp else mmr
    picked = rerank(scores, vectors, k=k, diversity=weight)
    assert len(picked) == min(k, len(scores))
    assert len(set(picked.tolist())) == len(picked)
    assert ((picked >= 0) & (picked < len(scores))).all()
    if weight == 0.0:
        expected = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:k]
        assert picked.tolist() == expected
    capped = rerank(scores, vectors, k=k, diversity=weight, group_caps=[(groups, limit)])
    assert len(set(capped.tolist())) == len(capped) <= min(k, len(scores))
    counts = np.bincount(groups[capped][groups[capped] >= 0], minlength=4)
    assert (counts <= limit).all()
    if len(capped) < min(k, len(scores)):  # stopped early: everything left is capped out
        left = np.setdiff1d(np.arange(len(scores)), capped)
        assert ((groups[left] >= 0) & (counts[groups[left]] >= limit)).all()


# -- attributes and rules ------------------------------------------------------------------------
@pytest.fixture
def catalog() -> Catalog:
    """Headphones (x direction), lenses (y direction) and one kitchen item without a price."""
    headphones = ("Electronics", "Audio", "Headphones")
    lenses = ("Electronics", "Camera", "Lenses")
    items = [
        Item("h1", "Headphones 1", brand="Sony", category=headphones, price=100.0),
        Item("h2", "Headphones 2", brand="sony", category=headphones, price=90.0),
        Item("h3", "Headphones 3", brand="Bose", category=headphones, price=300.0),
        Item("l1", "Lens 1", brand="Canon", category=lenses, price=500.0),
        Item("l2", "Lens 2", brand="Sony", category=lenses, price=50.0),
        Item("k1", "Kettle", category=("Home", "Kitchen")),
    ]
    return Catalog.from_items(items)


EMBEDDINGS = np.array([[1.0, 0.0], [0.99, 0.1], [0.98, 0.15], [0.0, 1.0], [0.1, 0.99], [0.7, 0.7]])
POPULARITY = np.array([50.0, 40.0, 30.0, 5.0, 1.0, 20.0])


def test_item_attributes_from_catalog(catalog: Catalog) -> None:
    attributes = ItemAttributes.from_catalog(catalog, out_of_stock=["h2", "not-in-catalog"])
    assert len(attributes) == 6 and "l1" in attributes and "zz" not in attributes
    assert attributes.categories.tolist() == ["Headphones"] * 3 + ["Lenses"] * 2 + ["Kitchen"]
    assert attributes.in_stock.tolist() == [True, False, True, True, True, True]
    assert np.isnan(attributes.prices[5]) and attributes.prices[0] == 100.0
    np.testing.assert_array_equal(attributes.rows(["l2", "zz", "h1"]), [4, -1, 0])
    # Brands group case-insensitively; an unknown brand has no group.
    assert attributes.brand_codes[0] == attributes.brand_codes[1] == attributes.brand_codes[4]
    assert attributes.brand_codes[5] == -1
    assert (
        attributes.category_codes[0] == attributes.category_codes[2] != attributes.category_codes[3]
    )


def test_item_attributes_reject_misaligned_arrays() -> None:
    blank = np.array(["", ""], dtype=object)
    in_stock = np.array([True, True])
    with pytest.raises(ValidationError) as error:
        ItemAttributes(np.array(["a", "b"]), blank, blank, np.array([1.0]), in_stock)
    assert error.value.field == "prices"
    with pytest.raises(ValidationError, match="unique"):
        ItemAttributes(np.array(["a", "a"]), blank, blank, np.array([1.0, 2.0]), in_stock)


@pytest.mark.parametrize(
    ("rules", "kept"),
    [
        (BusinessRules(), ["h1", "h3", "l1", "l2", "k1"]),  # h2 is out of stock
        (BusinessRules(allow_out_of_stock=True), ["h1", "h2", "h3", "l1", "l2", "k1"]),
        (BusinessRules(include_categories={"AUDIO"}), ["h1", "h3"]),  # any level, any case
        (BusinessRules(include_categories={"lenses", "kitchen"}), ["l1", "l2", "k1"]),
        (BusinessRules(include_categories={"Garden"}), []),
        (BusinessRules(exclude_categories=" electronics "), ["k1"]),  # a single name
        (BusinessRules(min_price=90.0, max_price=300.0), ["h1", "h3", "k1"]),  # bounds inclusive
        (BusinessRules(max_price=100.0, keep_unknown_price=False), ["h1", "l2"]),
        (BusinessRules(exclude_item_ids={"h1", "zz"}), ["h3", "l1", "l2", "k1"]),
    ],
)
def test_business_rules(catalog: Catalog, rules: BusinessRules, kept: list[str]) -> None:
    attributes = ItemAttributes.from_catalog(catalog, out_of_stock=["h2"])
    rows = np.arange(len(attributes))
    mask = keep_mask(attributes, rows, rules)
    assert attributes.item_ids[mask].tolist() == kept


def test_platform_rule_keeps_one_shops_items() -> None:
    blank = np.array([""] * 4, dtype=object)
    attributes = ItemAttributes(
        np.array(["w1", "a1", "w2", "x1"]), blank, blank, np.full(4, np.nan), np.ones(4, bool),
        platforms=np.array(["web", "app", "web", ""], dtype=object),
    )  # fmt: skip
    rows = np.arange(4)
    cases = {"web": ["w1", "w2"], "app": ["a1"], "shop": [], None: ["w1", "a1", "w2", "x1"]}
    for platform, kept in cases.items():
        mask = keep_mask(attributes, rows, BusinessRules(platform=platform))
        assert attributes.item_ids[mask].tolist() == kept
    with pytest.raises(ValidationError, match="platforms"):
        ItemAttributes(np.array(["a"]), blank[:1], blank[:1], np.ones(1), np.ones(1, bool),
                       platforms=np.array(["web", "app"]))  # fmt: skip


@pytest.mark.parametrize(
    ("factory", "field"),
    [
        (lambda: BusinessRules(min_price=10.0, max_price=5.0), "min_price"),
        (lambda: BusinessRules(max_price=float("nan")), "max_price"),
        (lambda: BusinessRules(include_categories=[1]), "include_categories"),  # type: ignore[list-item]
        (lambda: Caps(max_per_brand=0), "max_per_brand"),
        (lambda: RerankConfig(method="random"), "method"),
        (lambda: RerankConfig(diversity=-0.1), "diversity"),
        (lambda: RerankConfig(novelty_weight=-1.0), "novelty_weight"),
    ],
)
def test_configuration_is_validated(factory: object, field: str) -> None:
    with pytest.raises(ValidationError) as error:
        factory()  # type: ignore[operator]
    assert error.value.field == field


# -- the reranker --------------------------------------------------------------------------------
def _reranker(catalog: Catalog, **config: object) -> Reranker:
    attributes = ItemAttributes.from_catalog(catalog, out_of_stock=["h2"])
    return Reranker(RerankConfig(**config), attributes, EMBEDDINGS, POPULARITY)  # type: ignore[arg-type]


IDS = np.array(["h1", "h2", "h3", "l1", "l2", "k1"], dtype=object)
SCORES = np.array([10.0, 9.5, 9.0, 5.0, 4.0, 1.0])


@pytest.mark.parametrize("method", ["none", "mmr", "dpp"])
def test_diversity_zero_is_plain_top_k(catalog: Catalog, method: str) -> None:
    ids, scores = _reranker(catalog, method=method).rerank(IDS, SCORES, k=3)
    assert ids.tolist() == ["h1", "h3", "l1"]  # h2 is out of stock
    np.testing.assert_allclose(scores, [1.0, 8 / 9, 4 / 9])  # min-max over the allowed


@pytest.mark.parametrize("method", ["mmr", "dpp"])
def test_diversity_raises_intra_list_diversity_of_the_list(catalog: Catalog, method: str) -> None:
    reranker = _reranker(catalog, method=method, diversity=0.5)
    attributes = reranker.attributes
    plain, _ = reranker.rerank(IDS, SCORES, k=2, diversity=0.0)  # the request overrides
    diverse, _ = reranker.rerank(IDS, SCORES, k=2)
    assert plain.tolist() == ["h1", "h3"] and diverse.tolist() == ["h1", "l1"]
    lists = np.stack([attributes.rows(plain), attributes.rows(diverse)])
    by_category = [
        intra_list_diversity(row[None, :], categories=attributes.category_codes) for row in lists
    ]
    assert by_category == [0.0, 1.0]
    by_embedding = [intra_list_diversity(row[None, :], embeddings=EMBEDDINGS) for row in lists]
    assert by_embedding[1] > by_embedding[0] + 0.5


@pytest.mark.parametrize("method", ["mmr", "dpp"])
def test_pool_limits_diversification_to_the_most_relevant(catalog: Catalog, method: str) -> None:
    diverse, _ = _reranker(catalog, method=method, diversity=1.0).rerank(IDS, SCORES, k=2)
    pooled, _ = _reranker(catalog, method=method, diversity=1.0, pool=2).rerank(IDS, SCORES, k=2)
    assert "l1" in diverse.tolist()
    assert sorted(pooled.tolist()) == ["h1", "h3"]  # the two most relevant allowed items


def test_caps_in_the_reranker(catalog: Catalog) -> None:
    caps = Caps(max_per_category=1, max_per_brand=1)
    reranker = _reranker(catalog, caps=caps)
    ids, _ = reranker.rerank(IDS, SCORES, k=6, rules=BusinessRules(allow_out_of_stock=True))
    # h1 takes Headphones and Sony; l1 (Canon) takes Lenses; k1 has no brand.
    assert ids.tolist() == ["h1", "l1", "k1"]
    ids, _ = _reranker(catalog, method="dpp", caps=Caps(max_per_brand=1)).rerank(IDS, SCORES, k=6)
    assert ids.tolist() == ["h1", "h3", "l1", "k1"]  # h2 is out of stock, l2 a second Sony


def test_exclusions_seen_rules_and_unknown_ids(catalog: Catalog) -> None:
    reranker = _reranker(catalog)
    ids, _ = reranker.rerank(IDS, SCORES, k=6, seen=["h1", "l1"])
    assert ids.tolist() == ["h3", "l2", "k1"]
    ids, _ = _reranker(catalog, exclude_seen=False).rerank(IDS, SCORES, k=2, seen=["h1"])
    assert ids.tolist() == ["h1", "h3"]
    rules = BusinessRules(include_categories={"camera"}, max_price=100.0)
    ids, _ = reranker.rerank(IDS, SCORES, k=6, rules=rules)
    assert ids.tolist() == ["l2"]
    # Unknown ids, padding, -inf scores and repeats are dropped; fewer than k come back.
    candidates = np.array(["zz", "l1", "", "l2", "l1", "k1"], dtype=object)
    scores = np.array([99.0, 3.0, 5.0, 2.0, 8.0, -np.inf])
    ids, values = reranker.rerank(candidates, scores, k=5)
    assert ids.tolist() == ["l1", "l2"]
    np.testing.assert_allclose(values, [1.0, 0.0])
    with pytest.raises(ValidationError) as error:
        reranker.rerank(candidates, scores, k=5, strict=True)
    assert (error.value.field, error.value.row) == ("candidate_ids", 1)


@pytest.mark.parametrize(
    ("candidates", "scores", "kwargs", "field"),
    [
        (IDS, SCORES[:3], {}, "scores"),
        (IDS, np.where(SCORES > 9.8, np.nan, SCORES), {}, "scores"),
        (IDS, SCORES, {"diversity": 2.0}, "diversity"),
        (IDS, SCORES, {"k": -1}, "k"),
    ],
)
def test_rerank_validates_requests(
    catalog: Catalog,
    candidates: np.ndarray,
    scores: np.ndarray,
    kwargs: dict[str, object],
    field: str,
) -> None:
    arguments: dict[str, object] = {"k": 3, **kwargs}
    with pytest.raises(ValidationError) as error:
        _reranker(catalog, method="mmr").rerank(candidates, scores, **arguments)  # type: ignore[arg-type]
    assert error.value.field == field


def test_novelty_boost_lifts_the_long_tail(catalog: Catalog) -> None:
    candidates = np.array(["h1", "l2"], dtype=object)
    scores = np.array([1.0, 0.9])
    ids, _ = _reranker(catalog).rerank(candidates, scores, k=2)
    assert ids.tolist() == ["h1", "l2"]
    # l2 has 1 event of 146: the rarest item, novelty 1; h1 the most popular, novelty 0.
    ids, values = _reranker(catalog, novelty_weight=1.5).rerank(candidates, scores, k=2)
    assert ids.tolist() == ["l2", "h1"]
    np.testing.assert_allclose(values, [1.5, 1.0])


def test_reranker_needs_embeddings_and_popularity_for_its_config(catalog: Catalog) -> None:
    attributes = ItemAttributes.from_catalog(catalog)
    with pytest.raises(ValidationError) as error:
        Reranker(RerankConfig(method="dpp"), attributes)
    assert error.value.field == "embeddings_by_row"
    with pytest.raises(ValidationError) as error:
        Reranker(RerankConfig(novelty_weight=0.2), attributes, EMBEDDINGS)
    assert error.value.field == "popularity_by_row"
    with pytest.raises(ValidationError) as error:
        Reranker(RerankConfig(), attributes, EMBEDDINGS[:3])
    assert error.value.field == "embeddings_by_row"
    ids, _ = Reranker(RerankConfig(), attributes).rerank(IDS, SCORES, k=1)
    assert ids.tolist() == ["h1"]


def test_in_stock_attribute_marks_items_out_of_stock() -> None:
    values = {"a": "0", "b": "false", "c": "12", "d": "No", "e": "yes", "f": None, "g": "-1"}
    items = [
        Item(item_id, item_id, attributes={} if value is None else {"in_stock": value})
        for item_id, value in values.items()
    ]
    attributes = ItemAttributes.from_catalog(Catalog.from_items(items), out_of_stock=["e"])
    gone = sorted(attributes.item_ids[~attributes.in_stock])
    assert gone == ["a", "b", "d", "e", "g"]
    kept = keep_mask(attributes, np.arange(len(items)), BusinessRules())
    assert sorted(attributes.item_ids[kept]) == ["c", "f"]
    allowed = keep_mask(attributes, np.arange(len(items)), BusinessRules(allow_out_of_stock=True))
    assert allowed.all()
