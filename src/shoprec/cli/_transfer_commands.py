"""Commands for cross-platform transfer: `shoprec pretrain` and `shoprec adapt` for the
text-sequence model, `shoprec pretrain-ranker` and `shoprec adapt-ranker` for the CTR ranker."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from shoprec.cli._app import from_store_options, load_source, main, parse_params

if TYPE_CHECKING:
    from shoprec.data import Dataset
    from shoprec.ranking import PairSet

_PLATFORM_HELP = (
    "a platform value of the --data dataset; without --data, a named dataset, an ingested "
    "directory or 'synthetic' (the whole dataset is the platform)"
)
_MODES = ("zero_shot", "adaptor", "full")  # shoprec.transfer._sequence.ADAPT_MODES, kept light
_RANKER_MODES = ("zero_shot", "lora", "full")  # shoprec.transfer._ranker.RANKER_ADAPT_MODES


def _options(*options: Any) -> Any:
    """One decorator applying ``options`` in order (the first is the first in ``--help``)."""

    def apply(command: Any) -> Any:
        for option in reversed(options):
            command = option(command)
        return command

    return apply


_SOURCES = _options(
    click.option(
        "--platforms", required=True, help=f"Comma-separated source platforms: {_PLATFORM_HELP}."
    ),
    click.option("--data", "data", default=None, help="Dataset holding the platforms."),
    from_store_options,
    click.option(
        "--temperature",
        type=click.FloatRange(min=0.0),
        default=1.0,
        show_default=True,
        help="Platform sampling share n**T: 1 proportional to size, 0 uniform.",
    ),
)
_TARGET = _options(
    click.option(
        "--from",
        "pretrained_dir",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        required=True,
        help="Written by `shoprec pretrain` (for adapt) or `pretrain-ranker` (adapt-ranker).",
    ),
    click.option("--platform", required=True, help=f"The target: {_PLATFORM_HELP}."),
    click.option("--data", "data", default=None, help="Dataset holding the target platform."),
    from_store_options,
    click.option(
        "--fraction",
        type=click.FloatRange(0.0, 1.0, min_open=True),
        default=1.0,
        show_default=True,
        help="Share of the target's training users to adapt on (whole users).",
    ),
)


def _platforms(names: list[str], data: str | None, data_dir: Path | None) -> list[Dataset]:
    """One dataset per platform name, each named by its platform."""
    from shoprec.transfer import platform_dataset

    if data is None:
        return [load_source(name, data_dir) for name in names]
    dataset = load_source(data, data_dir)
    try:
        return [platform_dataset(dataset, name) for name in names]
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--platforms/--platform") from None


@main.command()
@_SOURCES
@click.option(
    "--epoch-size", type=click.IntRange(min=1), help="Training windows per epoch (default all)."
)
@click.option(
    "--param", "params", multiple=True, metavar="KEY=VALUE", help="TextSequence hyper-parameter."
)
@click.option("--seed", type=int, default=0, show_default=True, help="random_state.")
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Output dir."
)
@click.pass_context
def pretrain(
    ctx: click.Context,
    platforms: str,
    data: str | None,
    temperature: float,
    epoch_size: int | None,
    params: tuple[str, ...],
    seed: int,
    out: Path,
) -> None:
    """Pretrain the text-sequence model on several platforms and save it."""
    from shoprec.models import TextSequence
    from shoprec.transfer import pretrain as run_pretrain

    given = {"random_state": seed, "progress": True, **parse_params(params)}
    try:
        TextSequence(**given)  # unknown hyper-parameters fail before any data is read
    except TypeError as error:
        raise click.BadParameter(str(error), param_hint="--param") from None
    names = [name.strip() for name in platforms.split(",") if name.strip()]
    sources = _platforms(names, data, ctx.obj["data_dir"])
    for source in sources:
        click.echo(f"source {source.name}: {len(source.catalog)} items, {source.split}")
    model = run_pretrain(sources, temperature=temperature, epoch_size=epoch_size, **given)
    model.save(out)
    shares = ", ".join(f"{name} {share:.2f}" for name, share in model.shares.items())
    click.echo(f"epoch shares: {shares}")
    click.echo(f"pretrained model saved to {out}")


@main.command()
@_TARGET
@click.option("--mode", type=click.Choice(_MODES), default="adaptor", show_default=True)
@click.option(
    "--param", "params", multiple=True, metavar="KEY=VALUE", help="Training hyper-parameter."
)
@click.option("--seed", type=int, default=0, show_default=True, help="random_state.")
@click.option("--evaluate", "run_evaluation", is_flag=True, help="Evaluate on the target test.")
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Output dir."
)
@click.pass_context
def adapt(
    ctx: click.Context,
    pretrained_dir: Path,
    platform: str,
    data: str | None,
    mode: str,
    fraction: float,
    params: tuple[str, ...],
    seed: int,
    run_evaluation: bool,
    out: Path,
) -> None:
    """Adapt a pretrained model to a target platform and save the target's recommender."""
    from shoprec.evaluation import evaluate, format_table
    from shoprec.transfer import PretrainedTextSequence, subsample_users
    from shoprec.transfer import adapt as run_adapt

    pretrained = PretrainedTextSequence.load(pretrained_dir)
    target = _platforms([platform], data, ctx.obj["data_dir"])[0]
    split = subsample_users(target.split, fraction, random_state=seed)
    click.echo(f"adapting ({mode}) to {target.name}: {len(target.catalog)} items, {split}")
    given = {"random_state": seed, "progress": True, **parse_params(params)}
    try:
        model = run_adapt(
            pretrained, split.train, target.catalog, mode=mode, validation=split.valid, **given
        )
    except (TypeError, ValueError) as error:  # bad hyper-parameters or mode for the artifact
        raise click.UsageError(str(error)) from None
    model.save(out)
    click.echo(f"model saved to {out}")
    if run_evaluation:
        result = evaluate(model, target.split, catalog=target.catalog, name=f"transfer-{mode}")
        click.echo(format_table([result]))


_USERS = click.option(
    "--users",
    type=click.IntRange(min=2),
    default=1000,
    show_default=True,
    help="Users (a seeded sample) whose pairs are mined per platform.",
)
_RANKER_TRAINING = _options(
    click.option("--epochs", type=click.IntRange(min=1), default=1, show_default=True),
    click.option("--max-length", type=click.IntRange(min=16), default=96, show_default=True),
    click.option("--seed", type=int, default=0, show_default=True, help="random_state."),
    click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True),
)


def _pairs(dataset: Dataset, users: int, seed: int, period: str = "valid") -> PairSet:
    """``dataset``'s ranker pairs, hard negatives from co-visitation (see ``platform_pairs``)."""
    from shoprec.text import encode_texts, item_texts
    from shoprec.transfer import platform_pairs

    vectors = encode_texts("onnx", item_texts(dataset.catalog), progress=True)
    pairs = platform_pairs(dataset, vectors, period=period, max_users=users, random_state=seed)
    click.echo(f"{dataset.name} ({period}): {len(pairs)} pairs of {len(set(pairs.users))} users")
    return pairs


@main.command("pretrain-ranker")
@_SOURCES
@click.option("--mode", type=click.Choice(["frozen", "lora", "full"]), default="lora")
@_USERS
@_RANKER_TRAINING
@click.pass_context
def pretrain_ranker(
    ctx: click.Context,
    platforms: str,
    data: str | None,
    temperature: float,
    mode: str,
    users: int,
    epochs: int,
    max_length: int,
    seed: int,
    out: Path,
) -> None:
    """Pretrain the CTR ranker on several platforms' validation-period pairs and save it."""
    from shoprec.transfer import pretrain_ranker as run_pretrain

    names = [name.strip() for name in platforms.split(",") if name.strip()]
    sources = {source.name: _pairs(source, users, seed)
               for source in _platforms(names, data, ctx.obj["data_dir"])}  # fmt: skip
    ranker = run_pretrain(
        sources, temperature=temperature, random_state=seed, mode=mode, max_epochs=epochs,
        max_length=max_length, progress=True,
    )  # fmt: skip
    ranker.save(out)
    click.echo(f"pretrained ranker saved to {out}")


@main.command("adapt-ranker")
@_TARGET
@click.option("--mode", type=click.Choice(_RANKER_MODES), default="lora", show_default=True)
@_USERS
@click.option("--evaluate", "run_evaluation", is_flag=True, help="AUC on test-period pairs.")
@_RANKER_TRAINING
@click.pass_context
def adapt_ranker(
    ctx: click.Context,
    pretrained_dir: Path,
    platform: str,
    data: str | None,
    mode: str,
    fraction: float,
    users: int,
    run_evaluation: bool,
    epochs: int,
    max_length: int,
    seed: int,
    out: Path,
) -> None:
    """Adapt a pretrained CTR ranker to a target platform; save it and its ONNX export."""
    from shoprec.metrics import auc, gauc
    from shoprec.ranking import CTRRanker, export_ctr_onnx
    from shoprec.transfer import adapt_ranker as run_adapt
    from shoprec.transfer import subsample_pairs

    pretrained = CTRRanker.load(pretrained_dir)
    target = _platforms([platform], data, ctx.obj["data_dir"])[0]
    pairs = None
    if mode != "zero_shot":
        pairs = subsample_pairs(_pairs(target, users, seed), fraction, random_state=seed)
        click.echo(f"adapting ({mode}) on {len(pairs)} pairs of {len(set(pairs.users))} users")
    ranker = run_adapt(pretrained, pairs, mode=mode, max_epochs=epochs, max_length=max_length,
                       random_state=seed, progress=True)  # fmt: skip
    ranker.save(out)
    export_ctr_onnx(ranker, out / "onnx")
    click.echo(f"ranker saved to {out} (ONNX export in {out / 'onnx'})")
    if run_evaluation:
        test = _pairs(target, users, seed, period="test")
        scores = ranker.predict_proba(test.contexts, test.candidates)
        click.echo(f"test AUC {auc(test.labels, scores):.4f}, "
                   f"GAUC {gauc(test.labels, scores, test.users):.4f}")  # fmt: skip
