"""Review sentiment: VADER on clear sentences, thresholds, the rating fallback, aggregates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shoprec.data import Interactions
from shoprec.exceptions import ValidationError
from shoprec.text import (
    SentimentLabel,
    event_sentiments,
    item_sentiment,
    label_sentiment,
    rating_to_sentiment,
    sentiment_score,
    sentiment_scores,
    user_sentiment,
)


def test_clear_sentences_get_the_obvious_polarity() -> None:
    scores = sentiment_scores(
        [
            "I love these headphones, they are excellent!",
            "Terrible quality, it broke after a day. Awful.",
            "The box contains a cable and a manual.",
            "not good",
            "",
        ]
    )
    assert scores.shape == (5,) and scores.dtype == np.float64
    assert scores[0] > 0.5
    assert scores[1] < -0.5
    assert scores[2] == 0.0
    assert scores[3] < 0  # negation flips "good"
    assert scores[4] == 0.0
    assert np.all((scores >= -1) & (scores <= 1))


def test_labels_follow_the_documented_thresholds() -> None:
    assert label_sentiment(0.05) is SentimentLabel.POSITIVE
    assert label_sentiment(0.0499) is SentimentLabel.NEUTRAL
    assert label_sentiment(-0.0499) is SentimentLabel.NEUTRAL
    assert label_sentiment(-0.05) is SentimentLabel.NEGATIVE
    assert label_sentiment(sentiment_score("Awful, useless junk.")) is SentimentLabel.NEGATIVE


def test_rating_fallback_maps_the_scale_onto_minus_one_to_one() -> None:
    assert rating_to_sentiment(1) == -1.0
    assert rating_to_sentiment(3) == 0.0
    assert rating_to_sentiment(4) == 0.5
    assert rating_to_sentiment(5) == 1.0
    assert rating_to_sentiment(7) == 1.0  # clipped
    assert rating_to_sentiment(0.5, scale=(0.5, 5.0)) == -1.0
    np.testing.assert_allclose(rating_to_sentiment(np.array([1.0, 2.0])), [-1.0, -0.5])
    with pytest.raises(ValidationError):
        rating_to_sentiment(3, scale=(5.0, 1.0))


def _interactions() -> Interactions:
    rows = [
        ("u1", "a", "review", 1, 5.0, "Excellent, I love it"),
        ("u1", "b", "rating", 2, 1.0, ""),
        ("u2", "a", "rating", 3, 5.0, ""),
        ("u2", "b", "view", 4, np.nan, ""),  # neither text nor rating: left out
        ("u2", "c", "review", 5, np.nan, "Terrible quality, it broke after a day. Awful."),
    ]
    columns = ["user_id", "item_id", "event_type", "timestamp", "rating", "review"]
    return Interactions(pd.DataFrame(rows, columns=columns))


def test_event_sentiments_prefer_text_and_record_the_fallback() -> None:
    events = event_sentiments(_interactions())
    assert list(events["source"]) == ["review", "rating", "rating", "review"]
    assert events["sentiment"].iloc[0] == pytest.approx(sentiment_score("Excellent, I love it"))
    assert list(events["sentiment"].iloc[1:3]) == [-1.0, 1.0]


def test_item_and_user_aggregates_count_each_source() -> None:
    positive = sentiment_score("Excellent, I love it")
    negative = sentiment_score("Terrible quality, it broke after a day. Awful.")
    items = item_sentiment(_interactions())
    assert list(items.index) == ["a", "b", "c"]
    assert items.loc["a", "sentiment"] == pytest.approx((positive + 1.0) / 2)
    assert items.loc["a", ["n_reviews", "n_ratings", "source"]].tolist() == [1, 1, "mixed"]
    assert items.loc["b", ["sentiment", "source"]].tolist() == [-1.0, "rating"]
    assert items.loc["c", ["sentiment", "source"]].tolist() == [pytest.approx(negative), "review"]
    users = user_sentiment(_interactions())
    assert users.loc["u1", "sentiment"] == pytest.approx((positive - 1.0) / 2)
    assert users.loc["u2", "sentiment"] == pytest.approx((1.0 + negative) / 2)


def test_aggregates_of_events_without_sentiment_are_empty() -> None:
    frame = pd.DataFrame({"user_id": ["u"], "item_id": ["a"], "event_type": ["view"]})
    items = item_sentiment(Interactions(frame))
    assert items.empty and list(items.columns) == ["sentiment", "n_reviews", "n_ratings", "source"]
