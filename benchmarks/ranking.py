"""The learned ranking stage (LambdaRank over many candidate sources) against every single model.

For each dataset: the retrievers are fitted on the training period; the ranker learns from the
validation period's targets (grouped per user, early stopping on held-out users); test targets
are never seen. Two ways of fitting before the test period are reported:

- ``fit=train``: retrievers and single models as fitted on the training period;
- ``fit=train_valid``: the deployment-faithful protocol: retrievers and single models re-fitted on
  train+valid, the ranker kept from validation (``LearnedRanking.use_sources``).

Each under both evaluation protocols: ``exclude_seen`` (history excluded, ours) and
``include_seen`` (RecBole's; the stage is trained with history candidates for it). ``ltr-no_lm``
is the same stage without any language-model feature (no text cosines, no text source, no
text_sequence). Fitted retrievers are cached on disk between runs.

    nice -n 10 python benchmarks/ranking.py [--datasets a,b] [--sequence sasrec,text_sequence]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from _results import DATA_DIR, RESULTS_DIR, write_results
from shoprec.data import Catalog, Dataset, Interactions, leave_one_out
from shoprec.datasets import load_dataset
from shoprec.evaluation import evaluate
from shoprec.models import Recommender, load_recommender
from shoprec.ranking import LearnedRanking
from shoprec.text import create_encoder, default_cache_dir, encode_catalog

logger = logging.getLogger("ranking")

DATASETS = ("amazon2014_beauty", "amazon2023_electronics", "uci_online_retail")
# More, when time allows: movielens_small and each category of amazon2023_beauty_health_handmade
# ("amazon2023_beauty_health_handmade:All_Beauty", order only, leave-one-out, as issue 14 asks).
PROTOCOLS = {"exclude_seen": True, "include_seen": False}
METRICS = ("ndcg@10", "hr@10", "mrr", "coverage@10")
SEQUENCE_PARAMS: dict[str, dict[str, Any]] = {"sasrec": {}, "text_sequence": {}}
CACHE = Path(os.environ.get("SHOPREC_BENCH_CACHE") or default_cache_dir() / "bench-ranking")


def fitted_sources(
    stage: LearnedRanking, dataset: Dataset, events: Interactions, fit: str, epochs: int | None
) -> tuple[dict[str, Recommender], dict[str, float]]:
    """The stage's retrievers fitted on ``events``, read from the disk cache when there."""
    sources, seconds = {}, {}
    for name, model in stage.create_sources(events).items():
        folder = CACHE / dataset.name / fit / name
        if (folder / "train_s.json").is_file():
            sources[name] = load_recommender(folder)
            seconds[name] = json.loads((folder / "train_s.json").read_text())["train_s"]
            continue
        if epochs is not None and "epochs" in model.get_params():
            model.epochs = epochs  # type: ignore[attr-defined]
        logger.info("fitting %s on %s (%s)", name, dataset.name, fit)
        start = time.perf_counter()
        validation = dataset.split.valid if fit == "train" else None
        model.fit(events, dataset.catalog, validation=validation)
        seconds[name] = time.perf_counter() - start
        model.save(folder)
        (folder / "train_s.json").write_text(json.dumps({"train_s": seconds[name]}))
        sources[name] = model
    return sources, seconds


def row(dataset: str, model: str, protocol: str, fit: str, result: Any, train_s: float) -> dict:
    out = {"dataset": dataset, "model": model, "protocol": protocol, "fit": fit}
    out.update({m: result.metrics[m] for m in METRICS})
    out["train_s"] = round(train_s, 1)
    out["users"] = int(result.metrics["users"])
    out["repeat_users"] = int(result.skipped.get("repeat_users", 0))
    return out


def load(name: str, data_dir: Path) -> Dataset:
    """A named dataset, or ``NAME:PLATFORM``: one platform (category) of it, leave-one-out."""
    base, _, platform = name.partition(":")
    dataset = load_dataset(base, data_dir=data_dir, progress=True)
    if not platform:
        return dataset
    events = dataset.interactions
    mine = events.select((events.frame["platform"] == platform).to_numpy())
    items = dataset.catalog.frame
    catalog = Catalog(items[items["item_id"].isin(mine.frame["item_id"])])
    if not len(mine):
        raise SystemExit(f"{base} has no platform {platform!r}")
    return Dataset(name=name, catalog=catalog, split=leave_one_out(mine), description=name)


def run_dataset(name: str, args: argparse.Namespace) -> list[dict]:
    dataset = load(name, args.data_dir)
    split, catalog = dataset.split, dataset.catalog
    vectors = encode_catalog(
        catalog, create_encoder("onnx"), cache_dir=default_cache_dir() / "vectors", progress=True
    )
    sources = ["covisitation", "als", "popularity", "trending_7d", "trending_30d"]
    sequence = [s for s in args.sequence.split(",") if s]
    rows: list[dict] = []
    for protocol in args.protocols.split(","):
        exclude = PROTOCOLS[protocol]
        stages = {}
        for variant, text in (("ltr", True), ("ltr-no_lm", False)):
            chosen = sources + [s for s in sequence if text or s != "text_sequence"]
            stages[variant] = LearnedRanking(
                sources=tuple(chosen),
                text=text,
                exclude_seen=exclude,
                max_train_users=args.max_train_users,
                extra_periods=args.extra_periods,
                ranker={"n_jobs": 2},
                random_state=args.seed,
                progress=True,
            )
        full = LearnedRanking(sources=tuple(sources + sequence), text=True)
        # The ranker learns with retrievers fitted on the training period, whatever is scored.
        train_sources, _ = fitted_sources(full, dataset, split.train, "train", args.epochs)
        for variant, stage in stages.items():
            mine = {s: train_sources[s] for s in stage.source_names(split.train)}
            start = time.perf_counter()
            stage.fit_ranker(mine, split.train, split.valid, catalog, item_embeddings=vectors)
            stage.ranker_seconds_ = time.perf_counter() - start
            logger.info("%s importances: %s", variant, _top(stage))
        fits = {"train": split.train, "train_valid": split.train_valid}
        for fit in args.fits.split(","):
            events = fits[fit]
            fitted, seconds = fitted_sources(full, dataset, events, fit, args.epochs)
            for source, model in fitted.items():
                result = evaluate(model, split, exclude_seen=exclude, name=source)
                rows.append(row(name, source, protocol, fit, result, seconds[source]))
                logger.info("%s", rows[-1])
            for variant, stage in stages.items():
                mine = {s: fitted[s] for s in stage.source_names(events)}
                stage.use_sources(mine, events, catalog, item_embeddings=vectors)
                result = evaluate(stage, split, exclude_seen=exclude, name=variant, progress=True)
                train_s = stage.ranker_seconds_ + sum(seconds[s] for s in mine)
                rows.append(row(name, variant, protocol, fit, result, train_s))
                rows[-1]["candidate_recall"] = round(stage.recall_, 4)
                logger.info("%s", rows[-1])
    return rows


def _top(stage: LearnedRanking) -> str:
    gains = stage.ranker_.feature_importances()
    total = sum(gains.values()) or 1.0
    return ", ".join(f"{k} {v / total:.2f}" for k, v in list(gains.items())[:8])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--sequence", default="", help="sequence sources: sasrec,text_sequence")
    parser.add_argument("--epochs", type=int, default=None, help="epochs of sequence sources")
    parser.add_argument("--max-train-users", type=int, default=20_000)
    parser.add_argument("--extra-periods", type=int, default=2, help="earlier training periods")
    parser.add_argument("--protocols", default=",".join(PROTOCOLS))
    parser.add_argument("--fits", default="train,train_valid")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--render", action="store_true", help="only rewrite the tables")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if args.render:
        rows = _ordered(_all_rows())
        write_results("ranking", rows, notes=NOTES + _summary(rows), command=COMMAND)
        return
    for name in args.datasets.split(","):
        rows = run_dataset(name, args)
        # One rows file per dataset, merged on every write: datasets can run in parallel.
        (CACHE / "rows").mkdir(parents=True, exist_ok=True)
        (CACHE / "rows" / f"{name}.json").write_text(json.dumps(rows))
        write_results("ranking", _ordered(_all_rows()), notes=NOTES)


def _summary(rows: list[dict]) -> str:
    """Per dataset, protocol and fit: ltr, ltr-no_lm, the best single model and the ratios."""
    lines = [
        "",
        "Summary (NDCG@10): the stage against the best single model of the same run, and the "
        "worth of the language-model features (ltr / ltr-no_lm - 1).",
        "",
        "| dataset | protocol | fit | ltr | ltr-no_lm | best single | ltr / best | LM worth |",
        "|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple, dict[str, float]] = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["protocol"], r["fit"]), {})[r["model"]] = r["ndcg@10"]
    for (dataset, protocol, fit), scores in groups.items():
        if "ltr" not in scores or "ltr-no_lm" not in scores:
            continue
        singles = {m: v for m, v in scores.items() if not m.startswith("ltr")}
        best = max(singles, key=singles.__getitem__)
        ltr, plain = scores["ltr"], scores["ltr-no_lm"]
        lines.append(
            f"| {dataset} | {protocol} | {fit} | {ltr:.4f} | {plain:.4f} | {best} "
            f"{singles[best]:.4f} | {ltr / singles[best]:.2f}x | {ltr / plain - 1:+.1%} |"
        )
    return "\n".join(lines) + "\n"


def _all_rows() -> list[dict]:
    rows = [r for f in sorted((CACHE / "rows").glob("*.json")) for r in json.loads(f.read_text())]
    done = {r["dataset"] for r in rows}
    previous = RESULTS_DIR / "ranking.json"
    if previous.is_file():  # datasets run before rows files existed
        rows += [r for r in json.loads(previous.read_text())["rows"] if r["dataset"] not in done]
    return rows


def _ordered(rows: list[dict]) -> list[dict]:
    order = {"exclude_seen": 0, "include_seen": 1, "train_valid": 0, "train": 1}
    return sorted(
        rows,
        key=lambda r: (r["dataset"], order[r["protocol"]], order[r["fit"]], -r["ndcg@10"]),
    )


COMMAND = (
    "nice -n 10 python benchmarks/ranking.py --datasets NAME, one dataset per run (Beauty: "
    "--max-train-users 5000 --protocols exclude_seen --fits train); then --render"
)
NOTES = """\
See the docstring of benchmarks/ranking.py for the protocols. Sources of the stage:
co-visitation, ALS, popularity, trending popularity at 7- and 30-day half-lives (timestamped data
only), plus for `ltr` the text-similarity source (MiniLM int8 vectors of the item texts, cosine
to the user's recency-weighted portrait vector) and new items by text. SASRec and text_sequence
were not used as sources in these runs: their training (4-11 minutes each on a quiet machine)
did not fit the time on 2 cores shared by about six jobs (load average 20-30); `--sequence`
adds them. The CTR cross-encoder is not a feature either: its int8 ONNX export scores about
275 pairs/s on 2 threads (ctr_latency: 50 candidates in 181 ms), 0.7 s for one user's ~200
candidates, hours for the ranker's training users and the test users. The ranker trains on
the validation period and two earlier periods of the same length (`--extra-periods 2`, chosen
on validation users of Electronics: .0243 -> .0322 NDCG@10 on held-out validation users, where
trending_30d scored .0284). Beauty ran with
`--max-train-users 5000` and only the history-excluded protocol with train-fitted retrievers
(leave-one-out; the CPU time of the rest was not available). The beauty_health_handmade
categories are each split leave-one-out, as the issue asks. Under leave-one-out, `fit=train_valid`
gives the retrievers each user's second-to-last item, which moves co-visitation most.

`train_s` of `ltr` rows: the retrievers' fitting plus building the ranker's features (three
periods) and training it. `candidate_recall`: share of validation targets among the stage's
candidates (the ceiling of the stage). `repeat_users`: test users whose target is already in
their history (scored only under include_seen). Timings taken beside other jobs on 2 shared
cores with a load average of 20-30: read them as relative.
"""

if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
