"""Scale: exact against ANN retrieval at 10k / 100k / 1M items, offline work on Ray, service
workers on one PostgreSQL, and the service's capacity on this machine.

Phases (``--phases``, comma-separated):

``ann``
    For each ``--sizes`` catalog: a synthetic catalog of that many items whose text comes from
    the generator (the 10k-item synthetic shop's items repeated under new ids), its events
    (the shop's, each user's items moved to one copy, plus one view per item so that no item
    is cold) and a content model whose item vectors are **random unit vectors** (64-d):
    encoding a million texts costs hours here, and the retrieval and serving costs depend on
    the vectors' size, not on where they came from. The pipeline is served in process, one
    request at a time (explanations on): exact scoring against the HNSW path, p50/p99 per
    request, requests/s of one thread, recall@100 of the model's retrieved candidates against
    exact retrieval (history excluded), and the index build time.
``ray``
    Catalog encoding (ONNX int8, ``--encode-texts`` texts) and co-visitation counts
    (Electronics training events) on the local engine and on Ray with 1 and 2 workers:
    speedup of 2 workers over 1; equality of the results is checked.
``workers``
    ``shoprec serve --workers 1`` and ``--workers 2`` on a private PostgreSQL, the
    Electronics pipeline (``--pipeline``), the serving benchmark's mixed load at ``--rps``.
``capacity``
    ``shoprec serve`` (SQLite) at increasing rates, ``--runs`` runs each: the highest rate at
    which recommend p99 stays <= 30 ms in every run.

Every row records the load average of the machine before and after it was taken.

    OMP_WAIT_POLICY=PASSIVE nice -n 10 python benchmarks/scale.py --phases ann --sizes 10000
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from _results import DATA_DIR, write_results
from shoprec.data import Catalog, Interactions
from shoprec.datasets import load_dataset, make_synthetic_shop
from shoprec.models import ContentBased, ItemCoVisitation, Popularity
from shoprec.pipeline import Pipeline, PipelineConfig, PipelineParts, Request, save_pipeline
from shoprec.pipeline._retrieval import model_scores

Row = dict[str, Any]
logger = logging.getLogger("scale-bench")
DIM = 64
TARGET_P99_MS = 30.0


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def timed_row(row: Row, before: str) -> Row:
    return {**row, "load_before": before, "load_after": loadavg()}


# -- ann -------------------------------------------------------------------------------------------
def scaled_shop(n_items: int, seed: int = 0) -> tuple[Catalog, Interactions, list[list[str]]]:
    """The catalog of ``n_items`` (the synthetic shop's repeated), training events, and the
    histories of the request users."""
    shop = make_synthetic_shop(n_users=2000, n_items=min(n_items, 10_000), random_state=seed)
    base = shop.catalog.frame
    copies = math.ceil(n_items / len(base))
    frames = []
    for copy in range(copies):
        frame = base.copy()
        if copy:
            frame["item_id"] = frame["item_id"] + f"-r{copy}"
        frames.append(frame)
    catalog_frame = pd.concat(frames, ignore_index=True).iloc[:n_items]
    events = shop.split.train.frame[["user_id", "item_id", "event_type", "timestamp"]].copy()
    events["event_type"] = events["event_type"].astype(str)
    users = events["user_id"].astype(str)
    copy_of = pd.factorize(users)[0] % copies  # each user shops in one copy
    suffix = np.where(copy_of > 0, pd.Series(copy_of).map(lambda c: f"-r{c}"), "")
    events["item_id"] = events["item_id"].astype(str) + suffix
    t0 = int(events["timestamp"].min())
    cold = pd.DataFrame(
        {
            "user_id": [f"filler{i % 50_000}" for i in range(n_items)],
            "item_id": catalog_frame["item_id"].to_numpy(),
            "event_type": "view",
            "timestamp": t0 + np.arange(n_items, dtype=np.int64),
        }
    )
    known = set(catalog_frame["item_id"])
    events = events[events["item_id"].isin(known)]
    frame = pd.concat([events, cold], ignore_index=True)
    histories = events.groupby("user_id")["item_id"].apply(list)
    request_histories = [h for h in histories if len(h) >= 3][:300]
    return Catalog(catalog_frame), Interactions(frame), request_histories


def random_content_model(catalog: Catalog, interactions: Interactions, seed: int) -> ContentBased:
    """A content model whose item vectors are random unit vectors (see the module notes)."""
    model = ContentBased(encoder="hashing")
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((len(catalog), DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.asarray(catalog.item_ids, dtype=object)
    model.item_ids_ = ids
    model.item_index_ = {item: i for i, item in enumerate(ids)}
    model.histories_ = {}
    model.item_embeddings_ = vectors
    counts = interactions.frame["item_id"].value_counts()
    model.item_popularity_ = counts.reindex(ids).fillna(0).to_numpy(np.float32)
    return model


def ann_pipeline(shop: tuple[Catalog, Interactions, Any], root: Path, seed: int = 0) -> Pipeline:
    """The pipeline over ``shop`` (saved under ``root`` once), loaded with exact scoring."""
    catalog, interactions, _ = shop
    path = root / f"pipeline-{len(catalog)}"
    if not (path / "manifest.json").is_file():
        model = random_content_model(catalog, interactions, seed)
        rng = np.random.default_rng(seed + 1)
        vectors = rng.standard_normal((len(catalog), DIM)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        components = {
            "model": model,
            "popularity": Popularity().fit(interactions, catalog),
            "covisitation": ItemCoVisitation().fit(interactions, catalog),
            "trending": Popularity(half_life_days=7.0).fit(interactions, catalog),
        }
        parts = PipelineParts(
            config=PipelineConfig(model="content", encoder="hashing", ann_threshold=None),
            random_state=seed,
            components=components,
            ranker=None,
            catalog=catalog,
            vectors=vectors,
            fingerprint=f"scale-{len(catalog)}",
            metrics={},
            removed=frozenset(),
        )
        save_pipeline(parts, path)
    return Pipeline.load(path)


ANN_PARAMS: dict[str, int] = {}  # --ann-params


def with_threshold(pipeline: Pipeline, threshold: int | None) -> float:
    """Switch ``pipeline`` to exact scoring (``None``) or the index; seconds to build it."""
    start = time.perf_counter()
    pipeline.config = replace(pipeline.settings, ann_threshold=threshold, ann_params=ANN_PARAMS)
    pipeline._set_view(pipeline._view)  # builds or drops the index (no public switch)
    return time.perf_counter() - start


def ann_rows(sizes: list[int], root: Path, requests: int) -> list[Row]:
    rows = []
    for n_items in sizes:
        shop = scaled_shop(n_items)
        histories = shop[2]
        pipeline = ann_pipeline(shop, root)
        with_threshold(pipeline, None)
        exact_copy = model_scores_reference(pipeline, histories[:100])
        before = loadavg()
        latencies = serve_one_by_one(pipeline, histories, requests)
        rows.append(timed_row(latency_row(n_items, "exact", latencies, 1.0, None), before))
        logger.info("%s", rows[-1])
        build_s = with_threshold(pipeline, 0)
        recall = retrieval_recall(pipeline, exact_copy, histories[:100])
        before = loadavg()
        latencies = serve_one_by_one(pipeline, histories, requests)
        rows.append(timed_row(latency_row(n_items, "ann", latencies, recall, build_s), before))
        logger.info("%s", rows[-1])
        del pipeline
    return rows


def latency_row(
    n_items: int, mode: str, latencies: np.ndarray, recall: float, build_s: float | None
) -> Row:
    return {
        "items": n_items,
        "endpoint": "recommend (in process)",
        "retrieval": mode,
        "p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "p99_ms": round(float(np.percentile(latencies, 99)), 2),
        "rps": round(1000 / float(np.mean(latencies)), 1),
        "recall@100": round(recall, 4),
        "index_build_s": None if build_s is None else round(build_s, 1),
        "hnsw": None if build_s is None else dict(ANN_PARAMS) or "defaults (M=32, ef 200/128)",
    }


def model_scores_reference(pipeline: Pipeline, histories: list[list[str]]) -> np.ndarray:
    """Exact model scores of ``histories`` by catalog row, history excluded."""
    requests = [Request(history=h) for h in histories]
    truth = model_scores(pipeline.model_, pipeline._view, requests, retrieval=None, fetch=0)
    scores = truth.scores
    for i, request in enumerate(requests):
        scores[i, pipeline._view.attributes.rows(request.history)] = -np.inf
    return scores


def retrieval_recall(pipeline: Pipeline, truth: np.ndarray, histories: list[list[str]]) -> float:
    """Mean share of the exact top 100 (history excluded) among the index's top 100."""
    requests = [Request(history=h) for h in histories]
    found = model_scores(
        pipeline.model_, pipeline._view, requests, retrieval=pipeline._retrieval, fetch=100
    )
    recalls = []
    for i, request in enumerate(requests):
        got = found.scores[i].copy()
        got[pipeline._view.attributes.rows(request.history)] = -np.inf
        best = set(np.argpartition(-truth[i], 100)[:100].tolist())
        retrieved = np.flatnonzero(np.isfinite(got))
        top = set(retrieved[np.argsort(-got[retrieved])[:100]].tolist())
        recalls.append(len(best & top) / 100)
    return float(np.mean(recalls))


def serve_one_by_one(pipeline: Pipeline, histories: list[list[str]], n: int) -> np.ndarray:
    for history in histories[:5]:  # warm-up
        pipeline.recommend_one(history, k=10)
    latencies = []
    for i in range(n):
        start = time.perf_counter()
        pipeline.recommend_one(histories[i % len(histories)], k=10)
        latencies.append((time.perf_counter() - start) * 1000)
    return np.asarray(latencies)


# -- ray -------------------------------------------------------------------------------------------
def ray_rows(n_texts: int) -> list[Row]:
    from shoprec._runtime import use_engine
    from shoprec.distributed import RayEngine
    from shoprec.text import create_encoder, item_texts

    data = load_dataset("amazon2023_electronics", data_dir=DATA_DIR)
    texts = item_texts(data.catalog)[:n_texts]
    encoder = create_encoder("onnx")
    train = data.split.train
    rows = []
    timings: dict[tuple[str, int], float] = {}
    results: dict[tuple[str, int], Any] = {}
    for workers in (0, 1, 2):  # 0: the local engine
        engine = RayEngine(workers=workers) if workers else None
        if engine is not None:
            engine.start()
            engine.map_batches(lambda: lambda x: x, [0, 1])  # actors warm
        for job in ("encode", "covisitation"):
            before = loadavg()
            start = time.perf_counter()
            if engine is None:
                out = encoder.encode(texts) if job == "encode" else ItemCoVisitation().fit(train)
            else:
                with use_engine(engine):
                    out = (
                        encoder.encode(texts) if job == "encode" else ItemCoVisitation().fit(train)
                    )
            timings[(job, workers)] = time.perf_counter() - start
            results[(job, workers)] = out
            logger.info(
                "%s on %s workers: %.1f s", job, workers or "local", timings[(job, workers)]
            )
            if workers == 2:
                rows.append(
                    timed_row(
                        {
                            "engine": "ray",
                            "job": job,
                            "workers": 2,
                            "speedup": round(timings[(job, 1)] / timings[(job, 2)], 2),
                            "seconds_1_worker": round(timings[(job, 1)], 1),
                            "seconds_2_workers": round(timings[(job, 2)], 1),
                            "seconds_local": round(timings[(job, 0)], 1),
                            "equal_to_local": _equal(job, results[(job, 0)], out),
                            "size": len(texts) if job == "encode" else len(train.frame),
                        },
                        before,
                    )
                )
        if engine is not None:
            engine.__exit__(None, None, None)
    return rows


def _equal(job: str, local: Any, other: Any) -> bool:
    if job == "encode":
        return bool(np.array_equal(local, other))
    diff = abs(local.neighbors_ - other.neighbors_)
    return bool(diff.max() <= 1e-9 * max(abs(local.neighbors_).max(), 1.0))


# -- service phases --------------------------------------------------------------------------------
def service_rows(
    pipeline: Path, store_url: str, workers: int, rates: list[float], seconds: float, label: str
) -> list[Row]:
    """The serving benchmark's mixed load against ``shoprec serve --workers N``."""
    import serving

    data = load_dataset("amazon2023_electronics", data_dir=DATA_DIR)
    users = sorted(data.split.train.frame["user_id"].astype(str).unique())[:3000]
    port = serving.free_port()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "serve.log"
        process = serving.start_server(pipeline, store_url, port, log, "--workers", str(workers))
        try:
            base = f"http://127.0.0.1:{port}"
            seed = data.split.train.frame
            seed = seed[seed["user_id"].astype(str).isin(set(users))]
            bodies = [
                {"user_id": str(r.user_id), "item_id": str(r.item_id),
                 "event_type": str(r.event_type), "timestamp": int(r.timestamp)}
                for r in seed.itertuples()
            ]  # fmt: skip
            import httpx

            with httpx.Client(base_url=base, timeout=120) as client:
                for lo in range(0, len(bodies), 500):
                    client.post("/v1/events/batch", json={"events": bodies[lo : lo + 500]})
            make = serving.request_maker(data, users)
            mix = [("recommend", 0.8), ("ingest", 0.15), ("search", 0.05)]
            for rate in rates:
                before = loadavg()
                results, elapsed = asyncio.run(
                    serving.mixed_load(base, seconds, rate, make, mix, 256)
                )
                for row in serving.load_rows(results, elapsed, mix, label):
                    if row["endpoint"] in ("recommend", "all"):
                        rows.append(timed_row({**row, "workers": workers, "rps": rate}, before))
        finally:
            process.terminate()
            process.wait(timeout=60)
    return rows


def capacity_rows(pipeline: Path, rates: list[float], runs: int, seconds: float) -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(runs):
            store = f"sqlite:///{tmp}/events-{run}.db"
            for row in service_rows(pipeline, store, 1, rates, seconds, "capacity"):
                if row["endpoint"] == "recommend":
                    rows.append({**row, "run": run + 1})
    by_rate: dict[float, list[float]] = defaultdict(list)
    for row in rows:
        by_rate[row["rps"]].append(row["p99_ms"])
    holding = [r for r, p99s in by_rate.items() if max(p99s) <= TARGET_P99_MS]
    rows.append({"load": "capacity", "capacity_rps": max(holding, default=0.0), "runs": runs})
    return rows


def workers_rows(pipeline: Path, rate: float, seconds: float) -> list[Row]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from postgres_support import PostgresServer

    rows = []
    for workers in (1, 2):
        server = PostgresServer()
        try:
            server.start()
            rows += service_rows(pipeline, server.url, workers, [rate], seconds, "postgresql")
        finally:
            server.remove()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phases", default="ann")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--encode-texts", type=int, default=2048)
    parser.add_argument("--pipeline", type=Path, help="saved Electronics pipeline (service)")
    parser.add_argument("--rps", type=float, default=200.0)
    parser.add_argument("--rates", default="200,300,400")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--work-dir", type=Path, default=Path.home() / ".cache/shoprec/scale")
    parser.add_argument("--notes", default="", help="what else ran on the machine")
    parser.add_argument("--ann-params", default="", help="HNSW parameters, e.g. M=16,ef_search=256")
    args = parser.parse_args()
    for pair in filter(None, args.ann_params.split(",")):
        key, _, value = pair.partition("=")
        ANN_PARAMS[key] = int(value)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    phases = args.phases.split(",")
    args.work_dir.mkdir(parents=True, exist_ok=True)
    out = Path(__file__).resolve().parent / "results" / "scale.json"
    rows: list[Row] = []
    if out.is_file():  # phases run separately add up; a phase run again replaces its rows
        import json

        kept = json.loads(out.read_text())["rows"]
        rows = [r for r in kept if _phase(r) not in phases]
    if "ann" in phases:
        rows += ann_rows([int(s) for s in args.sizes.split(",")], args.work_dir, args.requests)
    if "ray" in phases:
        rows += ray_rows(args.encode_texts)
    if "workers" in phases:
        rows += workers_rows(args.pipeline, args.rps, args.seconds)
    if "capacity" in phases:
        rates = [float(r) for r in args.rates.split(",")]
        rows += capacity_rows(args.pipeline, rates, args.runs, args.seconds)
    write_results("scale", rows, notes=NOTES + args.notes)


def _phase(row: Row) -> str:
    if "items" in row:
        return "ann"
    if row.get("engine") == "ray":
        return "ray"
    return "capacity" if row.get("load") == "capacity" else "workers"


NOTES = (
    "ANN rows: in process, one request at a time on one thread, explanations on; item vectors "
    "are random unit vectors (64-d), the catalog text is the synthetic generator's 10k items "
    "repeated under new ids (see benchmarks/scale.py). load_before/load_after: /proc/loadavg. "
)

if __name__ == "__main__":
    main()
