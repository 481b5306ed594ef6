"""Cross-platform transfer of the CTR ranker: Amazon Electronics + Beauty -> UCI Online Retail.

1. Mines ranker pairs (``shoprec.transfer._ranker.platform_pairs``: each user's next item,
   hard negatives from a co-visitation retriever, random negatives) from the validation period
   of each source, and training pairs and test pairs (test period, contexts from training and
   validation events) of the target.
2. Pretrains one ranker (LoRA on MiniLM) on the sources' pairs at ``--temperature``.
3. For each fraction of the target's training users (whole users, nested): fits a ranker from
   scratch (LoRA on MiniLM) and adapts the pretrained one (LoRA, full); zero-shot once.
4. Scores the target's test pairs: AUC and GAUC (per-user AUC, users with both labels), with ALS,
   text similarity and item popularity as baselines on the same pairs.

Writes benchmarks/results/ctr_transfer.json, ctr_transfer.png and the RESULTS.md section.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/ctr_transfer.py [--fractions 0.05,0.1,...]
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from _results import DATA_DIR, RESULTS_DIR, write_results
from shoprec.data import Dataset
from shoprec.datasets import load_dataset
from shoprec.metrics import auc, gauc, log_loss
from shoprec.models import ALS
from shoprec.ranking import CTRRanker, PairSet
from shoprec.text import encode_texts, item_texts
from shoprec.transfer import (
    adapt_ranker,
    platform_pairs,
    pretrain_ranker,
    subsample_pairs,
)

SOURCES = ("amazon2023_electronics", "amazon2014_beauty")
TARGET = "uci_online_retail"
FRACTIONS = (0.05, 0.1, 0.25, 0.5, 1.0)
# Target epochs by fraction: smaller data, more passes (early stopping on held-out users).
EPOCHS = {0.05: 4, 0.1: 3, 0.25: 2, 0.5: 1, 1.0: 1}
LR = {"from_scratch": 2e-4, "lora": 2e-4, "full": 5e-5}
Row = dict[str, Any]
logger = logging.getLogger("ctr-transfer-bench")


def item_vectors(data: Dataset) -> np.ndarray:
    return encode_texts("onnx", item_texts(data.catalog), progress=True)


def pairs_of(data: Dataset, users: int, period: str = "valid") -> PairSet:
    vectors = item_vectors(data)
    pairs = platform_pairs(data, vectors, period=period, max_users=users)
    logger.info("%s %s: %d pairs of %d users", data.name, period, len(pairs), len(set(pairs.users)))
    return pairs


def baseline_scores(data: Dataset, test: PairSet, vectors: np.ndarray) -> dict[str, np.ndarray]:
    """Scores of the test pairs from training + validation events by ALS, by the text cosine of
    the candidate to the mean of the user's item vectors, and by item popularity. (Co-visitation
    mined the hard negatives, so it would rank them above the positives by construction.)"""
    history = data.split.train_valid
    users = list(dict.fromkeys(test.users))
    events = history.frame[history.frame["user_id"].isin(users)]
    histories = {u: list(g["item_id"]) for u, g in events.groupby("user_id", sort=False)}
    als = ALS(random_state=0).fit(history, data.catalog)
    scores = als.score([als.encode_items(histories.get(u, [])) for u in users])
    row_of = {u: i for i, u in enumerate(users)}
    rows = np.array([row_of[u] for u in test.users])
    columns = np.array([als.item_index_.get(i, -1) for i in test.items])
    known = columns >= 0
    als_scores = np.full(len(test), -np.inf)
    als_scores[known] = scores[rows[known], columns[known]]
    position = {item: i for i, item in enumerate(data.catalog.item_ids)}
    interest = {u: vectors[[position[i] for i in items]].mean(axis=0)
                for u, items in histories.items()}  # fmt: skip
    text = np.array([
        float(vectors[position[item]] @ interest[user]) if user in interest else -np.inf
        for user, item in zip(test.users, test.items, strict=True)
    ])  # fmt: skip
    counts = history.frame["item_id"].value_counts()
    popularity = np.array([float(counts.get(i, 0)) for i in test.items])
    return {"als": als_scores, "text similarity": text, "popularity": popularity}


def score_row(name: str, fraction: Any, scores: np.ndarray, test: PairSet, **extra: Any) -> Row:
    finite = np.where(np.isfinite(scores), scores, np.nanmin(scores[np.isfinite(scores)]) - 1)
    row = {
        "dataset": f"{TARGET} <- {' + '.join(SOURCES)}",
        "model": name,
        "fraction": fraction,
        "auc": round(auc(test.labels, finite), 4),
        "gauc": round(gauc(test.labels, finite, test.users), 4),
        **extra,
    }
    logger.info("%s", row)
    return row


def ranker_row(
    name: str, fraction: Any, ranker: CTRRanker, test: PairSet, train_s: float, pairs: int
) -> Row:
    proba = ranker.predict_proba(test.contexts, test.candidates)
    return score_row(
        name, fraction, proba, test, logloss=round(log_loss(test.labels, proba), 4),
        train_s=round(train_s, 1), pairs=pairs,
        trainable=ranker.trainable_parameters(),
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fractions", default=",".join(map(str, FRACTIONS)))
    parser.add_argument("--source-users", type=int, default=500, help="per source platform")
    parser.add_argument("--target-users", type=int, default=500, help="target training users")
    parser.add_argument("--test-users", type=int, default=300)
    parser.add_argument("--temperature", type=float, default=0.5)
    parser.add_argument("--pretrain-epochs", type=int, default=1)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--seeds", default="0", help="target subsample and ranker seeds")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    args = parser.parse_args()
    fractions = [float(f) for f in args.fractions.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    started = time.perf_counter()
    common = {"max_length": args.max_length, "num_threads": 2, "progress": True}

    target = load_dataset(TARGET, data_dir=args.data_dir)
    train_pairs = pairs_of(target, args.target_users)
    test = pairs_of(target, args.test_users, period="test")
    baselines = baseline_scores(target, test, item_vectors(target))
    raw = [score_row(name, "baseline", scores, test) for name, scores in baselines.items()]

    def publish() -> None:
        minutes = (time.perf_counter() - started) / 60
        rows = aggregate(raw)
        write_results("ctr_transfer", rows, notes=notes(args, rows, test, minutes))
        plot(rows, RESULTS_DIR / "ctr_transfer.png")

    sources = {name: pairs_of(load_dataset(name, data_dir=args.data_dir), args.source_users)
               for name in SOURCES}  # fmt: skip
    start = time.perf_counter()
    pretrained = pretrain_ranker(
        sources, temperature=args.temperature, mode="lora", lr=LR["lora"],
        max_epochs=args.pretrain_epochs, **common,
    )  # fmt: skip
    pretrain_s = time.perf_counter() - start
    pretrain_pairs = sum(len(p) for p in sources.values())
    raw.append(ranker_row("zero_shot", "any", pretrained, test, pretrain_s, pretrain_pairs))
    publish()
    for seed in seeds:
        for fraction in fractions:
            pairs = subsample_pairs(train_pairs, fraction, random_state=seed)
            fit = {"max_epochs": EPOCHS.get(fraction, 1), "random_state": seed, **common}
            for name in ("from_scratch", "lora", "full"):
                start = time.perf_counter()
                if name == "from_scratch":
                    ranker = CTRRanker(mode="lora", lr=LR[name], **fit)
                    ranker.fit(pairs.contexts, pairs.candidates, pairs.labels, groups=pairs.users)
                else:
                    ranker = adapt_ranker(pretrained, pairs, mode=name, lr=LR[name], **fit)
                train_s = time.perf_counter() - start
                row = ranker_row(name, fraction, ranker, test, train_s, len(pairs))
                raw.append({**row, "seed": seed})
            publish()


def aggregate(raw: list[Row]) -> list[Row]:
    """Rows of one (model, fraction) over seeds: mean metrics and time, ``seeds``, and
    ``gauc_sd`` (standard deviation over seeds) when there are several."""
    groups: dict[tuple[Any, Any], list[Row]] = {}
    for row in raw:
        groups.setdefault((row["model"], row["fraction"]), []).append(row)
    out = []
    for rows in groups.values():
        row = {k: v for k, v in rows[0].items() if k != "seed"}
        for metric in ("auc", "gauc", "logloss", "train_s"):
            if metric in row:
                row[metric] = round(float(np.mean([r[metric] for r in rows])), 4)
        row["seeds"] = len(rows)
        if len(rows) > 1:
            row["gauc_sd"] = round(float(np.std([r["gauc"] for r in rows], ddof=1)), 4)
        out.append(row)
    return out


def notes(args: argparse.Namespace, rows: list[Row], test: PairSet, minutes: float) -> str:
    by = {(r["model"], r["fraction"]): r for r in rows}
    lines = [
        "![CTR transfer curves](results/ctr_transfer.png)\n",
        f"Target test pairs: {len(test)} of {len(set(test.users))} UCI users (test-period next "
        "item against co-visitation hard negatives and random items). Sources: "
        f"{args.source_users} users' validation pairs per Amazon platform, sampled at "
        f"temperature {args.temperature:g}; pretraining {args.pretrain_epochs} epoch(s) of LoRA "
        f"on MiniLM at {args.max_length} tokens. Target training pairs: up to "
        f"{args.target_users} users' validation pairs, whole users per fraction. `train_s` of "
        f"zero_shot is the pretraining time. Seeds {args.seeds} (target subsample, ranker "
        "initialisation and shuffling; one pretrained ranker): rows are means, `gauc_sd` the "
        f"standard deviation over seeds. This run took {minutes:.0f} minutes.",
        "Baselines below 0.5 are expected here: the hard negatives are the co-visitation "
        "retriever's top items, popular and bought with the user's history, so ALS and "
        "popularity rank them above the true next item; AUC counts every pair, GAUC averages "
        "per user.",
    ]
    best_baseline = max((r for r in rows if r["fraction"] == "baseline"), key=lambda r: r["gauc"])
    zero = by.get(("zero_shot", "any"))
    if zero is not None:
        verdict = "beats" if zero["gauc"] > best_baseline["gauc"] else "does NOT beat"
        lines.append(
            f"- zero-shot GAUC {zero['gauc']} {verdict} the best baseline "
            f"({best_baseline['model']}, {best_baseline['gauc']})."
        )
    for fraction in (0.05, 0.1, 0.25):
        scratch = by.get(("from_scratch", fraction))
        if scratch is None:
            continue
        best = max(
            (by[(m, fraction)] for m in ("lora", "full") if (m, fraction) in by),
            key=lambda r: r["gauc"],
        )
        gain = best["gauc"] - scratch["gauc"]
        spread = max(best.get("gauc_sd", 0.0), scratch.get("gauc_sd", 0.0))
        verdict = "transfer helps" if gain > 0 else "NEGATIVE transfer"
        if abs(gain) <= spread:
            verdict = "within the seeds' spread"
        lines.append(
            f"- {fraction:.0%} of the target: best transfer ({best['model']}) GAUC {best['gauc']} "
            f"vs from scratch {scratch['gauc']} ({gain:+.4f}, sd over seeds up to {spread}); "
            f"{verdict}; best baseline {best_baseline['model']} {best_baseline['gauc']}."
        )
    return "\n".join(lines)


def plot(rows: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, marker in (("from_scratch", "o"), ("lora", "s"), ("full", "^")):
        points = sorted(
            (r["fraction"], r["gauc"], r.get("gauc_sd", 0.0)) for r in rows if r["model"] == name
        )
        if points:
            xs, ys, sds = zip(*points, strict=True)
            ax.errorbar(xs, ys, yerr=sds, marker=marker, label=name, capsize=2)
    lines = [("zero_shot", ":", "tab:red"), ("als", "--", "grey"),
             ("text similarity", (0, (1, 3)), "grey"), ("popularity", "-.", "grey")]  # fmt: skip
    for name, style, colour in lines:
        level = [r["gauc"] for r in rows if r["model"] == name]
        if level:
            ax.axhline(level[0], linestyle=style, color=colour, label=name)
    ax.set_xscale("log")
    ax.set_xticks(FRACTIONS, [f"{f:.0%}" for f in FRACTIONS])
    ax.set_xlabel("fraction of the target's training users")
    ax.set_ylabel("GAUC on the target's test pairs (bars: sd over seeds)")
    ax.set_title(f"CTR ranker transfer to {TARGET}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
