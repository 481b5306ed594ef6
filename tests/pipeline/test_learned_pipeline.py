"""The learned ranking stage as the pipeline's ranking step: fitted, served, saved, loaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shoprec.datasets import make_synthetic_shop
from shoprec.pipeline import Pipeline, PipelineConfig
from shoprec.ranking import LearnedRanking

pytest.importorskip("lightgbm")


@pytest.fixture(scope="module")
def shop():  # type: ignore[no-untyped-def]
    return make_synthetic_shop(n_users=600, n_items=200, random_state=3)


def test_pipeline_ranks_with_the_learned_stage_and_reloads_it(shop, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    split = shop.split
    config = PipelineConfig(
        model="ltr", model_params={"sources": ["covisitation", "popularity"]}, encoder="hashing"
    )
    pipeline = Pipeline(config).fit(split.train, shop.catalog, validation=split.valid)
    stage = pipeline.model_
    assert isinstance(stage, LearnedRanking) and stage.text_encoder == "hashing"
    user = split.train.frame["user_id"].value_counts().index[0]
    history = stage.histories_[user]
    items = stage.item_ids_[history].tolist()
    served = pipeline.recommend_one(items, k=5, explain=False)
    assert len(served) == 5 and not set(r.item_id for r in served) & set(items)
    # The served order is the stage's order over its candidates (no re-ranking configured).
    scores = stage.score([history])[0]
    scores[history] = -np.inf
    best = stage.item_ids_[np.argsort(-scores, kind="stable")[:5]].tolist()
    assert [r.item_id for r in served] == best
    loaded = Pipeline.load(pipeline.save(tmp_path / "pipe"))
    assert isinstance(loaded.model_, LearnedRanking)
    assert [r.to_dict() for r in loaded.recommend_one(items, k=5, explain=False)] == [
        r.to_dict() for r in served
    ]
    assert (tmp_path / "pipe" / "model" / "ranker" / "model.txt").is_file()
