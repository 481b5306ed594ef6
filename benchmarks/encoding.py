"""Text encoding benchmark: MiniLM in torch fp32 vs ONNX Runtime fp32 and int8, on item texts.

Encodes N real item texts (the Amazon 2023 Electronics subset's catalog through the item text
template, or the synthetic shop when the dataset is absent) with each backend on the same
threads, batch 64, and reports throughput (texts/s), speed-up over torch fp32, cosine agreement
with torch fp32, and one-text latency. Writes benchmarks/results/encoding.json and the `encoding`
section of benchmarks/RESULTS.md.

    python benchmarks/encoding.py [--n 2000] [--threads 2] [--texts items|titles]
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import cast

import numpy as np

from _results import write_results
from shoprec.data import Dataset
from shoprec.exceptions import DatasetNotFoundError
from shoprec.text import MiniLMEncoder, OnnxEncoder, TextEncoder, cached_onnx_encoder, item_texts

logger = logging.getLogger("benchmarks.encoding")

_SHARED_DATA = str(Path(__file__).resolve().parents[2] / "shared" / "data")  # as in CI
TARGET_SPEEDUP = 2.0
TARGET_COSINE = 0.98


def load_texts(n: int, kind: str, data_dir: str | None, seed: int) -> tuple[list[str], str]:
    """``n`` texts sampled from the Electronics subset (or the synthetic shop) and their source."""
    dataset: Dataset
    try:
        from shoprec.datasets import load_dataset

        dataset = load_dataset("amazon2023_electronics", data_dir=data_dir, download=False)
    except (ImportError, DatasetNotFoundError) as error:
        from shoprec.datasets import make_synthetic_shop

        logger.warning("Electronics subset unavailable (%s); using the synthetic shop", error)
        dataset = make_synthetic_shop(n_items=max(n, 400), random_state=seed)
    catalog = dataset.catalog
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(catalog), size=min(n, len(catalog)), replace=False))
    texts = item_texts(catalog) if kind == "items" else list(catalog.frame["title"])
    return [texts[i] for i in rows], dataset.name


def interleaved_timing(
    backends: dict[str, TextEncoder], texts: list[str], batch_size: int, repeats: int
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Vectors and texts per second of each backend, timed chunk by chunk in rotating order.

    The machine is shared: timing each backend in one long block would charge whichever ran
    during a busy spell. Interleaving chunks of a few batches spreads load changes evenly.
    """
    names = list(backends)
    for encoder in backends.values():  # warm-up: sessions, allocators, lazy loading
        encoder.encode(texts[:batch_size], batch_size=batch_size)
    chunk = 4 * batch_size
    seconds = dict.fromkeys(names, 0.0)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for repeat in range(repeats):
        for j, start in enumerate(range(0, len(texts), chunk)):
            for name in names[j % len(names) :] + names[: j % len(names)]:
                begin = time.perf_counter()
                vectors = backends[name].encode(texts[start : start + chunk], batch_size=batch_size)
                seconds[name] += time.perf_counter() - begin
                if repeat == 0:
                    parts[name].append(vectors)
        logger.info("pass %d: %s", repeat + 1, {n: round(t, 1) for n, t in seconds.items()})
    vectors_of = {name: np.concatenate(parts[name]) for name in names}
    return vectors_of, {name: repeats * len(texts) / seconds[name] for name in names}


def interleaved_latencies_ms(
    backends: dict[str, TextEncoder], texts: list[str]
) -> dict[str, np.ndarray]:
    """One-text latency of each backend, text by text in rotating order."""
    names = list(backends)
    for text in texts[:10]:  # warm-up
        for encoder in backends.values():
            encoder.encode_one(text)
    out = {name: np.empty(len(texts)) for name in names}
    for i, text in enumerate(texts):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            begin = time.perf_counter()
            backends[name].encode_one(text)
            out[name][i] = (time.perf_counter() - begin) * 1e3
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="texts to encode")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--latency-n", type=int, default=200, help="texts timed one at a time")
    parser.add_argument("--texts", choices=("items", "titles"), default="items")
    parser.add_argument("--onnx-cache", type=Path, default=None, help="keep ONNX exports here")
    parser.add_argument("--data-dir", default=os.environ.get("SHOPREC_DATA_DIR", _SHARED_DATA))
    parser.add_argument("--repeats", type=int, default=2, help="timed passes over the texts")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    texts, source = load_texts(args.n, args.texts, args.data_dir, args.seed)
    torch_encoder = MiniLMEncoder(num_threads=args.threads)
    tokens = [len(ids) for ids in torch_encoder.tokenizer(texts, truncation=True)["input_ids"]]
    with tempfile.TemporaryDirectory() as tmp:
        cache = args.onnx_cache or Path(tmp)
        int8 = cached_onnx_encoder(cache, torch_encoder, num_threads=args.threads)
        fp32 = OnnxEncoder(int8.path, quantized=False, num_threads=args.threads)
        backends: dict[str, TextEncoder] = {
            "torch fp32": torch_encoder,
            "onnx fp32": fp32,
            "onnx int8": int8,
        }
        rows = run(backends, texts, args.batch_size, texts[: args.latency_n], args.repeats)
    load = os.getloadavg()[0]
    int8_row = rows[-1]
    speedup, cosine = cast(float, int8_row["speedup"]), cast(float, int8_row["cosine"])
    verdict = (
        "met"
        if speedup >= TARGET_SPEEDUP and cosine >= TARGET_COSINE
        else f"MISSED (int8 speedup {speedup:.2f}x at cosine {cosine:.4f})"
    )
    notes = " ".join(
        [
            f"{len(texts)} {args.texts} texts from `{source}` (mean {np.mean(tokens):.1f} tokens,",
            f"max {max(tokens)}, truncated at 128), batch {args.batch_size},",
            f"{args.threads} threads for every backend. Backends are timed interleaved, chunk",
            f"by chunk of {4 * args.batch_size} texts in rotating order, over {args.repeats}",
            "passes, so load from other processes hits all alike. `rps`: texts per second;",
            "`speedup`: vs torch fp32; `cosine` / `min_cosine`: agreement with torch fp32 per",
            "text; `p50_ms` / `p99_ms`: one text per call over",
            f"{min(args.latency_n, len(texts))} texts. Target: int8 >= {TARGET_SPEEDUP:g}x",
            f"torch fp32 at cosine >= {TARGET_COSINE}: {verdict}. The machine is shared; the",
            f"1-minute load average at the end of the run was {load:.1f} on",
            f"{os.cpu_count()} cores.",
        ]
    )
    print(notes)
    for row in rows:
        print(row)
    write_results("encoding", rows, notes=notes)


def run(
    backends: dict[str, TextEncoder],
    texts: list[str],
    batch_size: int,
    latency_texts: list[str],
    repeats: int,
) -> list[dict[str, object]]:
    """One row per backend; the first backend is the reference for speed-up and cosine."""
    vectors, rps = interleaved_timing(backends, texts, batch_size, repeats)
    latency = interleaved_latencies_ms(backends, latency_texts)
    reference = next(iter(backends))
    rows: list[dict[str, object]] = []
    for name in backends:
        cosines = np.sum(vectors[name] * vectors[reference], axis=1)  # unit rows
        rows.append(
            {
                "backend": name,
                "texts": len(texts),
                "rps": round(rps[name], 1),
                "speedup": round(rps[name] / rps[reference], 2),
                "cosine": round(float(cosines.mean()), 4),
                "min_cosine": round(float(cosines.min()), 4),
                "p50_ms": round(float(np.percentile(latency[name], 50)), 2),
                "p99_ms": round(float(np.percentile(latency[name], 99)), 2),
            }
        )
        logger.info("%s", rows[-1])
    return rows


if __name__ == "__main__":
    main()
