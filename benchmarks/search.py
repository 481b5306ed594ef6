"""Semantic search quality: category-and-brand queries for held-out items.

For 200 items per dataset (seeded sample with a brand and a category), the query is
"<brand> <leaf category>" and the item itself is held out of the index. A hit is a top-10 result
in the held-out item's leaf category (`hr@10`); `precision@10` is the share of such results and
`brand_precision@10` the share with both the category and the brand. Baselines on the same
queries and index: TF-IDF lexical search (scikit-learn) and popularity (query ignored).
Writes benchmarks/results/search.json and RESULTS.md.

    python benchmarks/search.py [--n 200] [--encoders onnx,hashing,minilm]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from _results import DATA_DIR, write_results
from shoprec.data import CATEGORY_SEPARATOR, Dataset
from shoprec.datasets import load_dataset
from shoprec.models import top_k
from shoprec.text import encode_texts, item_texts

DATASETS = ("amazon2023_electronics", "amazon2014_beauty")
NOTES = """\
Each query names a brand and a leaf category ("Anker Portable Power Banks"); the held-out item is
not in the index, so the task is finding other items of that kind. Item texts are the shared
template (title, brand, category path, attributes, price band), so category words are in every
item's text: lexical TF-IDF is a strong baseline here, and the interesting comparison is how
close the dense encoders come and where they win (paraphrases, brand-only matches).
Measured: MiniLM int8 finds an item of the category for 96% / 90.5% of queries (Electronics /
Beauty) against TF-IDF's 95.5% / 87.5% and popularity's 9% / 15%; TF-IDF keeps the edge on
matching the brand too (brand_precision@10 .334 vs .312, .304 vs .264).
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--encoders", default="onnx,hashing")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rows = []
    for name in args.datasets.split(","):
        dataset = load_dataset(name, data_dir=args.data_dir, progress=True)
        frame = dataset.catalog.frame
        leaves = frame["category"].str.split(CATEGORY_SEPARATOR).str[-1].to_numpy()
        brands = frame["brand"].to_numpy()
        eligible = np.flatnonzero((frame["brand"] != "") & (frame["category"] != ""))
        held = np.random.default_rng(args.seed).choice(eligible, size=args.n, replace=False)
        rows += _evaluate(name, dataset, held, leaves, brands, args.encoders.split(","))
        write_results("search", rows, notes=NOTES)


def _evaluate(
    name: str,
    dataset: Dataset,
    held: np.ndarray,
    leaves: np.ndarray,
    brands: np.ndarray,
    encoders: list[str],
) -> list[dict[str, object]]:
    """One row per search method on one dataset's held-out queries."""
    queries = [f"{brands[i]} {leaves[i]}" for i in held]
    texts = item_texts(dataset.catalog)
    scorers = {
        "popularity": lambda: np.tile(_popularity(dataset), (len(held), 1)),
        "tfidf": lambda: _tfidf_scores(texts, queries),
    }
    for encoder in encoders:
        scorers[encoder] = lambda e=encoder: _dense_scores(e, texts, queries)
    rows = []
    for method, score in scorers.items():
        start = time.perf_counter()
        scores = score().astype(np.float32)
        seconds = time.perf_counter() - start
        scores[np.arange(len(held)), held] = -np.inf  # held out of the index
        top, _ = top_k(scores, 10)
        same_leaf = leaves[top] == leaves[held][:, None]
        same_brand = brands[top] == brands[held][:, None]
        rows.append(
            {
                "dataset": name,
                "model": method,
                "queries": len(held),
                "hr@10": float(same_leaf.any(axis=1).mean()),
                "precision@10": float(same_leaf.mean()),
                "brand_precision@10": float((same_leaf & same_brand).mean()),
                "seconds": round(seconds, 1),
            }
        )
        print(rows[-1], flush=True)
    return rows


def _popularity(dataset: Dataset) -> np.ndarray:
    """Training events per catalog item."""
    items = dataset.split.train.frame["item_id"]
    counts = items.value_counts()
    return counts.reindex(dataset.catalog.item_ids, fill_value=0).to_numpy(dtype=np.float32)


def _tfidf_scores(texts: list[str], queries: list[str]) -> np.ndarray:
    vectorizer = TfidfVectorizer(sublinear_tf=True).fit(texts)
    return (vectorizer.transform(queries) @ vectorizer.transform(texts).T).toarray()


def _dense_scores(encoder: str, texts: list[str], queries: list[str]) -> np.ndarray:
    items = encode_texts(encoder, texts, progress=True)
    return encode_texts(encoder, queries) @ items.T


if __name__ == "__main__":
    main()
