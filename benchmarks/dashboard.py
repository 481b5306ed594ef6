"""Screenshots of every dashboard page at 1280 and 390 px, on a service the simulator filled.

A synthetic shop (``--users``/``--items``) with click bots injected into its history is written
to a CSV file with a few bad rows, read leniently and imported into a SQLite store (so the
import's report, rejects included, is in the store). Two pipelines are built on it (popularity
and ALS, MiniLM item text unless ``--encoder hashing``), evaluated on the held-out users and
registered in the model registry (ALS the champion). ``shoprec serve`` serves ALS with an admin
and a read key; through its HTTP API the simulator runs an A/B test (popularity vs ALS, then
stopped) with ``--visits`` customer visits and starts an A/A test (left running) with as many in
``--rounds`` rounds ``--pause`` seconds apart (so the series have more than one point), an abuse
scan runs, an item is added and another removed, and the popularity pipeline is loaded and
rolled back (so a rollback target exists). Then Debian's Chromium, through Playwright, signs in
with the admin key and saves every page at both widths to ``benchmarks/results/dashboard/``.

Rows: per page and width, the HTTP status, the page's load time in the browser (``load_ms``,
beside other jobs on a shared 2-core machine) and its HTML size.

    OMP_WAIT_POLICY=PASSIVE nice -n 10 python benchmarks/dashboard.py
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from _results import RESULTS_DIR, write_results
from serving import free_port, server
from shoprec.datasets import make_synthetic_shop, read_shop_files, synthetic_tastes
from shoprec.evaluation import evaluate_pipeline, pipeline_test_users
from shoprec.online import ModelEntry, SyntheticCustomers, register_model, run_experiment, simulate
from shoprec.pipeline import Pipeline, PipelineConfig
from shoprec.quality import AttackConfig, simulate_attack
from shoprec.store import import_events, open_store, record_import

logger = logging.getLogger("dashboard-bench")
OUT = RESULTS_DIR / "dashboard"
ADMIN, READ = "bench-admin-key", "bench-read-key"
WIDTHS = {1280: 900, 390: 844}
LAUNCH_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def write_events(frame: Any, path: Path) -> None:
    """The events as a shop's CSV export, with three rows a validator must refuse."""
    columns = ["user_id", "item_id", "event_type", "timestamp"]
    frame[columns].to_csv(path, index=False)
    with path.open("a") as out:
        out.write(",p00001,view,1700000000000\n")  # no user
        out.write("u00001,p00001,teleport,1700000000000\n")  # unknown event type
        out.write("u00002,p00002,view,yesterday\n")  # not a time


def build(tmp: Path, args: argparse.Namespace) -> tuple[dict[str, str], str, Any]:
    """Pipelines, registry and store; returns the pipeline paths, the store URL and the shop."""
    shop = make_synthetic_shop(n_users=args.users, n_items=args.items, random_state=0)
    attack = simulate_attack(shop.split.train, AttackConfig(kind="click_bot", fraction=0.02))
    events = tmp / "events.csv"
    write_events(attack.interactions.frame, events)
    _, interactions, reports = read_shop_files(events, lenient=True, timestamp_unit="ms")
    url = f"sqlite:///{tmp / 'events.db'}"
    paths: dict[str, str] = {}
    cases = pipeline_test_users(shop.split)
    with open_store(url) as store:
        result = import_events(store, interactions, shop.catalog)
        record_import(store, result, reports, source=str(events))
        for model in ("popularity", "als"):
            config = PipelineConfig(model=model, encoder=args.encoder)
            pipeline = Pipeline(config, random_state=0).fit(shop.split.train, shop.catalog)
            metrics = evaluate_pipeline(pipeline, cases)
            pipeline.record_metrics({"dataset": "synthetic shop", **metrics})
            paths[model] = str(pipeline.save(tmp / model))
            version = _version(Path(paths[model]))
            status = "champion" if model == "als" else "retired"
            register_model(
                store,
                ModelEntry(
                    version=version,
                    path=paths[model],
                    model=model,
                    status=status,
                    created_at=int(time.time() * 1000) - (0 if model == "als" else 86_400_000),
                    data={"events": len(shop.split.train)},
                    offline=metrics,
                    reason="built by benchmarks/dashboard.py",
                ),
            )
    return paths, url, shop


def _version(path: Path) -> str:
    import hashlib

    return hashlib.sha256((path / "manifest.json").read_bytes()).hexdigest()[:12]


def fill(base: str, paths: dict[str, str], shop: Any, args: argparse.Namespace) -> None:
    """Traffic and operations through the running service's API."""
    customers = SyntheticCustomers(
        synthetic_tastes(n_users=args.users, n_items=args.items, random_state=0)
    )
    headers = {"X-API-Key": ADMIN}
    with httpx.Client(base_url=base, timeout=120, headers=headers) as client:
        run_experiment(
            client,
            "ab-popularity-vs-als",
            {"A": paths["popularity"], "B": paths["als"]},
            customers,
            visits=args.visits,
            random_state=1,
        )
        body = {
            "name": "aa-als",
            "description": "A/A test of the measurement",
            "variants": [{"name": "A"}, {"name": "B"}],
        }
        client.post("/v1/admin/experiments", json=body).raise_for_status()
        for round_ in range(args.rounds):  # traffic over a few minutes, for the series
            if round_:
                time.sleep(args.pause)
            visits = args.visits // args.rounds
            simulate(client, customers, visits=visits, random_state=2 + round_)
        client.post("/v1/admin/abuse/scan").raise_for_status()
        new = {
            "title": "Trailpeak Ultralight Hiking Backpack 30L",
            "brand": "Trailpeak",
            "category": ["Sports", "Outdoor", "Backpacks"],
            "price": 79.0,
        }
        client.put("/v1/items/new-backpack-30l", json=new).raise_for_status()
        client.delete(f"/v1/items/{shop.catalog.item_ids[-1]}").raise_for_status()
        client.post("/v1/admin/reload", json={"path": paths["popularity"]}).raise_for_status()
        client.post("/v1/admin/rollback").raise_for_status()
        time.sleep(2)  # the impression log's writer stores the last lists


def pages(shop: Any) -> dict[str, str]:
    frame = shop.split.train.frame
    user = str(frame["user_id"].value_counts().index[5])
    seen = set(frame.loc[frame["user_id"] == user, "item_id"])
    item = next(i for i in shop.catalog.item_ids if i not in seen)
    return {
        "login": "/dashboard/login",
        "overview": "/dashboard/",
        "experiments": "/dashboard/experiments?name=ab-popularity-vs-als",
        "models": "/dashboard/models",
        "customer": f"/dashboard/customers?user={user}&what_type=purchase&what_item={item}",
        "catalog": "/dashboard/catalog?q=lightweight+running+shoes",
        "item": f"/dashboard/catalog/items/{item}",
        "quality": "/dashboard/quality?check=1",
    }


def screenshots(base: str, shop: Any) -> list[dict[str, Any]]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("no chromium binary: apt-get install chromium (never `playwright install`)")
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=LAUNCH_ARGS)
        for width, height in WIDTHS.items():
            context = browser.new_context(
                viewport={"width": width, "height": height}, base_url=base
            )
            page = context.new_page()
            for name, path in pages(shop).items():
                if name == "overview" and not context.cookies():
                    page.goto("/dashboard/login")
                    page.get_by_label("API key").fill(ADMIN)
                    page.get_by_role("button", name="Sign in").click()
                    page.wait_for_url("**/dashboard/")
                start = time.perf_counter()
                answer = page.goto(path, wait_until="load")
                load_ms = (time.perf_counter() - start) * 1000
                shot = OUT / f"{name}-{width}.png"
                page.screenshot(path=str(shot), full_page=True)
                wide = page.evaluate("document.documentElement.scrollWidth")
                rows.append(
                    {
                        "page": name,
                        "width": width,
                        "status": answer.status,
                        "load_ms": round(load_ms, 1),
                        "html_kb": round(len(page.content()) / 1024, 1),
                        "sideways_px": max(0, wide - width),
                        "screenshot": str(shot.relative_to(RESULTS_DIR.parent)),
                    }
                )
                logger.info("%s", rows[-1])
            context.close()
        browser.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=800)
    parser.add_argument("--items", type=int, default=400)
    parser.add_argument("--visits", type=int, default=1500)
    parser.add_argument("--encoder", default="onnx", help="onnx (MiniLM) or hashing")
    parser.add_argument("--rounds", type=int, default=5, help="A/A traffic in this many rounds")
    parser.add_argument("--pause", type=float, default=20.0, help="Seconds between rounds")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    tmp = Path(tempfile.mkdtemp(prefix="shoprec-dashboard-"))
    paths, url, shop = build(tmp, args)
    os.environ.update(
        SHOPREC_API_KEY=ADMIN, SHOPREC_READ_KEY=READ, SHOPREC_IMPRESSION_FLUSH_S="0.2"
    )
    port = free_port()
    with server(Path(paths["als"]), url, port, tmp / "server.log"):
        base = f"http://127.0.0.1:{port}"
        fill(base, paths, shop, args)
        rows = screenshots(base, shop)
    notes = (
        f"Screenshots in benchmarks/results/dashboard/ (page-width.png). Synthetic shop "
        f"{args.users} users x {args.items} items, {args.visits} simulated visits per "
        f"experiment, encoder {args.encoder}; load_ms beside other jobs on a shared 2-core "
        "machine. sideways_px: how far a page scrolls sideways (0 = fits the width)."
    )
    print(write_results("dashboard", rows, notes=notes))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
