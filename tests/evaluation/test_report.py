"""Reports: the text table, JSON that reads back, and the self-contained HTML page."""

from __future__ import annotations

import base64
import json
import math
import re
from pathlib import Path

import pytest

from shoprec.evaluation import EvaluationResult, format_table, write_html_report, write_json


def _result(model: str, ndcg: float, users: int) -> EvaluationResult:
    return EvaluationResult(
        model=model,
        metrics={"ndcg@10": ndcg, "hr@10": 2 * ndcg, "mrr": ndcg / 2, "users": users},
        by_k={"ndcg": {5: ndcg / 2, 10: ndcg}, "hr": {5: ndcg, 10: 2 * ndcg}},
        slices={
            "cold_users": {"users": 2, "ndcg@10": ndcg / 3, "hr@10": 0.5, "mrr": 0.1},
            "new_items": {"users": 0, "ndcg@10": math.nan, "hr@10": math.nan, "mrr": math.nan},
        },
        by_history_length=[
            {"bucket": "0", "users": 2, "ndcg@10": 0.01, "hr@10": 0.5},
            {"bucket": "6-10", "users": users - 2, "ndcg@10": ndcg, "hr@10": 0.2},
        ],
        skipped={"users": 1, "repeat_targets": 3, "unknown_targets": 0},
    )


@pytest.fixture
def results() -> list[EvaluationResult]:
    return [_result("popularity", 0.1234, 150), _result("<b>sasrec</b> & co", 0.25, 150)]


def test_format_table_is_aligned(results: list[EvaluationResult]) -> None:
    table = format_table(results)
    assert table.splitlines() == [
        "model               ndcg@10   hr@10     mrr  users",
        "------------------  -------  ------  ------  -----",
        "popularity           0.1234  0.2468  0.0617    150",
        "<b>sasrec</b> & co   0.2500  0.5000  0.1250    150",
    ]


def test_format_table_chosen_metrics_and_missing_values(results: list[EvaluationResult]) -> None:
    table = format_table(results, metrics=["mrr", "coverage@10"])
    assert table.splitlines()[2].split() == ["popularity", "0.0617", "-"]
    # Results without any @10 metric show every metric they have.
    lone = EvaluationResult(model="m", metrics={"ndcg@5": 0.5, "users": 3})
    assert format_table([lone]).splitlines()[0].split() == ["model", "ndcg@5", "users"]


def test_json_round_trips(results: list[EvaluationResult], tmp_path: Path) -> None:
    path = write_json(results, tmp_path / "out" / "report.json", metadata={"dataset": "tiny"})
    assert path == tmp_path / "out" / "report.json"

    def no_constants(name: str) -> None:
        raise AssertionError(f"{name} is not valid JSON")

    payload = json.loads(path.read_text(), parse_constant=no_constants)
    assert payload["metadata"] == {"dataset": "tiny"}
    assert payload["results"][0]["slices"]["new_items"]["ndcg@10"] is None  # NaN -> null
    loaded = [EvaluationResult.from_dict(item) for item in payload["results"]]
    assert [r.model for r in loaded] == [r.model for r in results]
    assert loaded[1].by_k == results[1].by_k  # integer k keys come back
    assert loaded[0].metrics == results[0].metrics
    assert isinstance(loaded[0].metrics["users"], int)
    assert math.isnan(loaded[0].slices["new_items"]["mrr"])
    assert loaded[0].by_history_length == results[0].by_history_length
    assert loaded[0].skipped == results[0].skipped


def test_html_report_is_self_contained(results: list[EvaluationResult], tmp_path: Path) -> None:
    metadata = {"dataset": "tiny <shop>", "train_s": {"popularity": 0.5}}
    path = write_html_report(
        results, tmp_path / "r" / "report.html", title="A & B", metadata=metadata
    )
    page = path.read_text()
    images = re.findall(r'<img alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]+)">', page)
    assert len(images) == 2  # metric by k, NDCG@10 by history length
    for image in images:
        assert base64.b64decode(image).startswith(b"\x89PNG\r\n\x1a\n")
    assert "<title>A &amp; B</title>" in page
    assert "popularity" in page
    assert "&lt;b&gt;sasrec&lt;/b&gt; &amp; co" in page  # names are escaped, never markup
    assert "<b>sasrec</b>" not in page
    assert "tiny &lt;shop&gt;" in page
    assert "0.1234" in page and "cold_users" in page and "repeat_targets" in page
    assert "http://" not in page and "https://" not in page  # nothing loaded from elsewhere


def test_reports_explain_metrics_in_shop_terms_and_say_what_next(
    results: list[EvaluationResult], tmp_path: Path
) -> None:
    from shoprec.evaluation import metric_meaning, plain_summary, suggestions

    page = write_html_report(results, tmp_path / "r.html", title="t").read_text()
    assert "<h2>In plain words</h2>" in page and "<h2>What to do next</h2>" in page
    for key in ("ndcg@10", "hr@10", "mrr"):  # every metric shown is explained in one line
        assert metric_meaning(key) and f"<b>{key}</b>: " in page
    summary = plain_summary(results)
    # hr@10 is 0.5 for the best model: half the customers found their next item in the list
    assert summary[0].startswith("With <b>sasrec</b> & co, for 50.0 of every 100 test customers")
    assert summary[1] == (
        "Showing everyone the popularity list does it for 24.7 of 100 (2.0 times as often)."
    )
    assert suggestions(results)[0].endswith("shoprec build --model <b>sasrec</b> & co.")
    close = [_result("popularity", 0.20, 10), _result("als", 0.21, 10)]
    assert any("personalisation barely pays" in tip for tip in suggestions(close))
    popular_wins = [_result("popularity", 0.3, 10), _result("als", 0.1, 10)]
    assert any("Plain popularity wins" in tip for tip in suggestions(popular_wins))
    assert metric_meaning("nonsense@10") == ""
