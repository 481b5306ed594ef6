"""CTR ranker transfer: pretraining on several platforms' pairs, warm starts, adaptation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from shoprec.datasets import make_synthetic_shop
from shoprec.metrics import auc
from shoprec.nn import merged_copy
from shoprec.ranking import CTRRanker, PairSet
from shoprec.text import HashingEncoder, item_texts
from shoprec.transfer import (
    adapt_ranker,
    combine_pair_sets,
    platform_pairs,
    pretrain_ranker,
    subsample_pairs,
)

SHOPS = {"shoes": ("shoe", ["red", "blue"]), "mugs": ("mug", ["green", "yellow"])}


def shop_pairs(shop: str, n_users: int, seed: int) -> PairSet:
    """Clicked iff the user is buying and the item is in stock: the same rule in every shop,
    worded with the shop's own products and colours. Four pairs per user."""
    noun, colours = SHOPS[shop]
    rng = np.random.default_rng(seed)
    n = 4 * n_users
    buying, stocked = rng.random(n) < 0.6, rng.random(n) < 0.6
    colour = rng.integers(len(colours), size=n)
    return PairSet(
        contexts=[f"Mostly {'buys' if b else 'browses'} {colours[c]} things." for b, c in
                  zip(buying, colour, strict=True)],
        candidates=[f"{colours[c]} {noun}. {'In stock' if s else 'Sold out'}." for s, c in
                    zip(stocked, colour, strict=True)],
        labels=(buying & stocked).astype(np.int64),
        users=np.array([f"u{i // 4}" for i in range(n)], dtype=object),
        items=np.array([f"{noun}{i}" for i in range(n)], dtype=object),
    )  # fmt: skip


def params(path: Path, **extra: object) -> dict[str, object]:
    return {
        "model_path": path, "mode": "full", "lr": 3e-3, "batch_size": 32, "max_epochs": 6,
        "patience": 3, "max_length": 32, "num_threads": 1, **extra,
    }  # fmt: skip


def test_combine_pair_sets_balances_platforms_by_temperature() -> None:
    big, small = shop_pairs("shoes", 30, seed=0), shop_pairs("mugs", 10, seed=1)
    proportional = combine_pair_sets({"shoes": big, "mugs": small}, temperature=1.0)
    assert len(proportional) == len(big) + len(small)
    assert sorted(set(proportional.users)) == sorted(
        {f"shoes:{u}" for u in big.users} | {f"mugs:{u}" for u in small.users}
    )
    uniform = combine_pair_sets({"shoes": big, "mugs": small}, temperature=0.0)
    platforms = np.array([u.split(":")[0] for u in uniform.users])
    assert (platforms == "shoes").sum() == (platforms == "mugs").sum() == 4 * 20
    # the small shop's users repeat whole: every one of them twice
    mugs = uniform.users[platforms == "mugs"]
    assert set(np.unique(mugs, return_counts=True)[1]) == {8}
    assert all(i.startswith(("shoes:", "mugs:")) for i in uniform.items)


def test_subsample_pairs_keeps_whole_users_nested() -> None:
    pairs = shop_pairs("shoes", 40, seed=0)
    small, large = subsample_pairs(pairs, 0.1), subsample_pairs(pairs, 0.5)
    assert len(set(small.users)) == 4 and len(set(large.users)) == 20
    assert set(small.users) <= set(large.users)
    assert len(small) == 4 * 4  # whole users: all four pairs each
    with pytest.raises(ValueError, match="fraction"):
        subsample_pairs(pairs, 0.0)


def test_warm_start_begins_from_the_pretrained_weights(tiny_bert: Path) -> None:
    source = shop_pairs("shoes", 32, seed=0)
    pretrained = CTRRanker(**params(tiny_bert, mode="lora", lora_r=4, max_epochs=2))
    pretrained.fit(source.contexts, source.candidates, source.labels, groups=source.users)
    merged = merged_copy(pretrained.network_).state_dict()
    # frozen on top: the encoder is exactly the pretrained one with its adapters merged in
    target = shop_pairs("mugs", 8, seed=1)
    frozen = CTRRanker(**params(tiny_bert, mode="frozen", max_epochs=1))
    frozen.fit(target.contexts, target.candidates, target.labels, warm_start=pretrained)
    encoder = frozen.network_.encoder.state_dict()
    assert all(torch.equal(encoder[k], merged[f"encoder.{k}"]) for k in encoder)
    query = "encoder.encoder.layer.0.attention.self.query.weight"
    untrained = CTRRanker(**params(tiny_bert))._build()[1].state_dict()
    assert not torch.equal(merged[query], untrained[query])  # the merge changed the base weights
    assert pretrained.trainable_parameters() > frozen.trainable_parameters()  # untouched


def test_pretrained_ranker_transfers_to_an_unseen_shop(tiny_bert: Path) -> None:
    sources = {"shoes": shop_pairs("shoes", 96, seed=0)}
    pretrained = pretrain_ranker(sources, random_state=0, **params(tiny_bert))
    target_train, target_test = shop_pairs("mugs", 6, seed=1), shop_pairs("mugs", 50, seed=2)

    def target_auc(ranker: CTRRanker) -> float:
        return auc(target_test.labels, ranker.predict_proba(target_test.contexts,
                                                            target_test.candidates))  # fmt: skip

    zero_shot = adapt_ranker(pretrained, None, mode="zero_shot")
    assert zero_shot is pretrained
    lora = adapt_ranker(pretrained, target_train, mode="lora", lora_r=4, max_epochs=2)
    assert lora.mode == "lora" and lora is not pretrained
    scratch = CTRRanker(**params(tiny_bert, mode="lora", lora_r=4, random_state=0))
    scratch.fit(target_train.contexts, target_train.candidates, target_train.labels,
                groups=target_train.users)  # fmt: skip
    assert target_auc(zero_shot) > 0.9
    assert target_auc(lora) > 0.9
    assert target_auc(scratch) < 0.8  # 24 pairs are too few to learn the rule from scratch


def test_adapt_ranker_refuses_bad_modes_and_missing_pairs(tiny_bert: Path) -> None:
    pretrained = CTRRanker(**params(tiny_bert, max_epochs=1))
    source = shop_pairs("shoes", 8, seed=0)
    pretrained.fit(source.contexts, source.candidates, source.labels)
    with pytest.raises(ValueError, match="mode"):
        adapt_ranker(pretrained, source, mode="adaptor")
    with pytest.raises(ValueError, match="needs target pairs"):
        adapt_ranker(pretrained, None, mode="lora")


def test_platform_pairs_mine_validation_and_test_periods() -> None:
    shop = make_synthetic_shop(n_users=80, n_items=40, random_state=0)
    vectors = HashingEncoder(dim=32).encode(item_texts(shop.catalog))
    valid = platform_pairs(shop, vectors, period="valid", n_hard=2, n_random=1)
    test = platform_pairs(shop, vectors, period="test", n_hard=2, n_random=1)
    for pairs, period in ((valid, shop.split.valid), (test, shop.split.test)):
        positives = dict(zip(pairs.users[pairs.labels == 1], pairs.items[pairs.labels == 1],
                             strict=True))  # fmt: skip
        assert positives and len(pairs) <= 4 * len(positives)
        events = period.frame
        for user, item in positives.items():
            assert item in set(events.loc[events["user_id"] == user, "item_id"])
    with pytest.raises(ValueError, match="period"):
        platform_pairs(shop, vectors, period="train")
