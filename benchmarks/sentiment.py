"""VADER review sentiment against rating-derived labels on MovieLens free-text tags.

The shared e-commerce datasets carry almost no review text, so the check uses MovieLens
(ml-latest-small 2016): each tag whose author also rated the movie is labelled positive when
that rating is >= 4 and negative when it is <= 2 (2.5-3.5 left out). Writes benchmarks/results/
sentiment.json and the `sentiment` section of benchmarks/RESULTS.md.

    python benchmarks/sentiment.py [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

from _results import write_results
from shoprec.exceptions import DatasetNotFoundError
from shoprec.metrics import auc
from shoprec.text import NEGATIVE_THRESHOLD, POSITIVE_THRESHOLD, sentiment_scores

FOLDER = "movielens_latest_small_2016"
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"
NOTES = """\
Labels: a MovieLens tag is positive when its author rated the movie >= 4, negative when <= 2
(ratings 2.5-3.5 and tags without a rating by their author are left out): {n_tags} labelled tags
({share_pos:.0%} positive) of {n_raw}. VADER's compound score labels a tag positive at >= {pos},
negative at <= {neg}, neutral in between. `non-neutral tags`: only the tags VADER scores outside
the neutral band; `all tags`: neutral ones are predicted as the majority class and AUC ranks by
the raw compound score (ties count one half). `coverage`: share of the labelled tags VADER scores
non-neutral. The majority-class rows predict the subset's majority label.

This is a weak test and a weak result. Tags are one or two words (median one): names, topics and
list markers ("Quentin Tarantino", "aliens", "toplist08") that VADER rightly finds neutral, and
negative-sounding content words ("revenge", "tragedy", "violence") on films the user liked.
Where VADER does find polarity it ranks well (AUC above 0.8 on that subset) and beats the
majority class on macro-F1, but not on accuracy, because the labels are mostly positive. VADER
is built for review sentences, which the shared shop datasets do not carry; whether it does
better on them is untested until review text is available.
"""


def labelled_tags(data_dir: Path) -> tuple[pd.DataFrame, int]:
    """Tags joined with their author's rating of the movie, labelled; and the raw tag count."""
    folder = data_dir / FOLDER
    if not folder.is_dir():
        raise DatasetNotFoundError(f"{FOLDER} not found under {data_dir}; pass --data-dir")
    tags = pd.read_csv(folder / "tags.csv", dtype={"tag": str}, keep_default_na=False)
    ratings = pd.read_csv(folder / "ratings.csv", usecols=["userId", "movieId", "rating"])
    joined = tags.merge(ratings, on=["userId", "movieId"], how="inner")
    joined = joined[(joined["rating"] >= 4) | (joined["rating"] <= 2)].reset_index(drop=True)
    joined["label"] = (joined["rating"] >= 4).astype(int)
    return joined, len(tags)


def _metrics(labels: np.ndarray, predicted: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    both_classes = 0 < labels.sum() < len(labels)
    return {
        "n": len(labels),
        "accuracy": float((predicted == labels).mean()),
        "macro_f1": float(f1_score(labels, predicted, average="macro", zero_division=0)),
        "auc": auc(labels, scores) if both_classes else float("nan"),
    }


def evaluate(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """VADER and majority-class rows on the non-neutral subset and on all labelled tags."""
    labels = frame["label"].to_numpy()
    scores = sentiment_scores(frame["tag"])
    non_neutral = (scores >= POSITIVE_THRESHOLD) | (scores <= NEGATIVE_THRESHOLD)
    coverage = float(non_neutral.mean())
    majority = int(labels.mean() >= 0.5)
    predicted = np.where(non_neutral, (scores > 0).astype(int), majority)
    rows = []
    for subset, mask in (
        ("non-neutral tags", non_neutral),
        ("all tags", np.ones_like(labels, bool)),
    ):
        sub_labels = labels[mask]
        rows.append(
            {
                "subset": subset,
                "method": "vader",
                **_metrics(sub_labels, predicted[mask], scores[mask]),
                "coverage": coverage,
            }
        )
        constant = np.full(len(sub_labels), int(sub_labels.mean() >= 0.5))  # subset's majority
        rows.append(
            {
                "subset": subset,
                "method": "majority class",
                **_metrics(sub_labels, constant, constant.astype(float)),
                "coverage": 1.0,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", type=Path, default=os.environ.get("SHOPREC_DATA_DIR") or DEFAULT_DATA_DIR
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    frame, n_raw = labelled_tags(Path(args.data_dir))
    rows = evaluate(frame)
    for row in rows:
        print(row, flush=True)
    notes = NOTES.format(
        pos=POSITIVE_THRESHOLD,
        neg=NEGATIVE_THRESHOLD,
        n_tags=len(frame),
        share_pos=float(frame["label"].mean()),
        n_raw=n_raw,
    )
    write_results("sentiment", rows, notes=notes)


if __name__ == "__main__":
    main()
