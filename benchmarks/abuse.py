"""Bot and shilling attacks on real data: detection quality and what the filter saves.

For each dataset the training events get one attack at a time (shoprec.quality.simulate_attack):
click bots, average and bandwagon push attacks at 1% and 3% of users, a purchase burst from new
accounts. The AbuseDetector runs on the attacked events; its flags are scored against the fake
accounts (precision, recall, false-positive rate among real users). Each model is then trained
three ways - clean, attacked, attacked with the flagged accounts' events quarantined - and the
target item's exposure is measured: the share of real test users whose top 10 (history excluded)
holds it. The filter's cost is NDCG@10 on the clean data, with and without it.

    python benchmarks/abuse.py [--datasets ...] [--models covisitation,trending,ltr]
        [--attacks average@3%,...] [--seed 2] [--text-epochs 1] [--merge]

--merge keeps the rows of earlier runs (other datasets, models or attacks) in abuse.json, so
the expensive models can run on a subset. `ltr` is the learned ranking stage without its
language-model features (text=False), to keep its 14 fits per dataset affordable.

Detector thresholds were tuned on amazon2023_electronics attacks simulated with seed 1; this
script runs seed 2 (other targets and profiles) everywhere.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from _results import DATA_DIR, RESULTS_DIR, RESULTS_MD, write_results
from shoprec.data import Interactions, Split
from shoprec.datasets import load_dataset
from shoprec.evaluation import evaluate
from shoprec.models import Recommender, create_recommender
from shoprec.quality import AbuseDetector, AttackConfig, quarantine, simulate_attack

DATASETS = ("amazon2023_electronics", "amazon2014_beauty", "uci_online_retail")
ATTACKS = (
    ("click_bot", 0.01),
    ("average", 0.01),
    ("average", 0.03),
    ("bandwagon", 0.01),
    ("bandwagon", 0.03),
    ("purchase_burst", 0.01),
)
NOTES = """\
Rows: one per dataset, attack and model (`clean`/`detector`: the detector on the untouched data).
precision / recall / fpr: the detector's flags against the simulated accounts (fpr = flagged real
users / real users). exposure_*: share of real test users whose top 10 (history excluded) holds
the target, for the model trained on clean, attacked, and attacked data with the flagged
accounts' events quarantined. ndcg@10_clean / ndcg@10_filtered: the model on the clean data
without and with the filter (its false positives' events held out); the same on every row of a
dataset. Targets (issue 18): recall >= .9 at fpr <= .01 per attack; exposure_filtered <= 1.5 x
exposure_clean; the filter costs <= 1% NDCG@10 on clean data.

`trending` is popularity with a 30-day half-life; on order-only Beauty it is plain popularity.
Setup: thresholds tuned on Electronics attacks simulated with seed 1 (Electronics with positions
instead of times for the order-only test); these rows are seed 2 (other targets and profiles).
Electronics is therefore in-sample for the thresholds; Beauty and UCI are held out. Fake
accounts are new (all their events in the last 7 days of training; the burst in the last 24 h),
push profiles take their sizes from the real users', click bots view 100-500 random items 1-30
s apart, a tenth of the views on the target (bots are hired to inflate views).

Measured. Electronics (tuning): every attack caught (recall .99-1.0, fpr .0015-.0039), the
target's exposure back to its clean level (0) for both models, no NDCG cost. UCI (held out):
click bots caught (1.0); push attacks only partly (recall .62-.68: the accounts whose profiles
are long sessions of distinct actions; the item-level test does not fire: 41-123 accounts
spread over a week are within what a gift shop's new customers do to an item), the burst not at
all (its target scores 6.0 against a threshold of 7.3; UCI's own items reach 5.4); fpr .0007.
Even so the filter undoes most of the push: trending exposure .95 -> .0009 (clean 0) and
co-visitation within 1.28x of clean. Beauty (held out, order-only: no times, so no bursts to
see): click bots and the purchase burst caught (recall 1.0, fpr 0), average and bandwagon
attacks not at all (recall 0): nothing in the baskets alone separates them at 1% fpr (tried:
co-occurrence coherence and lift of the target's neighbours, the supporters' popularity). So
the targets are met on the tuning data and missed on the held-out data for push attacks (UCI,
Beauty) and for the UCI burst; the NDCG cost target is met everywhere (at most 0.2%).

The learned ranking stage (`ltr`, `LearnedRanking(text=False)`: co-visitation, ALS, popularity
and trending sources under LambdaRank; on Electronics only): the attacks hardly reach its top
10 (exposure at most .0009 attacked, 0 clean and filtered), and its NDCG@10 with the filter
is 8% lower (.0205 vs .0223), a miss of the 1% target that this run cannot separate from the
fit's own variance (the ranker's early stopping kept 5 rounds in one fit and 26 in another on
near-identical data; the filter removed 23 accounts, 0.15%); more seeds would tell.

Missing: text_sequence (1 epoch, Electronics, two attacks) was started but not finished: on this
shared machine (load average above 20) one epoch took 25 minutes against 6 fits needed; ltr
rows on Beauty and UCI were not run for the same reason. Run them with `--models text_sequence
--datasets amazon2023_electronics --attacks bandwagon@3%,purchase_burst@1% --merge` and
`--models ltr --merge`.
"""


def make_model(name: str, *, seed: int, text_epochs: int) -> Recommender:
    """The benchmark's models: co-visitation, trending popularity, the text-sequence model and
    the learned ranking stage."""
    if name == "trending":
        return create_recommender("popularity", half_life_days=30.0)
    if name == "text_sequence":
        return create_recommender(
            "text_sequence", max_epochs=text_epochs, random_state=seed, encoder="onnx"
        )
    if name == "ltr":
        from shoprec.ranking import LearnedRanking

        return LearnedRanking(text=False, random_state=seed)
    return create_recommender(name)


def attack_name(kind: str, fraction: float) -> str:
    return f"{kind}@{fraction:.0%}"


def merged(rows: list[dict]) -> list[dict]:
    """Earlier rows of abuse.json whose (dataset, attack, model) this run did not produce, then
    this run's rows."""
    path = RESULTS_DIR / "abuse.json"
    keys = {(r["dataset"], r["attack"], r["model"]) for r in rows}
    old = json.loads(path.read_text())["rows"] if path.exists() else []
    kept = [r for r in old if (r["dataset"], r["attack"], r["model"]) not in keys]
    return sorted(kept + rows, key=lambda r: (r["dataset"], r["model"] != "detector", r["model"]))


def exposure(
    model: Recommender, users: np.ndarray, targets: np.ndarray, *, batch: int = 1024
) -> float:
    """Share of ``users`` whose top 10 (their history excluded) holds one of ``targets``."""
    hits = 0
    for start in range(0, len(users), batch):  # a batch's scores are batch x n_items floats
        ids, _ = model.recommend(list(users[start : start + batch]), k=10)
        hits += int(np.isin(ids, targets).any(axis=1).sum())
    return hits / max(len(users), 1)


def detection(flagged: np.ndarray, fake: np.ndarray, users: np.ndarray) -> dict[str, float]:
    """Precision, recall and false-positive rate of ``flagged`` against the ``fake`` accounts."""
    is_flagged = np.isin(users, flagged)
    is_fake = np.isin(users, fake)
    tp = int((is_flagged & is_fake).sum())
    fp = int((is_flagged & ~is_fake).sum())
    return {
        "precision": tp / max(tp + fp, 1),
        "recall": tp / max(int(is_fake.sum()), 1) if len(fake) else float("nan"),
        "fpr": fp / max(int((~is_fake).sum()), 1),
    }


def fit(make: Callable[[], Recommender], train: Interactions, split: Split, catalog) -> Recommender:
    model = make()
    model.fit(train, catalog, validation=split.valid if len(split.valid) else None)
    return model


def run_dataset(name: str, args: argparse.Namespace, rows: list[dict]) -> None:
    dataset = load_dataset(name, data_dir=args.data_dir)
    split, catalog = dataset.split, dataset.catalog
    train = split.train
    test_users = np.asarray(split.test.user_ids, dtype=object)
    started = time.perf_counter()
    clean_flags = AbuseDetector(random_state=args.seed).fit(train, catalog).flagged_users_
    clean_filtered = quarantine(train, clean_flags)
    rows.append(
        {
            "dataset": name,
            "attack": "clean",
            "model": "detector",
            **detection(clean_flags, np.array([], dtype=object), train.user_ids),
            "detect_s": round(time.perf_counter() - started, 1),
        }
    )
    chosen = args.attacks.split(",") if args.attacks else None
    attacks = [
        simulate_attack(train, AttackConfig(kind, fraction=fraction), random_state=args.seed)
        for kind, fraction in ATTACKS
        if chosen is None or attack_name(kind, fraction) in chosen
    ]
    detected = []
    for attack in attacks:
        started = time.perf_counter()
        flags = AbuseDetector(random_state=args.seed).fit(attack.interactions, catalog)
        detected.append(
            (
                detection(flags.flagged_users_, attack.fake_users, attack.interactions.user_ids),
                quarantine(attack.interactions, flags.flagged_users_),
                round(time.perf_counter() - started, 1),
            )
        )
        rows.append(
            {
                "dataset": name,
                "attack": attack_name(attack.config.kind, attack.config.fraction),
                "model": "detector",
                **detected[-1][0],
                "fake_users": len(attack.fake_users),
                "detect_s": detected[-1][2],
            }
        )
        logging.info("%s", rows[-1])
    save(rows, args)  # detection alone is worth keeping if the model fits do not finish
    for model_name in filter(None, args.models.split(",")):
        make = lambda n=model_name: make_model(n, seed=args.seed, text_epochs=args.text_epochs)  # noqa: E731
        clean = fit(make, train, split, catalog)
        filtered = fit(make, clean_filtered.interactions, split, catalog)
        ndcg_clean = evaluate(clean, split, batch_size=512).metrics["ndcg@10"]
        filtered_split = replace(split, train=clean_filtered.interactions)
        ndcg_filtered = evaluate(filtered, filtered_split, batch_size=512).metrics["ndcg@10"]
        for attack, (scores, kept, detect_s) in zip(attacks, detected, strict=True):
            attacked = fit(make, attack.interactions, split, catalog)
            cleaned = fit(make, kept.interactions, split, catalog)
            rows.append(
                {
                    "dataset": name,
                    "attack": attack_name(attack.config.kind, attack.config.fraction),
                    "model": model_name,
                    **scores,
                    "exposure_clean": exposure(clean, test_users, attack.targets),
                    "exposure_attacked": exposure(attacked, test_users, attack.targets),
                    "exposure_filtered": exposure(cleaned, test_users, attack.targets),
                    "ndcg@10_clean": ndcg_clean,
                    "ndcg@10_filtered": ndcg_filtered,
                    "fake_users": len(attack.fake_users),
                    "detect_s": detect_s,
                }
            )
            logging.info("%s", rows[-1])
        save(rows, args)


def save(rows: list[dict], args: argparse.Namespace) -> None:
    write_results(args.name, merged(rows) if args.merge else rows, notes=NOTES)


def combine(names: list[str]) -> None:
    """Fold the rows of partial runs (``--name``) into abuse.json and drop their files."""
    rows: list[dict] = []
    commands = []
    for name in names:
        path = RESULTS_DIR / f"{name}.json"
        record = json.loads(path.read_text())
        rows += record["rows"]
        commands.append(record["command"])
    base = json.loads((RESULTS_DIR / "abuse.json").read_text())
    command = " && ".join([base["command"], *commands])
    write_results("abuse", merged(rows), notes=NOTES, command=command)
    for name in names:
        (RESULTS_DIR / f"{name}.json").unlink()
        drop_section(name)


def drop_section(name: str) -> None:
    """Remove a partial run's section from RESULTS.md."""
    import re

    text = RESULTS_MD.read_text()
    pattern = rf"\n*<!-- {re.escape(name)}:start -->.*?<!-- {re.escape(name)}:end -->\n?"
    RESULTS_MD.write_text(re.sub(pattern, "\n", text, flags=re.S))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--models", default="covisitation,trending,ltr")
    parser.add_argument("--data-dir", default=DATA_DIR)
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--text-epochs", type=int, default=1)
    parser.add_argument("--attacks", default="", help="e.g. bandwagon@3%%,purchase_burst@1%%")
    parser.add_argument("--merge", action="store_true", help="keep other rows of abuse.json")
    parser.add_argument("--name", default="abuse", help="results name (parallel partial runs)")
    parser.add_argument("--combine", default="", help="fold these partial runs into abuse.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if args.combine:
        combine(args.combine.split(","))
        return
    rows: list[dict] = []
    for name in args.datasets.split(","):
        run_dataset(name, args, rows)
    save(rows, args)


if __name__ == "__main__":
    main()
