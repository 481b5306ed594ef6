"""Review sentiment: VADER compound scores, labels, and per-item / per-user aggregates.

VADER (Hutto & Gilbert, "VADER: A Parsimonious Rule-based Model for Sentiment Analysis of Social
Media Text", ICWSM 2014) scores English text with a sentiment lexicon plus rules for negation,
intensifiers, punctuation and capitals; its compound score lies in [-1, 1]. It needs no training
and no model download (the lexicon ships in the ``vaderSentiment`` wheel), but it is English-only
and weak on short domain phrases ("dentist", "twist ending").

Events without review text but with a star rating fall back to the rating mapped linearly onto
[-1, 1] (:func:`rating_to_sentiment`); the aggregates count both sources separately and say which
one their mean rests on.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

from shoprec.data import Interactions
from shoprec.exceptions import ValidationError

__all__ = [
    "DEFAULT_RATING_SCALE",
    "NEGATIVE_THRESHOLD",
    "POSITIVE_THRESHOLD",
    "SentimentLabel",
    "SentimentSource",
    "event_sentiments",
    "item_sentiment",
    "label_sentiment",
    "rating_to_sentiment",
    "sentiment_score",
    "sentiment_scores",
    "user_sentiment",
]

logger = logging.getLogger(__name__)

# The thresholds VADER's authors recommend for the compound score.
POSITIVE_THRESHOLD = 0.05
NEGATIVE_THRESHOLD = -0.05
DEFAULT_RATING_SCALE = (1.0, 5.0)


class SentimentLabel(StrEnum):
    """Polarity of a text: compound >= 0.05 positive, <= -0.05 negative, otherwise neutral."""

    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


class SentimentSource(StrEnum):
    """What a sentiment value rests on: review text, the rating fallback, or both."""

    MIXED = "mixed"
    RATING = "rating"
    REVIEW = "review"


@functools.cache
def _analyzer() -> Any:
    # Built on first use (loading the lexicon takes ~0.1 s), never at import time.
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def sentiment_score(text: str) -> float:
    """VADER compound score of one text in [-1, 1]; 0.0 for empty or whitespace-only text."""
    if not text or not text.strip():
        return 0.0
    return float(_analyzer().polarity_scores(text)["compound"])


def sentiment_scores(texts: Iterable[str]) -> np.ndarray:
    """VADER compound scores of many texts.

    Parameters
    ----------
    texts
        English texts; empty ones score 0.0 (neutral).

    Returns
    -------
    np.ndarray
        Shape ``(n_texts,)``, float64, values in [-1, 1].
    """
    return np.array([sentiment_score(t) for t in texts], dtype=np.float64)


def label_sentiment(score: float) -> SentimentLabel:
    """The label of a compound score: see :data:`POSITIVE_THRESHOLD`, :data:`NEGATIVE_THRESHOLD`."""
    if score >= POSITIVE_THRESHOLD:
        return SentimentLabel.POSITIVE
    if score <= NEGATIVE_THRESHOLD:
        return SentimentLabel.NEGATIVE
    return SentimentLabel.NEUTRAL


def rating_to_sentiment(
    rating: float | np.ndarray, *, scale: tuple[float, float] = DEFAULT_RATING_SCALE
) -> float | np.ndarray:
    """Map a star rating linearly onto [-1, 1]: the scale's minimum to -1, maximum to +1.

    Ratings outside ``scale`` are clipped. With the default 1-5 scale, 3 stars is 0.0 and
    4 stars 0.5.
    """
    low, high = scale
    if not high > low:
        raise ValidationError(f"rating scale {scale} must have low < high", field="scale")
    mapped = np.clip(2.0 * (np.asarray(rating, dtype=np.float64) - low) / (high - low) - 1.0, -1, 1)
    return float(mapped) if np.ndim(mapped) == 0 else mapped


def event_sentiments(
    interactions: Interactions, *, rating_scale: tuple[float, float] = DEFAULT_RATING_SCALE
) -> pd.DataFrame:
    """The sentiment each event expresses: its review text, else its rating.

    Parameters
    ----------
    interactions
        Events of any type; those without review text and without a rating are left out.
    rating_scale
        ``(min, max)`` of the ratings, for the fallback.

    Returns
    -------
    pd.DataFrame
        Columns ``user_id``, ``item_id``, ``sentiment`` (float in [-1, 1]) and ``source``
        (``"review"`` or ``"rating"``), one row per event that carries either.
    """
    frame = interactions.frame
    has_text = frame["review"].str.strip() != ""
    has_rating = frame["rating"].notna() & ~has_text
    keep = has_text | has_rating
    out = frame.loc[keep, ["user_id", "item_id"]].copy()
    values = np.zeros(int(keep.sum()))
    text_rows = has_text[keep].to_numpy()
    values[text_rows] = sentiment_scores(frame.loc[has_text, "review"])
    values[~text_rows] = rating_to_sentiment(
        frame.loc[has_rating, "rating"].to_numpy(), scale=rating_scale
    )
    out["sentiment"] = values
    out["source"] = np.where(text_rows, SentimentSource.REVIEW.value, SentimentSource.RATING.value)
    return out.reset_index(drop=True)


def _aggregate(events: pd.DataFrame, key: str) -> pd.DataFrame:
    """Mean sentiment per ``key`` with counts per source."""
    columns = ["sentiment", "n_reviews", "n_ratings", "source"]
    if events.empty:
        return pd.DataFrame(columns=columns, index=pd.Index([], name=key))
    is_review = events["source"] == SentimentSource.REVIEW.value
    grouped = events.assign(review=is_review, rating=~is_review).groupby(key, sort=True)
    out = pd.DataFrame(
        {
            "sentiment": grouped["sentiment"].mean(),
            "n_reviews": grouped["review"].sum().astype(np.int64),
            "n_ratings": grouped["rating"].sum().astype(np.int64),
        }
    )
    out["source"] = np.select(
        [out["n_ratings"] == 0, out["n_reviews"] == 0],
        [SentimentSource.REVIEW.value, SentimentSource.RATING.value],
        default=SentimentSource.MIXED.value,
    )
    return out


def item_sentiment(
    interactions: Interactions, *, rating_scale: tuple[float, float] = DEFAULT_RATING_SCALE
) -> pd.DataFrame:
    """Mean sentiment of each item's reviews (rating fallback per event without text).

    Returns
    -------
    pd.DataFrame
        Indexed by ``item_id`` (sorted); columns ``sentiment`` (mean in [-1, 1]), ``n_reviews``,
        ``n_ratings`` (events scored from text / from the rating fallback) and ``source``
        (:class:`SentimentSource` value). Items without such events are absent.
    """
    events = event_sentiments(interactions, rating_scale=rating_scale)
    return _aggregate(events[events["item_id"] != ""], "item_id")


def user_sentiment(
    interactions: Interactions, *, rating_scale: tuple[float, float] = DEFAULT_RATING_SCALE
) -> pd.DataFrame:
    """Mean sentiment of each user's reviews (rating fallback); columns as :func:`item_sentiment`,
    indexed by ``user_id``."""
    return _aggregate(event_sentiments(interactions, rating_scale=rating_scale), "user_id")
