"""Text-sequence transformer (MiniLM text + ID) against ID-only SASRec, co-visitation, popularity.

Full ranking with history excluded, on Amazon 2014 Beauty (leave-one-out) and the Electronics
subset (its temporal split), all models in one run, with the cold-user (<= 3 training events)
and new-item (test targets without training events) slices, training time and peak memory.
Writes benchmarks/results/text_sequence.json and its RESULTS.md section.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/text_sequence.py [--datasets ...] [--models ...]
"""

from __future__ import annotations

import argparse
import logging
import resource
from pathlib import Path
from typing import Any

from _results import DATA_DIR, write_results
from shoprec.datasets import load_dataset
from shoprec.evaluation import ModelRun, compare_models, format_table
from shoprec.models import Recommender, create_recommender

DATASETS = ("amazon2014_beauty", "amazon2023_electronics")
MODELS = ("text_sequence", "text_sequence-text_only", "sasrec", "covisitation", "popularity")
NOTES = """\
`text_sequence`: SASRec's causal transformer (2 blocks, width 64, CE over the items with training
events) whose item vectors are a UniSRec-style mixture-of-experts whitening adaptor over frozen
MiniLM (ONNX int8) title/brand/category embeddings plus a learned ID embedding (dropped for 10%
of items per step); `text_only` has no ID embedding. `sasrec` is the ID-only baseline at its
defaults. Early stopping on validation NDCG@10, test reported. `peak_mb`: the process's peak
resident memory after the model's fit + evaluation (a running maximum, so it only grows down
the table). `new_item_hr@10`: targets without training events, which ID-only models cannot rank.

Tried on Beauty (validation -> test NDCG@10): 8 epochs, no ID dropout, new items as softmax
negatives: .0603 -> .0435 (new-item HR@10 0, text-only .0323); 20 epochs with ID dropout .0708
-> .0530 (new-item HR@10 .029); plus leaving items without training events out of the softmax
(the defaults, this table): .0531, new-item HR@10 .043. Validation was still rising at epoch 20.
The text model fits the training data less closely than ID-SASRec (final loss 7.4 vs 6.4) and
gains most on coverage and new items; the 1.25x target would need more than this budget gives.
"""
TARGETS = (  # (dataset, required ratio, the baselines it is measured against, absolute floor)
    ("amazon2014_beauty", 1.25, ("sasrec",), 0.040),
    ("amazon2023_electronics", 1.2, ("sasrec", "covisitation", "popularity"), 0.0),
)


def target_notes(rows: list[dict[str, Any]]) -> str:
    """One plain line per target: met or not, with the numbers."""
    lines = []
    for dataset, ratio, baselines, floor in TARGETS:
        ndcg = {r["model"]: r["ndcg@10"] for r in rows if r["dataset"] == dataset}
        present = [b for b in baselines if b in ndcg]
        if "text_sequence" not in ndcg or not present:
            continue
        best = max(present, key=ndcg.__getitem__)
        ours, reached = ndcg["text_sequence"], ndcg["text_sequence"] / max(ndcg[best], 1e-12)
        met = reached >= ratio and ours >= floor
        lines.append(
            f"- {dataset}: target NDCG@10 >= {ratio}x the best of {', '.join(present)}"
            + (f" and >= {floor}" if floor else "")
            + f": {'MET' if met else 'NOT MET'}"
            + f" ({ours:.4f} = {reached:.2f}x {best} {ndcg[best]:.4f})"
        )
    return "\n".join(lines)


def make_models(names: list[str], encoder: str, seed: int, epochs: int) -> dict[str, Recommender]:
    common: dict[str, Any] = {"random_state": seed, "progress": False}
    text = {**common, "encoder": encoder, "max_epochs": epochs}
    factories = {
        "text_sequence": lambda: create_recommender("text_sequence", **text),
        "text_sequence-text_only": lambda: create_recommender(
            "text_sequence", **text, use_ids=False
        ),
        "sasrec": lambda: create_recommender("sasrec", **common),
        "covisitation": lambda: create_recommender("covisitation"),
        "popularity": lambda: create_recommender("popularity"),
    }
    return {name: factories[name]() for name in names}


def row(dataset: str, run: ModelRun) -> dict[str, Any]:
    metrics, slices = run.result.metrics, run.result.slices
    cold, new = slices.get("cold_users", {}), slices.get("new_items", {})
    return {
        "dataset": dataset,
        "model": run.name,
        **{m: metrics[m] for m in ("ndcg@10", "hr@10", "mrr", "coverage@10")},
        "cold_ndcg@10": cold.get("ndcg@10", float("nan")),
        "new_item_hr@10": new.get("hr@10", float("nan")),
        "train_s": round(run.train_s, 1),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--encoder", default="onnx", choices=["onnx", "minilm", "hashing"])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default="text_sequence", help="results section name")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    rows: list[dict[str, Any]] = []
    for name in args.datasets.split(","):
        dataset = load_dataset(name, data_dir=args.data_dir, progress=True)
        models = make_models(args.models.split(","), args.encoder, args.seed, args.epochs)

        def done(run: ModelRun, dataset_name: str = name) -> None:
            rows.append(row(dataset_name, run))
            print(rows[-1], flush=True)
            write_results(
                args.name, rows, notes=NOTES + "\n" + target_notes(rows)
            )  # partial runs count

        runs = compare_models(models, dataset, on_done=done)
        print(f"\n{name}\n{format_table([run.result for run in runs])}\n", flush=True)


if __name__ == "__main__":
    main()
