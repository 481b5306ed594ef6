"""Incremental fine-tuning against a full retrain on the same new data (issue 16).

On Amazon 2023 Electronics (global temporal split): a champion is trained on the training
events before the ``--cut`` quantile of their time; then new events arrive (the rest of the
training period). A full retrain fits the same model from scratch on all training events; the
incremental one fine-tunes the champion on the new events only (``--epochs``), adding the new
catalog items. Both are scored on the test period (full ranking, history excluded).
Rows ``{"step": "incremental", "model", "speedup", "ndcg_ratio", ...}`` go into
benchmarks/results/online.json beside the rows of benchmarks/online.py.

    OMP_WAIT_POLICY=PASSIVE nice -n 10 python benchmarks/online_incremental.py
"""

from __future__ import annotations

import argparse
import logging
import time
from typing import Any

from _results import DATA_DIR, write_results
from online import _previous_rows, _step_of, notes
from shoprec.data import Interactions
from shoprec.datasets import load_dataset
from shoprec.evaluation import evaluate
from shoprec.models import create_recommender
from shoprec.online import fine_tune

logger = logging.getLogger("incremental-bench")


def one_model(name: str, data: Any, args: argparse.Namespace) -> dict[str, Any]:
    train = data.split.train.frame
    cut = train["timestamp"].quantile(args.cut)
    old = Interactions(train[train["timestamp"] < cut])
    new = Interactions(train[train["timestamp"] >= cut])
    params = {"max_epochs": args.full_epochs, "progress": False}
    champion = create_recommender(name, random_state=0, **params).fit(old, data.catalog)
    start = time.perf_counter()
    full = create_recommender(name, random_state=0, **params).fit(data.split.train, data.catalog)
    full_s = time.perf_counter() - start
    start = time.perf_counter()
    tuned = fine_tune(champion, new, data.catalog, epochs=args.epochs)
    tuned_s = time.perf_counter() - start
    scores = {
        label: evaluate(model, data.split, catalog=data.catalog).metrics["ndcg@10"]
        for label, model in (("champion", champion), ("full", full), ("incremental", tuned))
    }
    return {
        "step": "incremental",
        "dataset": data.name,
        "model": name,
        "old_events": len(old),
        "new_events": len(new),
        "full_epochs": args.full_epochs,
        "incremental_epochs": args.epochs,
        "full_train_s": round(full_s, 1),
        "incremental_train_s": round(tuned_s, 1),
        "speedup": round(full_s / tuned_s, 2),
        "ndcg@10_champion": round(scores["champion"], 4),
        "ndcg@10_full": round(scores["full"], 4),
        "ndcg@10_incremental": round(scores["incremental"], 4),
        "ndcg_ratio": round(scores["incremental"] / scores["full"], 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="sasrec,text_sequence")
    parser.add_argument("--cut", type=float, default=0.8)
    parser.add_argument("--full-epochs", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--data-dir", default=DATA_DIR)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    data = load_dataset("amazon2023_electronics", data_dir=args.data_dir)
    rows = []
    for name in args.models.split(","):
        rows.append(one_model(name, data, args))
        logger.info("%s", rows[-1])
    previous = [r for r in _previous_rows() if _step_of(r) != "incremental"]
    all_rows = previous + rows
    write_results("online", all_rows, notes=notes(all_rows), group_by="step")


if __name__ == "__main__":
    main()
