"""Content-based (portrait) recommendation from item text against popularity and ID baselines.

Full ranking with history excluded, on Amazon 2014 Beauty (leave-one-out) and the Electronics
subset (its temporal split), with the cold-user (<= 3 training events) and new-item (test targets
without training events) slices. Writes benchmarks/results/content.json and RESULTS.md.

    python benchmarks/content.py [--encoder onnx] [--datasets ...]
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from _results import DATA_DIR, write_results
from shoprec.datasets import load_dataset
from shoprec.evaluation import compare_models, format_table
from shoprec.models import ContentBased, Recommender, create_recommender

DATASETS = ("amazon2023_electronics", "amazon2014_beauty")
NOTES = """\
`content` ranks items by the cosine between their MiniLM text embedding (the item-text template:
title, brand, category path, attributes, price band) and the user's recency-weighted interest
vector; `content+pop` adds a popularity prior (weight 0.2). New items are scorable from text at
once, so `new_items` shows what text buys where IDs know nothing: ID models score new items only
through their cold-start fallbacks. Beauty (5-core leave-one-out) has no cold users; its new-item
targets are items whose only events are validation or test events. `train_s` of the first
`content` row per dataset includes the ONNX export and encoding of the catalog (cached afterwards).
Measured: on Beauty, text alone matches ALS (NDCG@10 .0308 vs .0291, 5.7x popularity) but not
co-visitation (.0495); on Electronics it only ties popularity (.0067 vs .0069) and the prior lifts
it to .0090, below co-visitation (.0108). Its clear wins are new items (HR@10 .030 / .073 where
every ID model scores 0) and catalog coverage.
"""


def models(encoder: str, seed: int) -> dict[str, Recommender]:
    return {
        "popularity": create_recommender("popularity"),
        "covisitation": create_recommender("covisitation"),
        "als": create_recommender("als", random_state=seed),
        "content": ContentBased(encoder=encoder, popularity_weight=0.0, progress=True),
        "content+pop": ContentBased(encoder=encoder, popularity_weight=0.2, progress=True),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--encoder", default="onnx", choices=["onnx", "minilm", "hashing"])
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    rows = []
    for name in args.datasets.split(","):
        dataset = load_dataset(name, data_dir=args.data_dir, progress=True)
        runs = compare_models(models(args.encoder, args.seed), dataset, progress=True)
        print(f"\n{name}\n{format_table([run.result for run in runs])}\n", flush=True)
        for run in runs:
            cold, new = run.result.slices["cold_users"], run.result.slices["new_items"]
            rows.append(
                {
                    "dataset": name,
                    "model": run.name,
                    "encoder": args.encoder if run.name.startswith("content") else "",
                    "ndcg@10": run.result.metrics["ndcg@10"],
                    "hr@10": run.result.metrics["hr@10"],
                    "mrr": run.result.metrics["mrr"],
                    "coverage@10": run.result.metrics["coverage@10"],
                    "cold_users": int(cold["users"]),
                    "cold_ndcg@10": cold["ndcg@10"],
                    "new_item_users": int(new["users"]),
                    "new_item_hr@10": new["hr@10"],
                    "train_s": round(run.train_s, 1),
                }
            )
        write_results("content", rows, notes=NOTES)


if __name__ == "__main__":
    main()
