"""Commands about models: train, evaluate, recommend, list models, and the demo."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from shoprec.cli._app import (
    DEFAULT_DATASET,
    SPLIT_OPTION,
    from_store_options,
    load_source,
    main,
    parse_params,
)
from shoprec.exceptions import ParameterError


@main.command()
@click.option(
    "--dataset",
    default=DEFAULT_DATASET,
    show_default=True,
    help="Named dataset, ingested directory, or 'synthetic'.",
)
@from_store_options
@click.option("--model", "model_name", required=True, help="Model name (see `shoprec models`).")
@click.option(
    "--param", "params", multiple=True, metavar="KEY=VALUE", help="Hyper-parameter, repeatable."
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="random_state for stochastic models."
)
@SPLIT_OPTION
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory to save the model to.",
)
@click.pass_context
def train(
    ctx: click.Context,
    dataset: str,
    model_name: str,
    params: tuple[str, ...],
    seed: int,
    split: str | None,
    out: Path,
) -> None:
    """Fit a model on a dataset's training split and save it."""
    from shoprec.models import create_recommender

    try:  # --param wins over --seed
        model = create_recommender(
            model_name, random_state=seed, progress=True, **parse_params(params)
        )
    except ParameterError as error:
        raise click.BadParameter(str(error), param_hint="--model/--param") from None
    data = load_source(dataset, ctx.obj["data_dir"], split)
    click.echo(f"training {model_name} on {data.name}: {data.split}")
    model.fit(data.split.train, data.catalog, validation=data.split.valid)
    model.save(out)
    click.echo(f"model saved to {out}")


@main.command()
@click.option(
    "--model-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True
)
@click.option("--dataset", default=DEFAULT_DATASET, show_default=True)
@from_store_options
@click.option(
    "--report",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write report.json and report.html here.",
)
@SPLIT_OPTION
@click.pass_context
def evaluate(
    ctx: click.Context, model_dir: Path, dataset: str, report: Path | None, split: str | None
) -> None:
    """Evaluate a saved model on a dataset's test split (full ranking; use the split the model
    was trained on)."""
    from shoprec.evaluation import evaluate as run_evaluation
    from shoprec.evaluation import format_table
    from shoprec.models import load_recommender

    data = load_source(dataset, ctx.obj["data_dir"], split)
    model = load_recommender(model_dir)
    result = run_evaluation(model, data.split, catalog=data.catalog, progress=True)
    click.echo(format_table([result]))
    if report is not None:
        _write_reports([result], report, data)


@main.command()
@click.option(
    "--model-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True
)
@click.option("-k", "k", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.argument("users", nargs=-1, required=True)
def recommend(model_dir: Path, k: int, as_json: bool, users: tuple[str, ...]) -> None:
    """Top-k recommendations for USERS from a saved model."""
    from shoprec.models import load_recommender

    model = load_recommender(model_dir)
    ids, scores = model.recommend(list(users), k=k)
    if as_json:
        payload = {
            user: [
                {"item_id": i, "score": float(s)}
                for i, s in zip(row_ids, row_scores, strict=True)
                if i
            ]
            for user, row_ids, row_scores in zip(users, ids, scores, strict=True)
        }
        click.echo(json.dumps(payload, indent=2))
        return
    for user, row_ids, row_scores in zip(users, ids, scores, strict=True):
        known = "" if user in model.histories_ else "  (unknown user: cold-start list)"
        click.echo(f"{user}{known}")
        for rank, (item, score) in enumerate(zip(row_ids, row_scores, strict=True), start=1):
            if item:
                click.echo(f"  {rank:>3}. {item}  {score:.4f}")


@main.command()
def models() -> None:
    """List the available models."""
    from shoprec.models import RECOMMENDERS

    for name, model_cls in RECOMMENDERS.items():
        summary = (model_cls.__doc__ or "").strip().splitlines()[0]
        click.echo(f"  {name:<14} {summary}")


@main.command()
@click.option(
    "--dataset", default=None, help=f"Dataset to use (default {DEFAULT_DATASET}, else synthetic)."
)
@from_store_options
@click.option(
    "--models", "model_names", default=None, help="Comma-separated baselines (default all)."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("shoprec-report"),
    show_default=True,
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--encoder", default="onnx", show_default=True, help="Item text encoder of the pipeline."
)
@SPLIT_OPTION
@click.pass_context
def demo(
    ctx: click.Context,
    dataset: str | None,
    model_names: str | None,
    out: Path,
    seed: int,
    encoder: str,
    split: str | None,
) -> None:
    """Train and evaluate the baselines on the default dataset, write the report, then build
    the recommendation pipeline around the best one and show explained lists."""
    from shoprec.datasets import available_datasets
    from shoprec.evaluation import baseline_models, compare_models, format_table

    if dataset is None and not ctx.obj.get("from_store"):
        if DEFAULT_DATASET in available_datasets(ctx.obj["data_dir"]):
            dataset = DEFAULT_DATASET
        else:
            click.secho(
                f"{DEFAULT_DATASET} not found in the data directory (see `shoprec datasets`); "
                "using the built-in synthetic shop instead.",
                fg="yellow",
            )
            dataset = "synthetic"
    data = load_source(dataset or "store", ctx.obj["data_dir"], split)
    click.echo(f"dataset {data.name}: {len(data.catalog)} items, {data.split}")
    chosen = None if model_names is None else [m.strip() for m in model_names.split(",")]
    try:
        models = baseline_models(chosen, random_state=seed, progress=True)
    except ValueError as error:  # an unknown baseline name
        raise click.BadParameter(str(error), param_hint="--models") from None

    def show(run: Any) -> None:
        ndcg = run.result.metrics["ndcg@10"]
        click.echo(f"  {run.name:<18} trained in {run.train_s:6.1f} s   NDCG@10 {ndcg:.4f}")

    runs = compare_models(models, data, progress=True, on_done=show)
    results = [run.result for run in runs]
    click.echo(format_table(results))
    _explain_results(results)
    _write_reports(results, out, data, train_s={run.name: run.train_s for run in runs})
    best = max(runs, key=lambda run: run.result.metrics["ndcg@10"])
    _demo_pipeline(best, data, out / "pipeline", encoder, dataset or data.name)


def _explain_results(results: list[Any]) -> None:
    """What the table's columns and numbers mean for a shop, and what to try next."""
    from shoprec.evaluation import metric_meaning, plain_summary, suggestions

    columns = list(dict.fromkeys(c for r in results for c in r.metrics if "@10" in c or c == "mrr"))
    click.echo("\nWhat the columns mean:")
    width = max((len(c) for c in columns), default=0)
    for column in columns:
        if metric_meaning(column):
            click.echo(f"  {column:<{width}}  {metric_meaning(column)}")
    click.echo("")
    for line in plain_summary(results) + suggestions(results):
        click.echo(line)


def _demo_pipeline(best: Any, data: Any, out: Path, encoder: str, dataset: str) -> None:
    """Build the full pipeline around the best model and show three users' explained lists."""
    from shoprec.pipeline import Pipeline, PipelineConfig, Request
    from shoprec.rerank import RerankConfig

    click.echo(f"building the recommendation pipeline around {best.name} (MMR, diversity 0.2)")
    config = PipelineConfig(encoder=encoder, rerank=RerankConfig(method="mmr", diversity=0.2))
    pipeline = Pipeline(config, progress=True)
    pipeline.fit(data.split.train, data.catalog, validation=data.split.valid, model=best.model)
    source = str(Path(dataset).resolve()) if Path(dataset).is_dir() else dataset
    pipeline.record_metrics({"dataset": data.name, "source": source, **best.result.metrics})
    pipeline.save(out)
    past = data.split.train_valid.frame
    users = past["user_id"].value_counts()
    for user in users.index[[len(users) // 4, len(users) // 2, 3 * len(users) // 4]]:
        mine = past[past["user_id"] == user]
        request = Request.from_events(mine, k=5)
        last = data.catalog.item(mine["item_id"].iloc[-1]).title[:60]
        click.echo(f"\n{user}: {len(mine)} events, the last: {last}")
        for rank, rec in enumerate(pipeline.recommend([request])[0], start=1):
            title = data.catalog.item(rec.item_id).title[:55]
            reason = rec.explanation.reason if rec.explanation else ""
            click.echo(f"  {rank}. {title:<55}  {reason}")
    click.echo(f"\npipeline saved to {out}")
    _next_steps(out, str(user))


def _next_steps(pipeline: Path, user: str) -> None:
    """What to try after the demo, runnable as printed from this directory."""
    venv = Path(sys.prefix)
    reach = (
        f"source {_shown(venv / 'bin' / 'activate')}   (or `make shell`)"
        if sys.prefix != sys.base_prefix
        else "the `shoprec` command of this Python environment"
    )
    click.echo(
        "\nNext steps (docs/getting-started.md walks through them with your own data):\n"
        f"  1. reach the command line: {reach}\n"
        f"  2. explained recommendations for a user: shoprec explain --pipeline {pipeline} {user}\n"
        f"  3. serve them over HTTP: shoprec serve --pipeline {pipeline}\n"
        "  4. your own shop: shoprec init --events orders.csv --catalog products.csv"
    )


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _write_reports(
    results: list[Any], out: Path, data: Any, train_s: dict[str, float] | None = None
) -> None:
    from shoprec.evaluation import write_html_report, write_json

    out.mkdir(parents=True, exist_ok=True)
    metadata = {
        "dataset": data.name,
        "split": repr(data.split),
        "protocol": data.split.protocol,
        "items": len(data.catalog),
        "train_s": train_s or {},
    }
    write_json(results, out / "report.json", metadata=metadata)
    html = write_html_report(
        results, out / "report.html", title=f"shoprec: {data.name}", metadata=metadata
    )
    click.echo(f"report written to {html}")
