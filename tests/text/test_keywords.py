"""TF-IDF keywords and structured tags of items: known answers on tiny catalogs."""

from __future__ import annotations

import math

import pytest

from shoprec.data import Catalog, Item
from shoprec.exceptions import NotFittedError
from shoprec.text import (
    KeywordExtractor,
    catalog_texts,
    extract_keywords,
    item_tags,
    query_terms,
)


def _assert_keywords(actual: list[tuple[str, float]], expected: list[tuple[str, float]]) -> None:
    assert [term for term, _ in actual] == [term for term, _ in expected]
    assert [w for _, w in actual] == pytest.approx([w for _, w in expected])


def _idf(n_docs: int, df: int) -> float:
    """scikit-learn's smoothed inverse document frequency."""
    return math.log((1 + n_docs) / (1 + df)) + 1


def test_equal_weights_tie_break_alphabetically_and_rare_bigrams_are_dropped() -> None:
    texts = ["red apple pie", "green apple pie", "red cherry tart", "green cherry tart"]
    keywords = extract_keywords(texts, top_n=10, min_df=2)
    # every surviving term occurs in 2 of 4 texts, so all weigh the same; "red apple" occurs once
    _assert_keywords(keywords[0], [("apple", 0.5), ("apple pie", 0.5), ("pie", 0.5), ("red", 0.5)])
    assert [term for term, _ in keywords[3]] == ["cherry", "cherry tart", "green", "tart"]


def test_distinctive_terms_rank_first_with_known_weights() -> None:
    texts = ["usb cable", "usb cable", "usb charger", "usb charger", "hdmi cable", "hdmi cable"]
    keywords = extract_keywords(texts, top_n=3, min_df=2)
    common, rare = _idf(6, 4), _idf(6, 2)  # usb / cable in 4 texts; charger, bigram in 2
    norm = math.sqrt(common**2 + 2 * rare**2)
    _assert_keywords(
        keywords[2],
        [("charger", rare / norm), ("usb charger", rare / norm), ("usb", common / norm)],
    )


def test_noise_is_dropped_stop_words_numbers_and_singletons() -> None:
    texts = ["The 2 usb cables", "usb cables for the car", "usb cabels", "car charger", "car"]
    terms = {term for row in extract_keywords(texts, top_n=10, min_df=2) for term, _ in row}
    assert terms == {"usb", "cables", "usb cables", "car"}  # no "the", "2", "for", typo "cabels"


def test_bigrams_do_not_cross_fields_or_punctuation_or_repeat_a_word() -> None:
    texts = ["black, wireless\nheadphones headphones", "black, wireless\nheadphones"]
    terms = {term for row in extract_keywords(texts, top_n=10, min_df=1) for term, _ in row}
    assert terms == {"black", "wireless", "headphones"}


def test_top_n_limits_and_orders_by_weight() -> None:
    texts = ["alpha beta gamma delta", "alpha beta", "alpha"]
    keywords = extract_keywords(texts, top_n=2, min_df=1, ngram_range=(1, 1))
    assert [len(row) for row in keywords] == [2, 2, 1]
    assert all(row[0][1] >= row[-1][1] for row in keywords)
    assert keywords[2] == [("alpha", pytest.approx(1.0))]


def test_empty_vocabulary_gives_empty_lists() -> None:
    assert extract_keywords(["the and", "of", ""]) == [[], [], []]
    assert extract_keywords([]) == []


def test_extractor_scores_new_texts_against_the_fitted_vocabulary() -> None:
    extractor = KeywordExtractor(top_n=5, min_df=1, ngram_range=(1, 1)).fit(
        ["usb cable", "hdmi cable", "usb charger"]
    )
    new = extractor.transform(["usb toaster", "toaster"])
    assert [term for term, _ in new[0]] == ["usb"]  # "toaster" was never seen
    assert new[1] == []


def test_transform_before_fit_raises() -> None:
    with pytest.raises(NotFittedError):
        KeywordExtractor().transform(["usb"])


def _catalog() -> Catalog:
    return Catalog.from_items(
        [
            Item(
                "a",
                "Wireless headphones",
                description="Noise cancelling",
                brand="Sony",
                category=("Electronics", "Audio", "Headphones"),
                attributes={"colour": "black", "connection": "bluetooth"},
            ),
            Item("b", "Cable", category=("Electronics",)),
            Item("c", "Mystery box"),
        ]
    )


def test_catalog_texts_join_title_description_and_category_path() -> None:
    assert catalog_texts(_catalog()) == [
        "Wireless headphones\nNoise cancelling\nElectronics Audio Headphones",
        "Cable\nElectronics",
        "Mystery box",
    ]


def test_item_tags_list_brand_category_levels_and_attributes() -> None:
    assert item_tags(_catalog()) == [
        ["Sony", "Electronics", "Audio", "Headphones", "colour:black", "connection:bluetooth"],
        ["Electronics"],
        [],
    ]


def test_query_terms_keep_content_words_once() -> None:
    assert query_terms("The best wireless headphones for 2024, wireless!") == [
        "best",
        "wireless",
        "headphones",
    ]
    assert query_terms("") == []
