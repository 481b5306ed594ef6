"""Latency of the learned ranking stage in process, one request at a time.

Two figures per dataset: scoring 200 candidates' feature rows with the LambdaRank model alone
(the issue's "ranking 200 candidates" budget, 5 ms p99), and the whole stage for one user
(every source scored over the catalog, candidates, features, LambdaRank). The stage is fitted
on the training period with a small ranker sample (latency does not depend on it much).

    nice -n 10 python benchmarks/ranking_latency.py [--datasets a,b] [--requests 300]
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

from _results import DATA_DIR, write_results
from shoprec._runtime import single_blas_thread
from shoprec.datasets import load_dataset
from shoprec.ranking import LearnedRanking
from shoprec.text import create_encoder, default_cache_dir, encode_catalog

DATASETS = ("amazon2023_electronics",)


def percentiles(times: list[float]) -> dict[str, float]:
    ms = np.asarray(times) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


def run(name: str, args: argparse.Namespace) -> list[dict]:
    dataset = load_dataset(name, data_dir=args.data_dir)
    split, catalog = dataset.split, dataset.catalog
    vectors = encode_catalog(
        catalog, create_encoder("onnx"), cache_dir=default_cache_dir() / "vectors"
    )
    # Up to 300 trees without early stopping, so the scoring time does not depend on how little
    # the small training sample teaches (early stopping kept 50-130 in the ranking benchmark);
    # the row's `trees` says how many LightGBM grew.
    ranker = {"n_jobs": 1, "n_estimators": 300, "early_stopping_rounds": 300}
    stage = LearnedRanking(max_train_users=args.train_users, ranker=ranker, random_state=0)
    stage.fit(split.train, catalog, validation=split.valid, item_embeddings=vectors)
    stage.ranker_.best_iteration_ = stage.ranker_.booster_.current_iteration()  # score them all
    rng = np.random.default_rng(0)
    users = rng.choice(list(stage.histories_), args.requests, replace=True)
    histories = [stage.histories_[u] for u in users]
    rows = []
    with single_blas_thread():
        part = stage._candidates(histories[:50])
        features = part.features
        blocks = [features[rng.choice(len(features), 200)] for _ in range(args.requests)]
        stage.ranker_.decision_function(blocks[0])  # warm up
        times = []
        for block in blocks:
            start = time.perf_counter()
            stage.ranker_.decision_function(block)
            times.append(time.perf_counter() - start)
        rows.append({"dataset": name, "step": "lambdarank 200 candidates", **percentiles(times)})
        times = []
        for history in histories:
            start = time.perf_counter()
            stage.score([history])
            times.append(time.perf_counter() - start)
        rows.append({"dataset": name, "step": "whole stage, one user", **percentiles(times)})
    for row in rows:
        row.update(items=len(stage.item_ids_), trees=stage.ranker_.best_iteration_)
        logging.info("%s", row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--train-users", type=int, default=3000)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    rows = [row for name in args.datasets.split(",") for row in run(name, args)]
    write_results("ranking_latency", rows, notes=NOTES)


NOTES = """\
One request at a time, one BLAS thread, in process. Taken beside other jobs on 2 shared cores
(load average above 10), so these are upper bounds; re-run on a quiet machine for the record.
"""

if __name__ == "__main__":
    main()
