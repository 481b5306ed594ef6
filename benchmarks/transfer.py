"""Cross-platform transfer of the text-sequence model: transfer curves and imbalance handling.

Settings: sources Amazon 2023 Electronics + Amazon 2014 Beauty -> target UCI Online Retail; and
within amazon2023_beauty_health_handmade each category as target with the other two as sources.
For each target-data fraction (whole training users; validation and test fixed) it trains from
scratch and adapts the pretrained model (zero-shot, adaptor, full), with popularity alongside;
then compares pretraining temperatures 1, 0.5 and 0 on one setting. Writes
benchmarks/results/transfer.json, transfer.png and the RESULTS.md section.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/transfer.py [--settings uci,bhh,imbalance]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from _results import DATA_DIR, RESULTS_DIR, write_results
from shoprec.data import Dataset, Split
from shoprec.datasets import load_dataset
from shoprec.evaluation import evaluate
from shoprec.models import Popularity, Recommender, TextSequence
from shoprec.transfer import (
    PretrainedTextSequence,
    adapt,
    platform_dataset,
    pretrain,
    subsample_users,
)

FRACTIONS = (0.05, 0.1, 0.25, 0.5, 1.0)
BHH = "amazon2023_beauty_health_handmade"
BHH_PLATFORMS = ("All_Beauty", "Health_and_Personal_Care", "Handmade_Products")
IMBALANCE_TARGET = "Health_and_Personal_Care"  # sources All_Beauty (2.4k users), Handmade (1k)
TRANSFER = ("zero_shot", "adaptor", "full")
# Learning rates: the default for scratch and the adaptor, lower to fine-tune pretrained blocks.
LR = {"from_scratch": 2e-3, "adaptor": 2e-3, "full": 5e-4}


@dataclass
class Setting:
    name: str
    sources: list[Dataset]
    target: Dataset
    pretrain_params: dict[str, Any]
    epochs: dict[float, int]  # target training epochs by fraction (smaller data, more epochs)
    raw: list[dict[str, Any]] = field(default_factory=list)  # one row per run and seed


def model_params(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    return {
        "encoder": args.encoder, "use_ids": False, "random_state": seed, "num_threads": 2,
        "popularity_prior": args.popularity_prior,
    }  # fmt: skip


def setting_name(args: argparse.Namespace, name: str) -> str:
    """Runs with the popularity prior are settings of their own (rows kept side by side)."""
    return f"{name} [popularity prior]" if args.popularity_prior else name


def uci_setting(args: argparse.Namespace) -> Setting:
    sources = [
        load_dataset(n, data_dir=args.data_dir)
        for n in ("amazon2023_electronics", "amazon2014_beauty")
    ]
    target = load_dataset("uci_online_retail", data_dir=args.data_dir)
    return Setting(
        name=setting_name(args, "uci_online_retail <- amazon2023_electronics + amazon2014_beauty"),
        sources=sources,
        target=target,
        # 37.6k source windows: 10 epochs of 8,000 windows, about two passes over the sources
        pretrain_params={"max_epochs": args.pretrain_epochs, "epoch_size": 8000, "patience": 3},
        epochs={0.05: 16, 0.1: 12, 0.25: 8, 0.5: 6, 1.0: 4},
    )


def bhh_settings(args: argparse.Namespace) -> list[Setting]:
    data = load_dataset(BHH, data_dir=args.data_dir)
    platforms = {p: platform_dataset(data, p) for p in BHH_PLATFORMS}
    return [
        Setting(
            name=setting_name(
                args, f"bhh: {target} <- {' + '.join(p for p in BHH_PLATFORMS if p != target)}"
            ),
            sources=[d for p, d in platforms.items() if p != target],
            target=platforms[target],
            pretrain_params={"max_epochs": 20, "patience": 5},
            epochs={0.05: 30, 0.1: 30, 0.25: 20, 0.5: 20, 1.0: 20},
        )
        for target in BHH_PLATFORMS
    ]


def known_users(split: Split) -> Split:
    """Validation restricted to users with training events (their histories are known)."""
    valid = split.valid.select(split.valid.frame["user_id"].isin(set(split.train.user_ids)))
    return Split(train=split.train, valid=valid, test=split.test, protocol=split.protocol)


def score(
    setting: Setting, model: Recommender, name: str, fraction: Any, train_s: float, seed: int
) -> dict[str, Any]:
    result = evaluate(model, setting.target.split, catalog=setting.target.catalog, name=name)
    row = {
        "dataset": setting.name,
        "model": name,
        "fraction": fraction,
        "ndcg@10": result.metrics["ndcg@10"],
        "hr@10": result.metrics["hr@10"],
        "train_s": round(train_s, 1),
        "users": int(result.metrics["users"]),
        "seed": seed,
    }
    print(row, flush=True)
    return row


def fit_one(
    name: str,
    pre: PretrainedTextSequence,
    split: Split,
    target: Dataset,
    params: dict[str, Any],
    fit: dict[str, Any],
) -> Recommender:
    if name == "popularity":
        return Popularity().fit(split.train, target.catalog)
    if name == "from_scratch":
        model = TextSequence(**params, **fit, lr=LR[name])
        return model.fit(split.train, target.catalog, validation=split.valid)
    extra = {k: params[k] for k in ("random_state", "num_threads")}
    return adapt(
        pre, split.train, target.catalog, mode=name, validation=split.valid, **fit, **extra,
        lr=LR[name],
    )  # fmt: skip


def run_curves(
    setting: Setting, args: argparse.Namespace, seed: int, publish: Any
) -> PretrainedTextSequence:
    params = model_params(args, seed)
    start = time.perf_counter()
    pre = pretrain(setting.sources, temperature=1.0, **params, **setting.pretrain_params)
    pretrain_s = time.perf_counter() - start
    target = setting.target
    for name, recenter in (("zero_shot", True), ("zero_shot_source_stats", False)):
        model = adapt(pre, target.split.train, target.catalog, mode="zero_shot", recenter=recenter)
        setting.raw.append(score(setting, model, name, "any", 0.0, seed))
    pretrain_row = {"dataset": setting.name, "model": "pretrain", "fraction": "sources"}
    setting.raw.append({**pretrain_row, "train_s": round(pretrain_s, 1), "seed": seed})
    for fraction in args.fractions:
        split = known_users(subsample_users(target.split, fraction, random_state=seed))
        fit = {"max_epochs": setting.epochs[fraction], "patience": 3}
        for name in ("popularity", "from_scratch", "adaptor", "full"):
            start = time.perf_counter()
            model = fit_one(name, pre, split, target, params, fit)
            train_s = time.perf_counter() - start
            setting.raw.append(score(setting, model, name, fraction, train_s, seed))
        publish()
    return pre


def aggregate(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of the same run over seeds: mean metrics and time, ``seeds``, and ``ndcg_sd`` (the
    standard deviation over seeds) when there are several."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in raw:
        key = (row["dataset"], row["model"], row["fraction"], row.get("temperature"))
        groups.setdefault(key, []).append(row)
    out = []
    for rows in groups.values():
        row = {k: v for k, v in rows[0].items() if k != "seed"}
        for metric in ("ndcg@10", "hr@10", "train_s"):
            values = [r[metric] for r in rows if isinstance(r.get(metric), int | float)]
            if values:
                row[metric] = round(float(np.mean(values)), 1 if metric == "train_s" else 6)
        row["seeds"] = len(rows)
        if len(rows) > 1 and "ndcg@10" in row:
            row["ndcg_sd"] = round(float(np.std([r["ndcg@10"] for r in rows], ddof=1)), 6)
        out.append(row)
    return out


def run_imbalance(
    setting: Setting, pre_t1: PretrainedTextSequence, args: argparse.Namespace, seed: int
) -> list[dict[str, Any]]:
    """Temperatures 1, 0.5, 0: each source served by the pretrained model, and the target
    zero-shot and with the adaptor on 25% of its users."""
    params = model_params(args, seed)
    rows = []
    split = known_users(subsample_users(setting.target.split, 0.25, random_state=seed))
    for temperature in (1.0, 0.5, 0.0):
        start = time.perf_counter()
        pre = (
            pre_t1
            if temperature == 1.0
            else pretrain(
                setting.sources, temperature=temperature, **params, **setting.pretrain_params
            )
        )
        pretrain_s = time.perf_counter() - start
        shares = ", ".join(f"{k} {v:.2f}" for k, v in pre.shares.items())
        evaluated: list[tuple[str, Dataset, Recommender, Any]] = [
            (
                f"source {s.name} (served)",
                s,
                adapt(pre, s.split.train, s.catalog, mode="zero_shot", recenter=False),
                "any",
            )
            for s in setting.sources
        ]
        evaluated.append(
            (
                "target zero_shot",
                setting.target,
                adapt(pre, setting.target.split.train, setting.target.catalog, mode="zero_shot"),
                "any",
            )
        )
        adapted = adapt(
            pre,
            split.train,
            setting.target.catalog,
            mode="adaptor",
            validation=split.valid,
            max_epochs=20,
            patience=3,
            random_state=seed,
            num_threads=2,
        )
        evaluated.append(("target adaptor", setting.target, adapted, 0.25))
        for name, data, model, fraction in evaluated:
            result = evaluate(model, data.split, catalog=data.catalog)
            rows.append({
                "dataset": f"imbalance: {setting.name}",
                "model": name,
                "fraction": fraction,
                "ndcg@10": result.metrics["ndcg@10"],
                "hr@10": result.metrics["hr@10"],
                "train_s": round(pretrain_s, 1),
                "users": int(result.metrics["users"]),
                "seed": seed,
                "temperature": temperature,
                "shares": shares,
            })  # fmt: skip
            print(rows[-1], flush=True)
    return rows


def target_notes(rows: list[dict[str, Any]]) -> str:
    """Per setting: best transfer against from-scratch at each fraction <= 25%, and zero-shot
    against popularity, stated plainly."""
    lines = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows if not r["dataset"].startswith("imb")):
        ndcg = {
            (r["model"], r["fraction"]): r.get("ndcg@10") for r in rows if r["dataset"] == dataset
        }
        zero = ndcg.get(("zero_shot", "any"))
        parts, met = [], True
        for fraction in (0.05, 0.1, 0.25):
            scratch = ndcg.get(("from_scratch", fraction))
            if scratch is None:
                met = False
                continue
            best = max(("adaptor", "full"), key=lambda m: ndcg.get((m, fraction)) or 0.0)
            gain = (ndcg.get((best, fraction)) or 0.0) / max(scratch, 1e-12) - 1
            met &= gain >= 0.15
            parts.append(f"{fraction:.0%}: {best} {gain:+.0%}")
        pops = [v for (m, f), v in ndcg.items() if m == "popularity" and v is not None]
        zero_met = zero is not None and bool(pops) and zero > max(pops)
        lines.append(
            f"- {dataset}: transfer >= +15% over from-scratch at every fraction <= 25%: "
            f"{'MET' if met else 'NOT MET'} ({'; '.join(parts)}); zero-shot > popularity "
            f"(at every fraction): {'MET' if zero_met else 'NOT MET'} (zero-shot "
            f"{zero if zero is not None else float('nan'):.4f}, popularity "
            f"{min(pops, default=float('nan')):.4f}-{max(pops, default=float('nan')):.4f})"
        )
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(r["dataset"] for r in rows if not r["dataset"].startswith("imb")))
    if not datasets:
        return
    columns = min(4, len(datasets))
    grid_rows = -(-len(datasets) // columns)
    fig, axes = plt.subplots(
        grid_rows, columns, figsize=(4.2 * columns, 3.6 * grid_rows), squeeze=False
    )
    for ax in axes.flat[len(datasets) :]:
        ax.set_visible(False)
    for ax, dataset in zip(axes.flat, datasets, strict=False):
        for model in ("from_scratch", *TRANSFER, "popularity"):
            points = [
                (r["fraction"], r["ndcg@10"], r.get("ndcg_sd", 0.0))
                for r in rows
                if r["dataset"] == dataset
                and r["model"] == model
                and isinstance(r["fraction"], float)
            ]
            if model == "zero_shot":  # no target training: the same at every fraction
                zero = [r for r in rows if r["dataset"] == dataset and r["model"] == model]
                points = [(f, zero[0]["ndcg@10"], 0.0) for f in FRACTIONS] if zero else []
            if points:
                xs, ys, sds = zip(*sorted(points), strict=True)
                style = "--" if model in ("zero_shot", "popularity") else "-"
                ax.errorbar(xs, ys, yerr=sds, marker="o", label=model, linestyle=style, capsize=2)
        ax.set_xscale("log")
        ax.set_xticks(FRACTIONS, [f"{f:.0%}" for f in FRACTIONS])
        ax.set_title(dataset.replace(" <- ", "\n<- "), fontsize=8)
        ax.set_xlabel("target training users")
        ax.set_ylabel("test NDCG@10 (bars: sd over seeds)")
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


NOTES = """\
![transfer curves](results/transfer.png)

Protocol: each target keeps its own split (UCI: global temporal; bhh categories: the dataset's
global temporal cut restricted to the category). A fraction keeps that share of the target's
training users (whole users, nested samples per seed); validation and test events are unchanged,
and every model is evaluated on the full target test with the users' full histories (full
ranking, history excluded), so the fractions differ only in what the model trained on.
Validation (early stopping) uses the validation events of the sampled users. All models are the
text-only TextSequence (2 blocks, width 64, MoE adaptor over frozen MiniLM ONNX int8 vectors):
`from_scratch` trains it on the target only; `zero_shot` is the pretrained network on the
target catalog with nothing trained (the same at every fraction; whitening statistics of the
target catalog; `zero_shot_source_stats` keeps the sources' statistics); `adaptor` trains only
the MoE adaptor and the event-type/time-gap embeddings (blocks, positions, norm and start token
frozen); `full` fine-tunes everything from the pretrained weights (lr 5e-4; scratch and adaptor
2e-3). Pretraining: temperature 1, per-platform softmax, source train splits, early stopping on
the sources' validation. `users`: test users evaluated; with a few hundred users (bhh) the
standard error of NDCG@10 is about as large as the differences (HR@10 0.02 over 350 users has
a standard error of 0.0075), so read those curves as noise unless the gap is large.
`train_s`: wall time of the fit on a shared 2-core machine (other jobs ran alongside).
With several seeds (subsample, initialisation, pretraining), rows are means and `ndcg_sd` the
standard deviation over seeds.

Imbalance rows (`imbalance: ...`, target Health & Personal Care; source All_Beauty has 2.4k
training users, Handmade 1k): pretraining temperature T = 1 (proportional), 0.5 and 0 (uniform
over platforms), `shares` the sources' shares of every epoch; `source X (served)` is the
pretrained model serving source X's own test (its catalog, the pretraining whitening);
`target zero_shot`, and `target adaptor` on 25% of the target's users; `train_s` there is the
pretraining time (0 at T = 1, whose model is the curves' one).

Settings marked `[popularity prior]` run every text-sequence model, from scratch and transferred
alike, with `TextSequence(popularity_prior=True)`: each item's score gains a learned weight times
its standardised log training-event count (standardised per platform when pretraining). The
weight is learned on the sources; zero-shot applies it to the target's own counts (the
statistics the popularity baseline uses; nothing is trained on the target), and the adaptor
mode also trains it.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", default="uci,bhh,imbalance")
    parser.add_argument("--fractions", default=",".join(map(str, FRACTIONS)))
    parser.add_argument("--encoder", default="onnx", choices=["onnx", "minilm", "hashing"])
    parser.add_argument("--pretrain-epochs", type=int, default=10)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--seeds", default="0", help="bhh and imbalance seeds (UCI: the first)")
    parser.add_argument("--keep", action="store_true", help="keep other settings' saved rows")
    parser.add_argument(
        "--popularity-prior",
        action="store_true",
        help="every text-sequence model with TextSequence(popularity_prior=True)",
    )
    args = parser.parse_args()
    args.fractions = [float(f) for f in args.fractions.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    chosen = args.settings.split(",")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    started = time.perf_counter()
    settings: list[Setting] = []
    imbalance: list[dict[str, Any]] = []
    saved = RESULTS_DIR / "transfer.json"
    previous = json.loads(saved.read_text()) if args.keep and saved.exists() else {"rows": []}
    kept = previous["rows"]

    def publish() -> None:
        rows = aggregate([r for s in settings for r in s.raw] + imbalance)
        fresh = {r["dataset"] for r in rows}
        rows = [r for r in kept if r["dataset"] not in fresh] + rows
        RESULTS_DIR.mkdir(exist_ok=True)
        plot(rows, RESULTS_DIR / "transfer.png")
        minutes = (time.perf_counter() - started) / 60
        budget = (
            f"\nBudget: this run took {minutes:.0f} minutes (seeds {args.seeds}); pretraining on "
            f"the Amazon sources {args.pretrain_epochs} epochs x 8,000 windows; target epochs by "
            "fraction in the script (more for smaller fractions, early stopping, patience 3).\n"
        )
        reused = sorted({r["dataset"] for r in rows} - fresh)
        if reused:
            budget += (
                f"Rows of {'; '.join(reused)} are kept from the previous run "
                f"(`{previous['command']}`, {previous['date']}).\n"
            )
        write_results("transfer", rows, notes=NOTES + budget + "\n" + target_notes(rows))

    if "bhh" in chosen or "imbalance" in chosen:
        for setting in bhh_settings(args):
            if "bhh" not in chosen and setting.target.name != IMBALANCE_TARGET:
                continue
            settings.append(setting)
            for seed in seeds:
                pre = run_curves(setting, args, seed, publish)
                if "imbalance" in chosen and setting.target.name == IMBALANCE_TARGET:
                    imbalance += run_imbalance(setting, pre, args, seed)
                    publish()
    if "uci" in chosen:
        settings.append(uci_setting(args))
        run_curves(settings[-1], args, seeds[0], publish)
    publish()


if __name__ == "__main__":
    main()
