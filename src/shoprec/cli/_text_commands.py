"""Commands on the language-model layer: encode, export-onnx, search, similar, profile."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import numpy as np

from shoprec.cli._app import DEFAULT_DATASET, from_store_options, load_source, main, parse_params

if TYPE_CHECKING:
    from shoprec.data import Dataset
    from shoprec.profiles import UserPortrait

_ENCODER = click.option(
    "--encoder",
    type=click.Choice(["onnx", "minilm", "multilingual", "hashing"]),
    default="onnx",
    show_default=True,
    help="onnx: int8 MiniLM (English, fast); minilm: the same in torch; multilingual: "
    "multilingual-e5-small (~100 languages); hashing: no model.",
)
_DATASET = click.option("--dataset", default=DEFAULT_DATASET, show_default=True)


@main.command()
@_DATASET
@from_store_options
@_ENCODER
@click.pass_context
def encode(ctx: click.Context, dataset: str, encoder: str) -> None:
    """Encode a dataset's catalog into the vector cache (only new or changed items are encoded)."""
    from shoprec.text import default_cache_dir, encode_texts, item_texts

    data = load_source(dataset, ctx.obj["data_dir"])
    vectors = encode_texts(encoder, item_texts(data.catalog), progress=True)
    click.echo(
        f"{len(vectors)} items of {data.name} encoded with {encoder} "
        f"({vectors.shape[1]} dims); cache: {default_cache_dir()}"
    )


@main.command("export-onnx")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Export directory (default: the cache, where `--encoder onnx` looks).",
)
def export_onnx_command(out: Path | None) -> None:
    """Export the bundled MiniLM to ONNX (fp32 and int8) with a manifest of its source hash."""
    from shoprec.text import MiniLMEncoder, cached_onnx_encoder, default_cache_dir, export_onnx

    if out is None:
        encoder = cached_onnx_encoder(default_cache_dir() / "onnx")
        out = Path(encoder.path)
    else:
        export_onnx(MiniLMEncoder(), out, quantize=True)
    click.echo(f"ONNX export in {out}")


_INDEX = click.option(
    "--index",
    type=click.Choice(["exact", "hnsw", "ivf"]),
    default="exact",
    show_default=True,
    help="Vector index: exact (numpy, every item scored), hnsw or ivf (faiss, approximate, for "
    "catalogs of 100k items and more).",
)
_INDEX_PARAMS = click.option(
    "--index-param",
    "index_params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Index hyper-parameter, e.g. m=32 or ef_search=64 (hnsw), n_lists=256 (ivf).",
)


def _engine(data: Dataset, encoder: str, index: str, index_params: tuple[str, ...]) -> Any:
    """The catalog encoded (through the vector cache) and indexed."""
    from shoprec.index import SemanticSearch
    from shoprec.text import encode_texts, item_texts

    vectors = encode_texts(encoder, item_texts(data.catalog), progress=True)
    params = parse_params(index_params)
    return SemanticSearch(encoder=encoder, index=index, index_params=params).fit(
        data.catalog, vectors
    ), vectors


@main.command()
@click.argument("query")
@_DATASET
@from_store_options
@_ENCODER
@_INDEX
@_INDEX_PARAMS
@click.option("--user", default=None, help="Personalise with this user's portrait.")
@click.option("--personalization", type=click.FloatRange(0, 1), default=0.3, show_default=True)
@click.option("-k", "k", type=click.IntRange(min=1), default=10, show_default=True)
@click.pass_context
def search(
    ctx: click.Context,
    query: str,
    dataset: str,
    encoder: str,
    index: str,
    index_params: tuple[str, ...],
    user: str | None,
    personalization: float,
    k: int,
) -> None:
    """Semantic search for QUERY in a dataset's catalog, optionally personalised for --user."""
    data = load_source(dataset, ctx.obj["data_dir"])
    engine, vectors = _engine(data, encoder, index, index_params)
    user_vectors = None
    if user is not None:
        portrait = _portrait(data, user, vectors)
        user_vectors = portrait.interest_vector()[None, :]
        click.echo(f"personalised for {user}: {portrait.summary()}")
    ids, scores = engine.search(
        [query], k=k, user_vectors=user_vectors, personalization=personalization
    )
    for rank, (item_id, score) in enumerate(zip(ids[0], scores[0], strict=True), start=1):
        if item_id:
            click.echo(f"{rank:>3}. {score:.3f}  {item_id}  {data.catalog.item(item_id).title}")


@main.command()
@click.argument("items", nargs=-1, required=True)
@click.option(
    "--pipeline",
    "pipeline_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Use this pipeline's item vectors and catalog (`shoprec build`); otherwise the "
    "dataset's catalog is encoded with --encoder.",
)
@_DATASET
@from_store_options
@_ENCODER
@_INDEX
@_INDEX_PARAMS
@click.option("-k", "k", type=click.IntRange(min=1), default=10, show_default=True)
@click.pass_context
def similar(
    ctx: click.Context,
    items: tuple[str, ...],
    pipeline_dir: Path | None,
    dataset: str,
    encoder: str,
    index: str,
    index_params: tuple[str, ...],
    k: int,
) -> None:
    """Items whose text is closest to each of ITEMS ("more like this")."""
    if pipeline_dir is not None:
        from shoprec.pipeline import Pipeline

        pipeline = Pipeline.load(pipeline_dir)
        catalog = pipeline.catalog
        results = [pipeline.similar_items(item, k=k) for item in items]
    else:
        data = load_source(dataset, ctx.obj["data_dir"])
        catalog = data.catalog
        unknown = [item for item in items if item not in catalog]
        if unknown:
            raise click.BadParameter(f"not in {data.name}'s catalog: {unknown}", param_hint="ITEMS")
        engine, _ = _engine(data, encoder, index, index_params)
        ids, scores = engine.similar_items(list(items), k=k)
        results = [
            [(i, float(s)) for i, s in zip(row_ids, row_scores, strict=True) if i]
            for row_ids, row_scores in zip(ids, scores, strict=True)
        ]
    for item, found in zip(items, results, strict=True):
        click.echo(f"{item}  {catalog.item(item).title[:70]}")
        for rank, (other, score) in enumerate(found, start=1):
            click.echo(f"  {rank:>3}. {score:.3f}  {other}  {catalog.item(other).title[:60]}")


@main.command()
@click.argument("user")
@_DATASET
@from_store_options
@_ENCODER
@click.option("--json", "as_json", is_flag=True, help="Print the portrait as JSON.")
@click.pass_context
def profile(ctx: click.Context, user: str, dataset: str, encoder: str, as_json: bool) -> None:
    """Show USER's interpretable portrait built from their events in the dataset."""
    from shoprec.text import encode_texts, item_texts

    data = load_source(dataset, ctx.obj["data_dir"])
    vectors = encode_texts(encoder, item_texts(data.catalog), progress=True)
    portrait = _portrait(data, user, vectors)
    if as_json:
        click.echo(json.dumps(portrait.to_dict(), indent=2))
        return
    click.echo(f"{user}: {portrait.summary()}")
    for label, pairs in (
        ("categories", portrait.top_categories(5)),
        ("brands", portrait.top_brands(5)),
        ("keywords", portrait.top_keywords(8)),
    ):
        click.echo(f"  {label:<10} " + ", ".join(f"{name} ({share:.2f})" for name, share in pairs))
    intent, ratio = portrait.intent()
    click.echo(f"  intent     {intent} (buying share {ratio:.2f})")
    click.echo(f"  price band {portrait.price_band() or 'unknown'}")
    click.echo(f"  recent     {', '.join(portrait.recent_items[-5:])}")


def _portrait(data: Dataset, user: str, vectors: np.ndarray) -> UserPortrait:
    """``user``'s portrait from all their events in ``data``; a clear error if they have none."""
    from shoprec.exceptions import ValidationError
    from shoprec.profiles import ItemFeatures, UserPortrait

    events = data.interactions
    mine = events.frame["user_id"].to_numpy() == user
    if not mine.any():
        raise ValidationError(f"user {user!r} has no events in {data.name}", field="user")
    features = ItemFeatures.from_catalog(data.catalog, vectors)
    return UserPortrait.build(events.select(mine).to_events(), features, user_id=user)
