"""The ``shoprec`` command line: thin wrappers that parse, call the library and show progress."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from shoprec.exceptions import ShoprecError

if TYPE_CHECKING:
    from shoprec.data.datasets import Dataset

logger = logging.getLogger("shoprec")

DEFAULT_DATASET = "amazon2023_electronics"


def _parse_params(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``key=value`` pairs to a dict; values are JSON where they parse, strings otherwise."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected key=value, got {pair!r}", param_hint="--param")
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
    return params


def _load(source: str, data_dir: Path | None) -> Dataset:
    """A named dataset, a directory written by ``shoprec ingest``, or ``synthetic``."""
    from shoprec.data.datasets import load_dataset
    from shoprec.data.local import load_ingested
    from shoprec.data.synthetic import make_synthetic_shop

    if source == "synthetic":
        return make_synthetic_shop()
    if Path(source).is_dir():
        return load_ingested(Path(source))
    return load_dataset(source, data_dir=data_dir, progress=True)


class _Group(click.Group):
    """Turns library errors into one clear line and exit code 2 instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ShoprecError as error:
            click.secho(f"error: {error}", fg="red", err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="SHOPREC_DATA_DIR",
    help="Where named datasets live (env SHOPREC_DATA_DIR; default ~/.cache/shoprec/data).",
)
@click.pass_context
def main(ctx: click.Context, verbose: int, data_dir: Path | None) -> None:
    """shoprec: recommendations for online shops from catalog text and customer behaviour."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = {"data_dir": data_dir}


@main.command()
@click.option(
    "--events",
    "events_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="Events file: CSV, JSON Lines or Parquet.",
)
@click.option(
    "--catalog",
    "catalog_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Catalog file: CSV, JSON Lines or Parquet.",
)
@click.option(
    "--map",
    "mapping",
    multiple=True,
    metavar="FIELD=COLUMN",
    help="Map a shoprec field to a file column, e.g. user_id=CustomerID. Repeatable.",
)
@click.option(
    "--item-map",
    "item_mapping",
    multiple=True,
    metavar="FIELD=COLUMN",
    help="The same for the catalog file.",
)
@click.option("--event-type", help="Event type for every row when the file has no event column.")
@click.option(
    "--lenient", is_flag=True, help="Write bad rows to a rejects file instead of failing."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory to write the ingested dataset to.",
)
def ingest(
    events_path: Path,
    catalog_path: Path | None,
    mapping: tuple[str, ...],
    item_mapping: tuple[str, ...],
    event_type: str | None,
    lenient: bool,
    out: Path,
) -> None:
    """Validate and store a shop's events (and catalog) as a dataset directory."""
    from shoprec.data.local import ingest_files

    reports = ingest_files(
        events_path,
        catalog_path,
        out=out,
        event_mapping=dict(p.split("=", 1) for p in mapping),
        item_mapping=dict(p.split("=", 1) for p in item_mapping),
        default_event_type=event_type,
        lenient=lenient,
        progress=True,
    )
    for report in reports:
        click.echo(report.summary())
    click.echo(f"dataset written to {out}")


@main.command()
@click.option(
    "--dataset",
    default=DEFAULT_DATASET,
    show_default=True,
    help="Named dataset, ingested directory, or 'synthetic'.",
)
@click.option("--model", "model_name", required=True, help="Model name (see `shoprec models`).")
@click.option(
    "--param", "params", multiple=True, metavar="KEY=VALUE", help="Hyper-parameter, repeatable."
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="random_state for stochastic models."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory to save the model to.",
)
@click.pass_context
def train(
    ctx: click.Context, dataset: str, model_name: str, params: tuple[str, ...], seed: int, out: Path
) -> None:
    """Fit a model on a dataset's training split and save it."""
    from shoprec.models import create_recommender

    data = _load(dataset, ctx.obj["data_dir"])
    try:
        model = create_recommender(model_name, **_parse_params(params))
    except (ValueError, TypeError) as error:  # unknown model or hyper-parameter
        raise click.BadParameter(str(error), param_hint="--model/--param") from None
    if "random_state" in model.get_params() and not any(
        p.startswith("random_state=") for p in params
    ):
        model = create_recommender(model_name, **{**_parse_params(params), "random_state": seed})
    if "progress" in model.get_params():
        model = create_recommender(model_name, **{**model.get_params(), "progress": True})
    click.echo(f"training {model_name} on {data.name}: {data.split}")
    model.fit(data.split.train, data.catalog, validation=data.split.valid)
    model.save(out)
    click.echo(f"model saved to {out}")


@main.command()
@click.option(
    "--model-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True
)
@click.option("--dataset", default=DEFAULT_DATASET, show_default=True)
@click.option(
    "--report",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write report.json and report.html here.",
)
@click.pass_context
def evaluate(ctx: click.Context, model_dir: Path, dataset: str, report: Path | None) -> None:
    """Evaluate a saved model on a dataset's test split (full ranking)."""
    from shoprec.evaluation import evaluate as run_evaluation
    from shoprec.evaluation import format_table
    from shoprec.models import Recommender

    data = _load(dataset, ctx.obj["data_dir"])
    model = Recommender.load(model_dir)
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
    from shoprec.models import Recommender

    model = Recommender.load(model_dir)
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
@click.pass_context
def datasets(ctx: click.Context) -> None:
    """List the named datasets and whether they are present in the data directory."""
    from shoprec.data.datasets import DATASETS, available_datasets, resolve_data_dir

    present = set(available_datasets(ctx.obj["data_dir"]))
    click.echo(f"data directory: {resolve_data_dir(ctx.obj['data_dir'])}")
    for name, spec in DATASETS.items():
        mark = "present" if name in present else "missing"
        click.echo(f"  {name:<36} {mark:<8} {spec.description}")


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
@click.pass_context
def demo(
    ctx: click.Context, dataset: str | None, model_names: str | None, out: Path, seed: int
) -> None:
    """Train and evaluate the baselines on the default dataset and write the report."""
    from shoprec.data.datasets import available_datasets
    from shoprec.evaluation import format_table
    from shoprec.evaluation.experiment import baseline_models, compare_models

    if dataset is None:
        if DEFAULT_DATASET in available_datasets(ctx.obj["data_dir"]):
            dataset = DEFAULT_DATASET
        else:
            click.secho(
                f"{DEFAULT_DATASET} not found in the data directory (see `shoprec datasets`); "
                "using the built-in synthetic shop instead.",
                fg="yellow",
            )
            dataset = "synthetic"
    data = _load(dataset, ctx.obj["data_dir"])
    click.echo(f"dataset {data.name}: {len(data.catalog)} items, {data.split}")
    chosen = None if model_names is None else [m.strip() for m in model_names.split(",")]
    models = baseline_models(chosen, random_state=seed)

    def show(run: Any) -> None:
        ndcg = run.result.metrics["ndcg@10"]
        click.echo(f"  {run.name:<18} trained in {run.train_s:6.1f} s   NDCG@10 {ndcg:.4f}")

    runs = compare_models(models, data, progress=True, on_done=show)
    results = [run.result for run in runs]
    click.echo(format_table(results))
    _write_reports(results, out, data, train_s={run.name: run.train_s for run in runs})


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
