"""Vector index benchmark: exact numpy vs faiss HNSW and IVF on synthetic embedding-like vectors.

Build time, one-query-at-a-time latency, batched throughput and recall@10 against exact search.
Writes benchmarks/results/index.json and the `index` section of benchmarks/RESULTS.md.

    python benchmarks/index.py [--n 1000000] [--dim 384] [--queries 1000]
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from _results import write_results
from shoprec.index import ExactIndex, HNSWIndex, IVFIndex, VectorIndex

logger = logging.getLogger("benchmarks.index")

K = 10
TARGET_RECALL = 0.95


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def embedding_like(
    n: int,
    dim: int,
    *,
    rng: np.random.Generator,
    n_topics: int = 100,
    per_topic: int = 20,
    intrinsic_dim: int = 16,
) -> np.ndarray:
    """Unit vectors with the structure of text embeddings rather than uniform noise.

    Two-level clusters (topics, each with sub-topics: categories and product lines), Zipf-sized so
    a few are large and many small; a shared offset direction (sentence embeddings are
    anisotropic: unrelated texts still have cosine ~0.1-0.2); and, within a sub-topic, variation
    along ``intrinsic_dim`` directions of its own plus a little isotropic noise, since embeddings
    of related texts vary along few directions. Isotropic 384-d noise instead makes all members
    of a cluster nearly equidistant (1st / 10th neighbour cosine 0.59 / 0.57), a much harder and
    unrealistic problem: measured at 1M, HNSW M=32 then reached recall@10 0.946 at ef_search=256
    and IVF needed nprobe=8 of 1000 cells for 0.965.
    Rows come in random order (``perm``), so insertion order carries no cluster information.
    """
    common = unit(rng.standard_normal((1, dim)))
    topics = unit(rng.standard_normal((n_topics, dim)))
    subtopics = np.repeat(topics, per_topic, axis=0)
    subtopics = unit(subtopics + 0.8 * rng.standard_normal(subtopics.shape) / np.sqrt(dim))
    centres = unit(subtopics + 0.5 * common).astype(np.float32)
    weights = 1.0 / np.arange(1, len(centres) + 1) ** 0.8
    counts = rng.multinomial(n, rng.permutation(weights / weights.sum()))
    perm = rng.permutation(n)
    out = np.empty((n, dim), dtype=np.float32)
    scale = np.float32(0.9 / np.sqrt(intrinsic_dim))  # latent part of norm ~0.9, noise ~0.3
    start = 0
    for centre, count in zip(centres, counts, strict=True):
        basis = rng.standard_normal((intrinsic_dim, dim), dtype=np.float32) / np.sqrt(dim)
        latent = rng.standard_normal((count, intrinsic_dim), dtype=np.float32) * scale
        noise = rng.standard_normal((count, dim), dtype=np.float32) * np.float32(0.3 / np.sqrt(dim))
        out[perm[start : start + count]] = unit(centre + latent @ basis + noise)
        start += count
    return out


def latencies_ms(index: VectorIndex, queries: np.ndarray) -> np.ndarray:
    times = np.empty(len(queries))
    for i, query in enumerate(queries):
        start = time.perf_counter()
        index.search_one(query, k=K)
        times[i] = time.perf_counter() - start
    return times * 1000.0


def measure(
    index: VectorIndex,
    queries: np.ndarray,
    truth: np.ndarray | None,
    *,
    n_latency: int,
    repeats: int,
) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """Latency (single queries), throughput (best of ``repeats`` batches), recall@10."""
    times = latencies_ms(index, queries[:n_latency])
    batch_s = np.inf
    for _ in range(repeats):  # best of a few: the machine is shared, noise only slows down
        start = time.perf_counter()
        ids, scores = index.search(queries, k=K)
        batch_s = min(batch_s, time.perf_counter() - start)
    row = {
        "p50_ms": float(np.percentile(times, 50)),
        "p99_ms": float(np.percentile(times, 99)),
        "rps": len(queries) / batch_s,
        "recall@10": 1.0 if truth is None else recall(ids, truth),
    }
    return row, ids, scores


def recall(ids: np.ndarray, truth: np.ndarray) -> float:
    hits = [len(set(got) & set(want)) for got, want in zip(ids, truth, strict=True)]
    return float(np.mean(hits) / K)


def build(index: VectorIndex, ids: Sequence[str], vectors: np.ndarray) -> float:
    start = time.perf_counter()
    index.build(ids, vectors)
    return time.perf_counter() - start


def params_text(index: VectorIndex, **override: Any) -> str:
    params = {**index.get_params(), **override}
    return " ".join(f"{k}={v}" for k, v in params.items() if k not in ("random_state",))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="catalog size")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument(
        "--exact-latency-queries",
        type=int,
        default=100,
        help="single queries timed for exact search (each scans the catalog)",
    )
    parser.add_argument("--hnsw-m", type=int, default=32)
    parser.add_argument("--ef-construction", type=int, default=100)
    parser.add_argument("--ef-search", default="16,32,64,128,256")
    parser.add_argument("--nlist", type=int, default=None, help="IVF cells (default sqrt(n))")
    parser.add_argument("--nprobe", default="8,16,32,64")
    parser.add_argument("--repeats", type=int, default=3, help="batched runs; the best counts")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()  # fmt: skip
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)

    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    data = embedding_like(args.n + args.queries, args.dim, rng=rng)
    vectors, queries = data[: args.n], data[args.n :]
    ids = [f"item{i}" for i in range(args.n)]
    logger.info("generated %d x %d in %.1fs", *vectors.shape, time.perf_counter() - start)
    loads = [os.getloadavg()[0]]
    base = {"n": args.n, "dim": args.dim}

    exact = ExactIndex()
    build_s = build(exact, ids, vectors)
    row, truth, truth_scores = measure(
        exact, queries, None, n_latency=args.exact_latency_queries, repeats=1
    )
    pairs = rng.integers(args.n, size=(2, 10_000))
    similarity = {
        "top1": float(truth_scores[:, 0].mean()),
        "top10": float(truth_scores[:, K - 1].mean()),
        "random": float(np.einsum("ij,ij->i", vectors[pairs[0]], vectors[pairs[1]]).mean()),
    }
    rows = [{"index": "exact", "params": params_text(exact), **base, "build_s": build_s, **row}]
    logger.info("%s", rows[-1])
    loads.append(os.getloadavg()[0])
    del exact
    gc.collect()

    hnsw = HNSWIndex(M=args.hnsw_m, ef_construction=args.ef_construction, random_state=args.seed)
    build_s = build(hnsw, ids, vectors)
    for ef in map(int, args.ef_search.split(",")):
        hnsw.ef_search = ef  # a search-time knob: no rebuild
        row, _, _ = measure(hnsw, queries, truth, n_latency=len(queries), repeats=args.repeats)
        text = params_text(hnsw)
        rows.append({"index": "hnsw", "params": text, **base, "build_s": build_s, **row})
        logger.info("%s", rows[-1])
        loads.append(os.getloadavg()[0])
    del hnsw
    gc.collect()

    ivf = IVFIndex(nlist=args.nlist, random_state=args.seed)
    build_s = build(ivf, ids, vectors)
    for nprobe in map(int, args.nprobe.split(",")):
        ivf.nprobe = nprobe
        row, _, _ = measure(ivf, queries, truth, n_latency=len(queries), repeats=args.repeats)
        text = params_text(ivf, nlist=ivf.nlist_)
        rows.append({"index": "ivf", "params": text, **base, "build_s": build_s, **row})
        logger.info("%s", rows[-1])
        loads.append(os.getloadavg()[0])

    notes = make_notes(rows, args, similarity, loads)
    write_results("index", [{k: _round(v) for k, v in r.items()} for r in rows], notes=notes)
    print(notes)


def make_notes(
    rows: list[dict[str, Any]],
    args: argparse.Namespace,
    similarity: dict[str, float],
    loads: list[float],
) -> str:
    chosen = []
    for kind in ("hnsw", "ivf"):
        ok = [r for r in rows if r["index"] == kind and r["recall@10"] >= TARGET_RECALL]
        best = max(ok, key=lambda r: r["rps"]) if ok else None
        chosen.append(
            f"{kind} `{best['params']}` ({best['p50_ms']:.2f} ms p50, {best['rps']:.0f} q/s)"
            if best
            else f"{kind}: no setting reached recall@10 {TARGET_RECALL}"
        )
    return f"""\
Synthetic embedding-like vectors ({args.n:,} x {args.dim}, float32, unit norm, seed {args.seed}):
two-level Zipf-sized clusters with a shared offset direction; {args.queries:,} held-out queries
from the same distribution. Inner product = cosine; mean cosine of a query's exact 1st / 10th
neighbour {similarity["top1"]:.2f} / {similarity["top10"]:.2f}, of random pairs \
{similarity["random"]:.2f}.

`p50_ms`/`p99_ms`: one query per `search_one` call ({args.exact_latency_queries} queries for exact,
all {args.queries:,} for the others); `rps`: all queries in one `search` call (best of \
{args.repeats} for HNSW and IVF; faiss and BLAS use all cores); `recall@10` against the exact top
10. Each index is built once; `ef_search` and `nprobe` are search-time settings swept on that
build. Fastest setting with recall@10 >= {TARGET_RECALL}: {"; ".join(chosen)}.

The {os.cpu_count()} cores were shared with other jobs: the 1-minute load average sampled during the
run ranged {min(loads):.1f}-{max(loads):.1f} (mean {np.mean(loads):.1f}), so timings (build
times and p99 above all) are pessimistic and noisy.
"""


def _round(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value


if __name__ == "__main__":
    main()
