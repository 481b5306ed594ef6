"""Shared fixtures: tiny interaction sets with known answers and the shared data directory."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shoprec.data import Interactions

os.environ.setdefault("HF_HUB_OFFLINE", "1")

pytest_plugins = ["serve_support"]  # the service tests' fixtures

# An empty SHOPREC_DATA_DIR (the Makefile's when ../shared/data is absent) means unset.
SHARED_DATA = Path(
    os.environ.get("SHOPREC_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data"
)


def requires_shared_data(folder: str) -> pytest.MarkDecorator:
    """Skip unless ``folder`` of the shared datasets is present."""
    return pytest.mark.skipif(
        not (SHARED_DATA / folder).is_dir(),
        reason=f"shared dataset {folder} not found under {SHARED_DATA}",
    )


@pytest.fixture
def shared_data() -> Path:
    return SHARED_DATA


@pytest.fixture
def tiny_interactions() -> Interactions:
    """Three users over five items; u1 and u2 share a taste, u3 differs.

    u1: a b c d   u2: a b c e   u3: e d a b   (timestamps increase down the list per user)
    """
    rows = [
        ("u1", "a", 1), ("u1", "b", 2), ("u1", "c", 3), ("u1", "d", 4),
        ("u2", "a", 5), ("u2", "b", 6), ("u2", "c", 7), ("u2", "e", 8),
        ("u3", "e", 9), ("u3", "d", 10), ("u3", "a", 11), ("u3", "b", 12),
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    frame["event_type"] = "purchase"
    return Interactions(frame)


@pytest.fixture
def random_interactions() -> Interactions:
    """200 users with 6-20 item events each over 60 items with a popularity skew."""
    rng = np.random.default_rng(7)
    popularity = 1.0 / np.arange(1, 61) ** 0.8
    popularity /= popularity.sum()
    rows = []
    t = 0
    for user in range(200):
        items = rng.choice(60, size=rng.integers(6, 21), replace=False, p=popularity)
        for item in items:
            t += 1
            rows.append((f"user{user}", f"item{item}", "click", t))
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "event_type", "timestamp"])
    return Interactions(frame)


@pytest.fixture(autouse=True, scope="session")
def _private_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Encoder exports and vector caches go to a per-session directory, not the user's cache."""
    os.environ["SHOPREC_CACHE_DIR"] = str(tmp_path_factory.mktemp("shoprec-cache"))


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 2-layer, 32-wide BERT with the bundled MiniLM tokenizer: a CTR
    ranker encoder that trains in a second."""
    import shutil

    import torch
    import transformers

    from shoprec.text import default_model_path

    source = default_model_path()
    path = tmp_path_factory.mktemp("tiny-bert")
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (source / name).is_file():
            shutil.copy(source / name, path / name)
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    config = transformers.BertConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64,
    )  # fmt: skip
    torch.manual_seed(0)
    transformers.BertModel(config).save_pretrained(str(path))
    return path
