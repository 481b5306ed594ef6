"""Commands about pipelines: build one, train its CTR ranker, ask it for explained lists."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import click

from shoprec.cli._app import (
    DEFAULT_DATASET,
    SPLIT_OPTION,
    from_store_options,
    load_source,
    main,
    parse_params,
)
from shoprec.cli._filters import filter_options

_DATASET = click.option(
    "--dataset",
    default=DEFAULT_DATASET,
    show_default=True,
    help="Named dataset, ingested directory, or 'synthetic'.",
)
_PIPELINE = click.option(
    "--pipeline",
    "pipeline_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="A pipeline directory written by `shoprec build`.",
)


@main.command()
@_DATASET
@from_store_options
@click.option(
    "--model",
    "model_name",
    default="auto",
    show_default=True,
    help="The ranking model; auto: the best on validation of popularity-recent, covisitation, "
    "als and ltr (the learned ranking stage). A named model is kept, with a warning when a cheap "
    "baseline beats it on validation.",
)
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="Model parameter.")
@click.option(
    "--rerank",
    type=click.Choice(["none", "mmr", "dpp"]),
    default="none",
    show_default=True,
    help="Diversification method.",
)
@click.option("--diversity", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option(
    "--max-per-category", type=click.IntRange(min=1), default=None, help="At most N per category."
)
@click.option(
    "--max-per-brand", type=click.IntRange(min=1), default=None, help="At most N per brand."
)
@click.option(
    "--novelty",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Weight of the long-tail boost.",
)
@click.option(
    "--ranker",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="An ONNX CTR ranker export (`shoprec train-ranker`'s onnx/ folder).",
)
@click.option(
    "--encoder", default="onnx", show_default=True, help="Item text encoder (see `shoprec encode`)."
)
@click.option(
    "--index",
    type=click.Choice(["auto", "exact", "hnsw"]),
    default="auto",
    show_default=True,
    help="How the model retrieves its candidates: exact (score every item), hnsw (approximate "
    "nearest neighbours, faiss), auto (hnsw above 100,000 items).",
)
@click.option(
    "--index-param",
    "index_params",
    multiple=True,
    metavar="KEY=VALUE",
    help="HNSW parameter, e.g. m=32, ef_search=128.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@SPLIT_OPTION
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.pass_context
def build(
    ctx: click.Context,
    dataset: str,
    model_name: str,
    params: tuple[str, ...],
    rerank: str,
    diversity: float,
    max_per_category: int | None,
    max_per_brand: int | None,
    novelty: float,
    ranker: Path | None,
    encoder: str,
    index: str,
    index_params: tuple[str, ...],
    seed: int,
    split: str | None,
    out: Path,
) -> None:
    """Fit a recommendation pipeline on a dataset, evaluate its model, save it to OUT."""
    from shoprec.evaluation import choose_model, evaluate, format_table
    from shoprec.pipeline import Pipeline, PipelineConfig
    from shoprec.ranking import OnnxCTRRanker
    from shoprec.rerank import Caps, RerankConfig

    config = PipelineConfig(
        model=model_name,
        model_params=parse_params(params),
        encoder=encoder,
        rerank=RerankConfig(method=rerank, diversity=diversity, novelty_weight=novelty,
                            caps=Caps(max_per_category=max_per_category,
                                      max_per_brand=max_per_brand)),
        ann_threshold=_ANN_THRESHOLDS[index],
        ann_params=parse_params(index_params),
    )  # fmt: skip
    data = load_source(dataset, ctx.obj["data_dir"], split)
    named = None if model_name == "auto" else model_name
    click.echo(f"choosing the model on {data.name} by validation: {data.split}")
    selection = choose_model(
        data, named=named, params=config.model_params, encoder=encoder, random_state=seed,
        progress=True,
    )  # fmt: skip
    click.echo(format_table([run.result for run in selection.runs], ["ndcg@10", "hr@10", "mrr"]))
    if selection.warning:
        click.echo(f"warning: {selection.warning}", err=True)
    click.echo(f"building a {selection.chosen} pipeline")
    pipeline = Pipeline(config, random_state=seed, progress=True)
    pipeline.fit(data.split.train, data.catalog, validation=data.split.valid, model=selection.model)
    result = evaluate(pipeline.model_, data.split, catalog=data.catalog, progress=True)
    pipeline.record_metrics({"dataset": data.name, "source": _source(dataset), **result.metrics})
    if ranker is not None:
        pipeline.attach_ranker(OnnxCTRRanker(ranker))
    pipeline.save(out)
    click.echo(f"model NDCG@10 {result.metrics['ndcg@10']:.4f}; pipeline saved to {out}")


@main.command("train-ranker")
@_DATASET
@from_store_options
@click.option(
    "--retriever",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="A model (`shoprec train`) or pipeline (`shoprec build`) directory for hard negatives.",
)
@click.option("--mode", type=click.Choice(["frozen", "lora", "full"]), default="lora")
@click.option("--users", type=click.IntRange(min=2), default=2000, show_default=True)
@click.option("--epochs", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--max-length", type=click.IntRange(min=16), default=96, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@SPLIT_OPTION
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.pass_context
def train_ranker(
    ctx: click.Context,
    dataset: str,
    retriever: Path,
    mode: str,
    users: int,
    epochs: int,
    max_length: int,
    seed: int,
    split: str | None,
    out: Path,
) -> None:
    """Fine-tune the CTR cross-encoder on validation-period pairs; save it and its ONNX export."""
    from shoprec.models import load_recommender
    from shoprec.ranking import CTRRanker, export_ctr_onnx, validation_pairs
    from shoprec.text import encode_texts, item_texts

    data = load_source(dataset, ctx.obj["data_dir"], split)
    model_dir = retriever / "model" if (retriever / "model").is_dir() else retriever
    model = load_recommender(model_dir)
    vectors = encode_texts("onnx", item_texts(data.catalog), progress=True)
    pairs = validation_pairs(data.split, data.catalog, model, vectors, max_users=users,
                             random_state=seed)  # fmt: skip
    click.echo(f"{len(pairs)} pairs from {len(set(pairs.users))} users; training ({mode})")
    ranker = CTRRanker(mode=cast(Any, mode), max_epochs=epochs, max_length=max_length,
                       random_state=seed, progress=True)  # fmt: skip
    ranker.fit(pairs.contexts, pairs.candidates, pairs.labels, groups=pairs.users)
    ranker.save(out)
    export_ctr_onnx(ranker, out / "onnx")
    click.echo(f"ranker saved to {out} (ONNX export in {out / 'onnx'})")


# --index -> PipelineConfig.ann_threshold: the catalog size above which HNSW retrieves
_ANN_THRESHOLDS: dict[str, int | None] = {"auto": 100_000, "exact": None, "hnsw": 0}


def _source(dataset: str) -> str:
    """How to find ``dataset`` again from anywhere: a directory's absolute path, else the name."""
    return str(Path(dataset).resolve()) if Path(dataset).is_dir() else dataset


def _history_source(pipeline: Any, dataset: str | None) -> str:
    """The dataset to read users' histories from: the flag, else the one the pipeline was built
    on (recorded by `shoprec build` and the demo), else the default dataset."""
    if dataset is not None:
        return dataset
    metrics = pipeline.metrics_
    return str(metrics.get("source") or metrics.get("dataset") or DEFAULT_DATASET)


@main.command()
@_PIPELINE
@click.option(
    "--dataset",
    default=None,
    help="Where users' histories come from (default: the dataset the pipeline was built on).",
)
@from_store_options
@click.option("-k", "k", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--diversity", type=click.FloatRange(0, 1), default=None)
@filter_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.argument("users", nargs=-1, required=True)
@click.pass_context
def explain(
    ctx: click.Context,
    pipeline_dir: Path,
    dataset: str | None,
    k: int,
    diversity: float | None,
    rules: Any,
    as_json: bool,
    users: tuple[str, ...],
) -> None:
    """Explained recommendations for USERS (their history from the dataset's events), within
    the price, category, brand and stock filters given."""
    from shoprec.pipeline import Pipeline, Request

    pipeline = Pipeline.load(pipeline_dir)
    source = _history_source(pipeline, dataset)
    frame = load_source(source, ctx.obj["data_dir"]).interactions.frame
    requests = []
    for user in users:
        mine = frame[frame["user_id"] == user]
        requests.append(Request.from_events(mine, k=k, diversity=diversity, rules=rules))
    results = pipeline.recommend(requests)
    if as_json:
        payload = {u: [r.to_dict() for r in recs] for u, recs in zip(users, results, strict=True)}
        click.echo(json.dumps(payload, indent=2))
        return
    catalog = pipeline.catalog
    for user, request, recs in zip(users, requests, results, strict=True):
        click.echo(f"{user} ({len(request.history)} events)")
        for rank, rec in enumerate(recs, start=1):
            item = catalog.item(rec.item_id)
            reason = rec.explanation.reason if rec.explanation else ""
            price = "" if item.price is None else f"{item.price:.2f}"
            click.echo(f"  {rank:>3}. {item.title[:60]:<60} {price:>8}  {reason}")
