"""Item keywords (TF-IDF over catalog text) and tags (brand, category levels, attributes).

Keywords are the terms that single an item out from the rest of its catalog: the highest TF-IDF
weights of its title, description and category path, with English stop words, numbers and
one-letter tokens removed and terms rarer than ``min_df`` documents dropped as noise (typos,
model numbers). :class:`KeywordExtractor` keeps the fitted vocabulary so items added later are
scored against the same catalog.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from shoprec.data import CATEGORY_SEPARATOR, Catalog
from shoprec.exceptions import NotFittedError

__all__ = [
    "TOKEN_PATTERN",
    "KeywordExtractor",
    "catalog_texts",
    "extract_keywords",
    "item_tags",
    "query_terms",
    "words",
]

# Words of two or more characters that start with a letter: drops numbers ("2", "10") and
# one-letter debris while keeping tokens such as "usb3" or "x100".
TOKEN_PATTERN = r"(?u)\b[^\W\d_][^\W_]+\b"
_TOKEN_RE = re.compile(TOKEN_PATTERN)
# N-grams never span these: fields of catalog_texts are joined by newlines, and a bigram across
# "headphones. Electronics" or "black, wireless" is not a phrase.
_PHRASE_BREAK = re.compile(r"[\n.,;:!?|()\[\]{}，。；：！？、（）【】「」]+")
# Chinese (Han) runs have no spaces between words: ``\w+`` would make a whole title one token.
_HAN = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)")
# Function words that jieba returns as words of their own (jieba.analyse's list is longer; these
# are the ones that survive the two-character minimum in product text).
_CHINESE_STOP_WORDS = frozenset(
    [
        "一个",
        "一种",
        "以及",
        "可以",
        "我们",
        "你们",
        "他们",
        "这个",
        "那个",
        "这些",
        "那些",
        "没有",
        "就是",
        "还是",
        "或者",
        "而且",
        "因为",
        "所以",
        "如果",
        "但是",
        "不是",
        "适用",
        "适合",
        "采用",
        "使用",
        "用于",
        "进行",
        "通过",
        "非常",
        "更加",
    ]
)

Keywords = list[tuple[str, float]]


@functools.cache
def _stop_words() -> frozenset[str]:
    # scikit-learn takes over a second to import: only pay for it when text is analysed
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | _CHINESE_STOP_WORDS


def catalog_texts(catalog: Catalog) -> list[str]:
    """The text each item is described by: title, description and category path.

    Parameters
    ----------
    catalog
        The items, in catalog order.

    Returns
    -------
    list of str
        One text per item, ``len(catalog)`` long: the fields on separate lines so that keyword
        n-grams do not run from one field into the next; category levels are joined by spaces.
    """
    frame = catalog.frame
    categories = frame["category"].str.replace(CATEGORY_SEPARATOR, " ", regex=False)
    parts = zip(frame["title"], frame["description"], categories, strict=True)
    return ["\n".join(p for p in row if p) for row in parts]


class KeywordExtractor:
    """TF-IDF keywords per document, fitted on a catalog's texts.

    Parameters
    ----------
    top_n
        Keywords kept per document, highest TF-IDF weight first.
    min_df
        Minimum number of documents (int) or share of documents (float) a term must occur in;
        rarer terms are noise. An int larger than the corpus is lowered to the corpus size so
        that tiny catalogs still yield keywords.
    max_df
        Maximum share of documents a term may occur in; 1.0 keeps all (frequent terms already get
        a low inverse document frequency).
    ngram_range
        Word n-gram lengths; unigrams and bigrams by default.
    """

    def __init__(
        self,
        *,
        top_n: int = 5,
        min_df: int | float = 2,
        max_df: float = 1.0,
        ngram_range: tuple[int, int] = (1, 2),
    ) -> None:
        self.top_n = top_n
        self.min_df = min_df
        self.max_df = max_df
        self.ngram_range = ngram_range

    def fit(self, texts: Sequence[str]) -> KeywordExtractor:
        """Learn the vocabulary and inverse document frequencies of ``texts``; returns self."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        min_df = self.min_df
        if isinstance(min_df, int) and not isinstance(min_df, bool):
            min_df = max(1, min(min_df, len(texts)))
        self.vectorizer_: Any = TfidfVectorizer(
            analyzer=functools.partial(_analyze, ngram_range=self.ngram_range),
            min_df=min_df,
            max_df=self.max_df,
            sublinear_tf=True,  # a word repeated in a description should not dominate the title
        )
        try:
            self.vectorizer_.fit(list(texts))
        except ValueError:  # empty vocabulary: no text, or only stop words and numbers
            self.vectorizer_ = None
        return self

    def transform(self, texts: Sequence[str]) -> list[Keywords]:
        """The top keywords of each text with their TF-IDF weight, highest first.

        Ties are broken alphabetically so results are deterministic. Terms unknown to the fitted
        vocabulary are ignored; a text without known terms gets an empty list.
        """
        if not hasattr(self, "vectorizer_"):
            raise NotFittedError("KeywordExtractor.transform called before fit")
        if self.vectorizer_ is None:
            return [[] for _ in texts]
        matrix = self.vectorizer_.transform(list(texts)).tocsr()
        terms = self.vectorizer_.get_feature_names_out()
        result: list[Keywords] = []
        for row in range(matrix.shape[0]):
            start, end = matrix.indptr[row], matrix.indptr[row + 1]
            columns, weights = matrix.indices[start:end], matrix.data[start:end]
            # lexsort's last key is primary: weight descending, then the term
            order = np.lexsort((terms[columns], -weights))[: self.top_n]
            result.append([(str(terms[columns[i]]), float(weights[i])) for i in order])
        return result

    def fit_transform(self, texts: Sequence[str]) -> list[Keywords]:
        """:meth:`fit` then :meth:`transform` on the same texts."""
        return self.fit(texts).transform(texts)


def extract_keywords(
    texts: Sequence[str],
    *,
    top_n: int = 5,
    min_df: int | float = 2,
    max_df: float = 1.0,
    ngram_range: tuple[int, int] = (1, 2),
) -> list[Keywords]:
    """TF-IDF keywords of each text, fitted on ``texts`` themselves.

    Parameters
    ----------
    texts
        One document per item, e.g. :func:`catalog_texts`.
    top_n, min_df, max_df, ngram_range
        As in :class:`KeywordExtractor`.

    Returns
    -------
    list of list of (str, float)
        Per text, up to ``top_n`` ``(term, weight)`` pairs, highest weight first.
    """
    extractor = KeywordExtractor(top_n=top_n, min_df=min_df, max_df=max_df, ngram_range=ngram_range)
    return extractor.fit_transform(texts)


@functools.cache
def _jieba() -> Any:
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)  # it prints a line per dictionary load otherwise
    return jieba


def words(text: str) -> list[str]:
    """The word tokens of ``text`` in order: letters-first words of two or more characters
    (:data:`TOKEN_PATTERN`), with runs of Chinese characters segmented into words by ``jieba``
    (words of one character, mostly function words, dropped). Not lower-cased.

    Examples
    --------
    >>> words("Wireless 蓝牙耳机 with ANC")  # doctest: +SKIP
    ['Wireless', '蓝牙', '耳机', 'with', 'ANC']
    """
    if not _HAN.search(text):
        return _TOKEN_RE.findall(text)
    out: list[str] = []
    for part in _HAN.split(text):
        if _HAN.fullmatch(part):
            out += [w for w in _jieba().lcut(part) if len(w) > 1]
        elif part:
            out += _TOKEN_RE.findall(part)
    return out


def _analyze(text: str, *, ngram_range: tuple[int, int]) -> list[str]:
    """Lower-cased n-grams of content words, formed within each phrase of ``text``."""
    low, high = ngram_range
    grams: list[str] = []
    stop_words = _stop_words()
    for phrase in _PHRASE_BREAK.split(text.lower()):
        words_ = [t for t in words(phrase) if t not in stop_words]
        for n in range(low, high + 1):
            windows = (words_[i : i + n] for i in range(len(words_) - n + 1))
            # "charge charge" is a stutter in a title, not a phrase
            grams += [_join(w) for w in windows if n == 1 or len(set(w)) == n]
    return grams


def _join(gram: list[str]) -> str:
    """An n-gram as written: Chinese words run together, others take spaces."""
    return "".join(gram) if all(_HAN.fullmatch(w) for w in gram) else " ".join(gram)


def query_terms(text: str) -> list[str]:
    """The content words of a search query: lower-cased tokens without stop words or numbers.

    Repeated words are kept once, in order of first appearance.
    """
    tokens = words(text.lower())
    stop_words = _stop_words()
    return list(dict.fromkeys(t for t in tokens if t not in stop_words))


def item_tags(catalog: Catalog) -> list[list[str]]:
    """Structured tags per item: brand, each category level, and attributes as ``key:value``.

    Brand and category levels appear as their plain values (``"Sony"``, ``"Headphones"``);
    attributes are ``"key:value"`` in key order. Empty values are left out and duplicates kept
    once, in that order.

    Parameters
    ----------
    catalog
        The items, in catalog order.

    Returns
    -------
    list of list of str
        One list per item, ``len(catalog)`` long.
    """
    frame = catalog.frame
    rows = zip(frame["brand"], frame["category"], frame["attributes"], strict=True)
    tags: list[list[str]] = []
    for brand, category, attributes in rows:
        values = [brand.strip()]
        values += [level.strip() for level in category.split(CATEGORY_SEPARATOR)]
        parsed = json.loads(attributes) if attributes else {}
        values += [f"{key}:{parsed[key]}" for key in sorted(parsed) if str(parsed[key]).strip()]
        tags.append(list(dict.fromkeys(v for v in values if v)))
    return tags
