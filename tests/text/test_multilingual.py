"""Catalogs in other languages: Chinese keywords through jieba, and multilingual-e5-small giving
sane search and content recommendations on Chinese and mixed-language titles."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pandas as pd
import pytest

from shoprec.data import Catalog, Interactions, Item
from shoprec.index import SemanticSearch
from shoprec.models import ContentBased
from shoprec.pipeline import Pipeline, PipelineConfig, Request
from shoprec.text import extract_keywords, query_terms, words

# Three product groups, each with Chinese, English and mixed titles.
GROUPS = {
    "headphones": [
        ("h1", "无线蓝牙耳机 主动降噪 长续航"),
        ("h2", "头戴式蓝牙耳机 重低音 可折叠"),
        ("h3", "Wireless Bluetooth earbuds with noise cancelling"),
        ("h4", "运动蓝牙耳机 Sports Bluetooth headphones 防水"),
    ],
    "flasks": [
        ("f1", "不锈钢保温杯 500毫升 保冷保热"),
        ("f2", "儿童保温水杯 不锈钢 带吸管"),
        ("f3", "Stainless steel vacuum flask, keeps drinks hot for 12 hours"),
        ("f4", "真空保温壶 Thermos travel mug 1升"),
    ],
    "toys": [
        ("t1", "儿童益智积木玩具 拼装 100块"),
        ("t2", "木质拼图玩具 早教 启蒙"),
        ("t3", "Wooden building blocks for toddlers, educational toy"),
        ("t4", "遥控汽车玩具 RC racing car for kids"),
    ],
}
GROUP_OF = {item: group for group, items in GROUPS.items() for item, _ in items}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    items = [
        Item(item_id, title)  # titles only: no category to give the answer away
        for group, entries in GROUPS.items()
        for item_id, title in entries
    ]
    return Catalog.from_items(items)


def test_chinese_text_is_segmented_into_words() -> None:
    assert words("无线蓝牙耳机") == ["无线", "蓝牙", "耳机"]
    assert words("Wireless 蓝牙耳机 with ANC") == ["Wireless", "蓝牙", "耳机", "with", "ANC"]
    assert words("plain English, no change") == ["plain", "English", "no", "change"]
    # stop words and one-character words go; English and Chinese terms both stay
    assert query_terms("我的 蓝牙耳机 and the case") == ["蓝牙", "耳机", "case"]


def test_chinese_keywords_are_words_not_whole_titles(catalog: Catalog) -> None:
    titles = catalog.frame["title"].tolist()
    keywords = extract_keywords(titles, top_n=3, min_df=1)
    by_item = dict(zip(catalog.item_ids, keywords, strict=True))
    h1 = [term for term, _ in by_item["h1"]]
    assert titles[0] not in h1  # the old tokeniser kept the whole run "无线蓝牙耳机..."
    assert all(len(term) <= 6 for term in h1)
    assert {"无线", "降噪", "续航"} & set(h1) or {"无线蓝牙", "主动降噪"} & set(h1)
    # every Chinese keyword is one segmented word or two neighbouring ones, never a whole run
    for item_id, title in zip(catalog.item_ids, titles, strict=True):
        tokens = [w.lower() for w in words(title)]
        pairs = list(itertools.pairwise(tokens))
        grams = set(tokens) | {a + b for a, b in pairs} | {f"{a} {b}" for a, b in pairs}
        chinese = {term for term, _ in by_item[item_id] if re.search("[\u4e00-\u9fff]", term)}
        assert chinese <= grams, (item_id, by_item[item_id])
    assert any("吸管" in term for term, _ in by_item["f2"])


@pytest.fixture(scope="module")
def search(catalog: Catalog, tmp_path_factory: pytest.TempPathFactory) -> SemanticSearch:
    cache = str(tmp_path_factory.mktemp("cache"))
    return SemanticSearch(encoder="multilingual", cache_dir=cache).fit(catalog)


@pytest.mark.parametrize(
    ("query", "group"),
    [
        ("蓝牙耳机", "headphones"),
        ("降噪耳机", "headphones"),
        ("wireless headphones", "headphones"),
        ("保温杯", "flasks"),
        ("thermos flask", "flasks"),
        ("儿童玩具", "toys"),
        ("toy for children", "toys"),
    ],
)
def test_search_finds_the_right_kind_of_product_across_languages(
    search: SemanticSearch, query: str, group: str
) -> None:
    ids, _ = search.search([query], k=4)
    top = [i for i in ids[0] if i]
    # The two best hits are the right kind of product. (Further down, language pulls: for
    # "thermos flask" English titles of other products come before the Chinese-only flasks.)
    assert [GROUP_OF[i] for i in top[:2]] == [group, group], top


def test_search_crosses_languages(search: SemanticSearch) -> None:
    ids, _ = search.search(["wireless headphones"], k=4)
    assert {"h1", "h2"} & set(ids[0])  # Chinese-only titles found by an English query
    ids, _ = search.search(["toy for children"], k=4)
    assert {"t1", "t2"} & set(ids[0])  # and Chinese toys by an English one


def test_content_recommendations_follow_the_users_taste(
    catalog: Catalog, tmp_path_factory: pytest.TempPathFactory
) -> None:
    rows = [("fan", "h1", 1), ("fan", "h3", 2), ("parent", "t1", 3), ("parent", "f2", 4)]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    frame["event_type"] = "purchase"
    model = ContentBased(encoder="multilingual", cache_dir=str(tmp_path_factory.mktemp("c")))
    model.fit(Interactions(frame), catalog)
    ids, _ = model.recommend(["fan"], k=3)
    assert all(GROUP_OF[i] == "headphones" for i in ids[0][:2]), ids[0]
    assert {"h2", "h4"} <= set(ids[0])


def test_a_pipeline_chooses_the_multilingual_encoder(catalog: Catalog) -> None:
    rows = [(f"u{u}", item_id, u * 10 + t) for u in range(6) for t, item_id in enumerate(
        [e[0] for e in GROUPS[list(GROUPS)[u % 3]]][:3]
    )]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    frame["event_type"] = "view"
    pipeline = Pipeline(PipelineConfig(model="popularity", encoder="multilingual"))
    pipeline.fit(Interactions(frame), catalog)
    hits = pipeline.search("蓝牙耳机", k=3)
    assert all(GROUP_OF[item] == "headphones" for item, _ in hits), hits
    similar = [item for item, _ in pipeline.similar_items("f1", k=2)]
    assert all(GROUP_OF[item] == "flasks" for item in similar), similar
    recs = pipeline.recommend([Request(history=("f1",), k=3)])[0]
    assert recs and np.all([rec.item_id != "f1" for rec in recs])
