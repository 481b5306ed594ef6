"""Latency of the ONNX CTR ranker for one request's candidates, by candidate count, pair length
and thread count (the graph is the same for every fine-tuning mode once LoRA is merged, so a
briefly trained frozen ranker stands in for all). Electronics item texts and user contexts.
Writes benchmarks/results/ctr_latency.json.

    python benchmarks/ctr_latency.py [--repeats 30]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from _results import DATA_DIR, write_results
from shoprec.datasets import load_dataset
from shoprec.profiles import user_context_text
from shoprec.ranking import CTRRanker, OnnxCTRRanker, export_ctr_onnx
from shoprec.text import item_texts

NOTES = """\
One user's context against `candidates` item texts in one call of the int8 ONNX ranker
(`OnnxCTRRanker.predict_proba`), `threads` onnxruntime intra-op threads. With a latency budget,
the pipeline scores candidates in chunks of 10 and stops before a chunk would overrun it.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    args = parser.parse_args()
    data = load_dataset("amazon2023_electronics", data_dir=args.data_dir)
    texts = item_texts(data.catalog)
    titles = data.catalog.frame["title"].tolist()
    rng = np.random.default_rng(0)
    context = user_context_text("Mostly buys Headphones from Sony, premium.", titles[:5])
    rows = []
    for max_length in (64, 96, 128):
        ranker = CTRRanker(mode="frozen", max_epochs=1, max_length=max_length, random_state=0)
        ranker.fit([context] * 64, texts[:64], np.arange(64) % 2)
        with tempfile.TemporaryDirectory() as tmp:
            path = export_ctr_onnx(ranker, Path(tmp) / "onnx")
            for threads in (1, 2):
                served = OnnxCTRRanker(path, num_threads=threads)
                for n in (10, 50):
                    served.predict_proba([context] * n, texts[:n])  # warm-up
                    times = []
                    for _ in range(args.repeats):
                        items = [texts[i] for i in rng.choice(len(texts), n, replace=False)]
                        start = time.perf_counter()
                        served.predict_proba([context] * n, items)
                        times.append((time.perf_counter() - start) * 1000)
                    rows.append({"dataset": "amazon2023_electronics",
                                 "model": f"onnx int8, {n} candidates, {max_length} tokens, "
                                          f"{threads} thread(s)",
                                 "p50_ms": float(np.percentile(times, 50)),
                                 "p99_ms": float(np.percentile(times, 99))})  # fmt: skip
                    print(rows[-1], flush=True)
    write_results("ctr_latency", rows, notes=NOTES)


if __name__ == "__main__":
    main()
