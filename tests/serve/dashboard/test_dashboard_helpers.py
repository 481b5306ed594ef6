"""The dashboard's pure helpers: latency quantiles from histogram buckets, time buckets, and
plots that escape what they draw."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from shoprec.serve.dashboard._service_stats import histogram_quantile
from shoprec.serve.dashboard._store_stats import bucket_for, time_buckets
from shoprec.serve.dashboard._svg import bar_chart, interval_chart, line_chart, meter


def test_histogram_quantile_matches_the_sample_within_a_bucket() -> None:
    rng = np.random.default_rng(0)
    sample = rng.uniform(0.0, 0.1, 10_000)  # uniform: linear interpolation is exact in theory
    bounds = [0.01, 0.025, 0.05, 0.1, math.inf]
    buckets = [(b, float((sample <= b).sum())) for b in bounds]
    for q in (0.5, 0.9, 0.99):
        assert abs(histogram_quantile(q, buckets) - np.quantile(sample, q)) < 0.002
    assert math.isnan(histogram_quantile(0.5, [(0.1, 0.0), (math.inf, 0.0)]))
    # beyond the last finite bound the quantile is that bound, as in Prometheus
    assert histogram_quantile(0.99, [(0.1, 1.0), (math.inf, 100.0)]) == 0.1


def test_time_buckets_follow_the_span() -> None:
    minute, hour, day = 60_000, 3_600_000, 86_400_000
    assert bucket_for(0, 2 * hour) == "minute"
    assert bucket_for(0, 30 * hour) == "hour"
    assert bucket_for(0, 3 * day) == "day"
    stamps = pd.Series([1_700_000_000_000, 1_700_000_000_000 + 61 * minute])
    assert list(time_buckets(stamps, per="minute")) == ["2023-11-14 22:13", "2023-11-14 23:14"]
    assert list(time_buckets(stamps, per="hour")) == ["2023-11-14 22h", "2023-11-14 23h"]
    assert list(time_buckets(stamps, per="day")) == ["2023-11-14", "2023-11-14"]


def test_plots_escape_labels_and_say_when_empty() -> None:
    evil = "<script>alert(1)</script>"
    drawn = [
        line_chart({evil: [("2024-01-01", 1.0), ("2024-01-02", 2.0)]}, title=evil),
        interval_chart([(evil, 0.1, 0.05, 0.15)], title="t"),
        bar_chart([(evil, 3.0)], title="t"),
        meter(0.3, label=evil),
    ]
    for svg in drawn:
        assert "<script>" not in str(svg) and "&lt;script&gt;" in str(svg)
    assert "no data" in str(line_chart({}, title="empty"))
    assert "no data" in str(interval_chart([("a", math.nan, math.nan, math.nan)], title="x"))
    assert 'aria-label="empty"' in str(line_chart({}, title="empty"))
