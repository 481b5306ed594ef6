"""Commands of the online loop: `shoprec experiment`, `shoprec simulate`, `shoprec report online`.

Experiments are started and stopped through the running service's admin API (it loads the
variants' pipelines); reports read the store directly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from shoprec.cli._app import from_store_options, load_source, main, parse_time

_URL = click.option(
    "--url", envvar="SHOPREC_URL", default="http://127.0.0.1:8000", show_default=True,
    help="The running service (env SHOPREC_URL).",
)  # fmt: skip
_KEY = click.option(
    "--api-key", envvar="SHOPREC_API_KEY", default=None, help="Admin key (env SHOPREC_API_KEY)."
)
_VARIANTS = click.option(
    "--variant", "variants", multiple=True, metavar="NAME=DIR",
    help="A variant and its pipeline directory (the first is the control); repeat. "
    "NAME alone serves the active pipeline (an A/A test).",
)  # fmt: skip


def _client(url: str, api_key: str | None) -> Any:
    import httpx

    headers = {"X-API-Key": api_key} if api_key else {}
    return httpx.Client(base_url=url, headers=headers, timeout=120.0)


def _variants(pairs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, _, path = pair.partition("=")
        out[name] = str(Path(path).resolve()) if path else ""
    if len(out) < 2:
        raise click.BadParameter("give at least two --variant", param_hint="--variant")
    return out


def _answer(response: Any) -> Any:
    if response.status_code >= 400:
        raise click.ClickException(f"{response.status_code}: {response.text[:500]}")
    return response.json()


@main.group()
def experiment() -> None:
    """A/B and A/A experiments on the running service."""


@experiment.command("start")
@click.argument("name")
@_VARIANTS
@click.option("--salt", default=None, help="Assignment salt (default: random).")
@_URL
@_KEY
def experiment_start(
    name: str, variants: tuple[str, ...], salt: str | None, url: str, api_key: str | None
) -> None:
    """Start experiment NAME: users split between the variants by a hash of their id."""
    chosen = _variants(variants)
    body: dict[str, Any] = {
        "name": name,
        "variants": [{"name": v, **({"pipeline": p} if p else {})} for v, p in chosen.items()],
    }
    if salt:
        body["salt"] = salt
    with _client(url, api_key) as client:
        started = _answer(client.post("/v1/admin/experiments", json=body))
    click.echo(f"experiment {started['name']} running: {', '.join(chosen)}")


@experiment.command("stop")
@click.argument("name")
@_URL
@_KEY
def experiment_stop(name: str, url: str, api_key: str | None) -> None:
    """Stop experiment NAME (everyone gets the active pipeline again; results stay)."""
    with _client(url, api_key) as client:
        _answer(client.post(f"/v1/admin/experiments/{name}/stop"))
    click.echo(f"experiment {name} stopped")


@experiment.command("status")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the service's answer as JSON.")
@_URL
@_KEY
def experiment_status(name: str | None, as_json: bool, url: str, api_key: str | None) -> None:
    """Per-variant metrics with 95% intervals and p-values (all experiments without NAME)."""
    with _client(url, api_key) as client:
        if name is None:
            listed = _answer(client.get("/v1/admin/experiments"))["experiments"]
            names = [e["name"] for e in listed]
        else:
            names = [name]
        answers = [_answer(client.get(f"/v1/admin/experiments/{n}")) for n in names]
    if as_json:
        click.echo(json.dumps(answers, indent=2))
        return
    for answer in answers:
        exp = answer["experiment"]
        click.echo(f"{exp['name']} ({exp['status']}{', A/A' if exp['aa'] else ''})")
        for r in answer["results"]:
            click.echo(f"  {r['variant']:<10} {r['metric']:<24} {_fmt(r['value'])} "
                       f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]  n={r['impressions']:<7} "
                       f"lift {_fmt(r['lift'])}  p {_fmt(r['p_value'])}")  # fmt: skip


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


@main.command()
@_VARIANTS
@click.option("--name", default="simulated", show_default=True, help="Experiment name.")
@click.option("--visits", type=click.IntRange(min=1), default=2000, show_default=True)
@click.option("-k", "k", type=click.IntRange(min=1, max=100), default=10, show_default=True)
@click.option(
    "--mode", type=click.Choice(["synthetic", "replay"]), default="synthetic", show_default=True,
    help="synthetic: the synthetic shop's latent tastes (--users/--items/--shop-seed must be "
    "those the pipelines were built on); replay: held-out test events of --dataset.",
)  # fmt: skip
@click.option("--dataset", default="synthetic", show_default=True, help="For --mode replay.")
@from_store_options
@click.option("--users", type=int, default=800, show_default=True)
@click.option("--items", type=int, default=400, show_default=True)
@click.option("--shop-seed", type=int, default=0, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="The customers' choices.")
@click.option("--json", "as_json", is_flag=True)
@_URL
@_KEY
@click.pass_context
def simulate(
    ctx: click.Context, variants: tuple[str, ...], name: str, visits: int, k: int, mode: str,
    dataset: str, users: int, items: int, shop_seed: int, seed: int, as_json: bool, url: str,
    api_key: str | None,
) -> None:  # fmt: skip
    """Run an A/B (or A/A) experiment on the live service with simulated customers, then show
    what the service measured beside the simulator's ground truth."""
    from shoprec.datasets import synthetic_tastes
    from shoprec.online import (
        ReplayCustomers,
        SyntheticCustomers,
        measured_against_truth,
        run_experiment,
    )

    customers: Any
    if mode == "synthetic":
        tastes = synthetic_tastes(n_users=users, n_items=items, random_state=shop_seed)
        customers = SyntheticCustomers(tastes)
    else:
        customers = ReplayCustomers(load_source(dataset, ctx.obj["data_dir"]).split.test)
    with _client(url, api_key) as client:
        truth, status = run_experiment(
            client, name, _variants(variants), customers, visits=visits, k=k,
            random_state=seed, progress=True,
        )  # fmt: skip
    rows = measured_against_truth(truth, status)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(
            f"{row['variant']:<10} impressions {row['impressions']:>7}  CTR measured "
            f"{_fmt(row['ctr'])} true {row['true_ctr']:.4f} (error {row['ctr_relative_error']:.2%})"
            f"  expected {row['expected_ctr']:.4f}  p {_fmt(row['p_value'])}"
        )


@main.group()
def report() -> None:
    """Reports."""


@report.command("online")
@click.option("--store", "store_url", envvar="SHOPREC_STORE_URL", required=True)
@click.option("--since", default=None, help="ISO date, ms, or an age such as 7d.")
@click.option("--until", default=None)
@click.option("--window-hours", type=click.FloatRange(min=0, min_open=True), default=24.0)
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), default=Path("shoprec-online")
)
def report_online(
    store_url: str, since: str | None, until: str | None, window_hours: float, out: Path
) -> None:
    """Write online.html (plots) and online.json: CTR, add-to-cart, conversion, revenue per
    impression and dwell per version, variant and day; experiments; drift."""
    from shoprec.online import AttributionConfig, online_report, write_online_report
    from shoprec.store import open_store

    config = AttributionConfig(window_ms=int(window_hours * 3_600_000))
    with open_store(store_url) as store:
        data = online_report(
            store, since=None if since is None else parse_time(since),
            until=None if until is None else parse_time(until), config=config,
        )  # fmt: skip
    page = write_online_report(data, out)
    click.echo(f"online report written to {page}")


_DURATION = {"m": 60, "h": 3600, "d": 86400}


def _seconds(every: str) -> float:
    unit = _DURATION.get(every[-1:])
    if unit is None or not every[:-1].replace(".", "", 1).isdigit() or float(every[:-1]) <= 0:
        raise click.BadParameter(
            f"{every!r}: use a duration such as 30m, 6h or 1d", param_hint="--every"
        )
    return float(every[:-1]) * unit


@main.command()
@click.option("--store", "store_url", envvar="SHOPREC_STORE_URL", required=True)
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), required=True,
    help="Directory the challengers are saved under.",
)  # fmt: skip
@click.option(
    "--champion", "champion_path", type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The live pipeline, registered as champion when the registry has none.",
)  # fmt: skip
@click.option("--model", default=None, help="Challenger model (default: the champion's).")
@click.option("--encoder", default=None, help="Challenger encoder (default: the champion's).")
@click.option("--margin", type=click.FloatRange(min=0), default=0.02, show_default=True,
              help="Relative NDCG@10 gain the challenger needs.")  # fmt: skip
@click.option("--max-users", type=click.IntRange(min=1), default=2000, show_default=True)
@click.option("--incremental", is_flag=True, help="Fine-tune the champion's SASRec or "
              "text_sequence on the new events instead of training from scratch.")  # fmt: skip
@click.option("--epochs", type=click.IntRange(min=1), default=3, show_default=True,
              help="Epochs of an --incremental fine-tuning.")  # fmt: skip
@click.option("--every", default=None, help="Run again after this long (30m, 6h, 1d); "
              "without it, run once (for cron).")  # fmt: skip
@click.option("--reload-url", default=None, help="Service to reload when a challenger wins.")
@_KEY
def retrain(
    store_url: str, out: Path, champion_path: Path | None, model: str | None,
    encoder: str | None, margin: float, max_users: int, incremental: bool, epochs: int,
    every: str | None, reload_url: str | None, api_key: str | None,
) -> None:  # fmt: skip
    """Train a challenger from the store, judge it against the champion on the most recent
    events, and promote it only if it wins by --margin (the registry keeps both)."""
    import time

    from shoprec.online import RetrainConfig
    from shoprec.online import retrain as run_retrain
    from shoprec.pipeline import Pipeline, PipelineConfig
    from shoprec.store import open_store

    pause = None if every is None else _seconds(every)
    while True:
        with open_store(store_url) as store:
            base = _champion_config(store, champion_path, Pipeline)
            config = RetrainConfig(pipeline=_config(base, model, encoder, PipelineConfig),
                                   margin=margin, max_eval_users=max_users,
                                   incremental=incremental, incremental_epochs=epochs)  # fmt: skip
            result = run_retrain(store, out, config=config, champion_path=champion_path,
                                 progress=True)  # fmt: skip
        verdict = "promoted" if result.promoted else "kept the champion"
        click.echo(f"{verdict}: {result.reason} ({result.seconds:.0f} s)")
        click.echo(f"challenger {result.challenger.version} at {result.challenger.path}")
        if result.promoted and reload_url:
            with _client(reload_url, api_key) as client:
                _answer(client.post("/v1/admin/reload", json={"path": result.challenger.path}))
            click.echo(f"{reload_url} now serves {result.challenger.version}")
        if pause is None:
            return
        click.echo(f"next run in {every}")
        time.sleep(pause)


def _champion_config(store: Any, champion_path: Path | None, pipeline_type: Any) -> Any:
    from shoprec.online import champion

    entry = champion(store)
    path = entry.path if entry is not None else champion_path
    return None if path is None else pipeline_type.load(path).settings


def _config(base: Any, model: str | None, encoder: str | None, config_type: Any) -> Any:
    from dataclasses import replace

    if base is None:
        if model is None:
            raise click.UsageError("no champion yet: give --champion DIR or --model NAME")
        base = config_type(model=model)
    changes: dict[str, Any] = {
        k: v for k, v in (("model", model), ("encoder", encoder)) if v is not None
    }
    if "model" in changes and changes["model"] != base.model:
        changes["model_params"] = {}
    return replace(base, **changes)


@main.group()
def registry() -> None:
    """The model registry in the store: versions, data, metrics, who is live."""


@registry.command("list")
@click.option("--store", "store_url", envvar="SHOPREC_STORE_URL", required=True)
@click.option("--json", "as_json", is_flag=True)
def registry_list(store_url: str, as_json: bool) -> None:
    """Every registered version, newest first, with offline and online metrics."""
    from dataclasses import asdict

    from shoprec.online import list_models
    from shoprec.store import open_store

    with open_store(store_url) as store:
        entries = list_models(store)
    if as_json:
        click.echo(json.dumps([asdict(e) for e in entries], indent=2, default=str))
        return
    for e in entries:
        ndcg, ctr = e.offline.get("ndcg@10"), e.online.get("ctr")
        events = e.data.get("events", "-")
        click.echo(f"{e.version}  {e.status:<9} {e.model:<14} events {events!s:>8}"
                   f"  ndcg@10 {_fmt(ndcg)}  ctr {_fmt(ctr)}  {e.reason}")  # fmt: skip


@registry.command("promote")
@click.argument("version")
@click.option("--store", "store_url", envvar="SHOPREC_STORE_URL", required=True)
def registry_promote(version: str, store_url: str) -> None:
    """Make VERSION the champion (e.g. roll back to a retired one); reload the service after."""
    from shoprec.online import promote
    from shoprec.store import open_store

    with open_store(store_url) as store:
        entry = promote(store, version, reason="promoted by hand")
    click.echo(f"{entry.version} is the champion: {entry.path}")
