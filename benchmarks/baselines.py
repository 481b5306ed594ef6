"""Every baseline on Amazon 2014 Beauty (leave-one-out) and the Electronics subset (temporal split).

Full ranking over the catalog with each user's history excluded. Writes benchmarks/results/
baselines.json and the `baselines` section of benchmarks/RESULTS.md, and a report per dataset under
benchmarks/results/baselines-DATASET/ (HTML with plots).

    python benchmarks/baselines.py [--datasets amazon2014_beauty,...] [--models ...]
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from _results import DATA_DIR, RESULTS_DIR, write_results
from shoprec.datasets import load_dataset
from shoprec.evaluation import (
    BASELINES,
    baseline_models,
    compare_models,
    format_table,
    write_html_report,
    write_json,
)

DATASETS = ("amazon2014_beauty", "amazon2023_electronics")
METRICS = ("ndcg@10", "hr@10", "mrr", "coverage@10", "novelty@10")
NOTES = """\
Full ranking over every item, the user's own history excluded. Beauty: leave-one-out (last item
test, second-to-last validation). Electronics: the subset's own global temporal split, every
distinct test item of a user is a target. Published SASRec on Beauty under this protocol:
NDCG@10 about 0.032 (third-party tables); CE-trained SASRec variants report up to about 0.04.
`cold` columns: users with at most 3 training events.

Measured: our SASRec (full-softmax cross-entropy, the default) reaches .0507 on Beauty, 1.6x the
published BCE SASRec (.0318). That is in line with the CE-vs-BCE gap reported in the literature,
and our own `loss="bce"` run reached .0164 in the same 20 epochs. So the protocol is not
inflating anything: popularity sits at .0054 and ALS at .0291. Co-visitation is nearly as strong
as SASRec (.0495) at a thousandth of the training time. On Electronics, trending popularity
(30-day half-life) is the best baseline by far (.0219, 1.7x SASRec's .0126): the global temporal
split rewards recency. On order-only Beauty, `popularity-recent` equals `popularity` because
positions are not times and decay is off.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--models", default=",".join(BASELINES))
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    rows = []
    for name in args.datasets.split(","):
        dataset = load_dataset(name, data_dir=args.data_dir, progress=True)
        models = baseline_models(args.models.split(","), random_state=args.seed, progress=True)
        runs = compare_models(models, dataset, progress=True)
        results = [run.result for run in runs]
        print(f"\n{dataset.name}: {dataset.split}\n{format_table(results)}\n", flush=True)
        report_dir = RESULTS_DIR / f"baselines-{name}"
        metadata = {"dataset": name, "split": repr(dataset.split)}
        write_json(results, report_dir / "report.json", metadata=metadata)
        write_html_report(results, report_dir / "report.html", title=name, metadata=metadata)
        for run in runs:
            cold = run.result.slices.get("cold_users", {})
            rows.append(
                {
                    "dataset": name,
                    "model": run.name,
                    **{m: run.result.metrics[m] for m in METRICS},
                    "cold_users": int(cold.get("users", 0)),
                    "cold_ndcg@10": cold.get("ndcg@10", float("nan")),
                    "train_s": round(run.train_s, 1),
                }
            )
        write_results("baselines", rows, notes=NOTES)  # after each dataset: partial runs count


if __name__ == "__main__":
    main()
