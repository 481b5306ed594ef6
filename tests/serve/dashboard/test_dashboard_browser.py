"""The dashboard in a real browser: Debian's Chromium driven by Playwright, against the service
running under uvicorn on a tiny synthetic shop.

One browser for the whole session and one service per module keep these to a few seconds each.
Chromium comes from the system (``apt-get install chromium``, done by ``.ci/run``); Playwright's
own browser download is never used, and without a ``chromium`` binary the tests skip.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from serve_support import version_of
from shoprec.serve import ServiceSettings, create_app
from shoprec.store import import_events, open_store, record_import

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium binary on PATH (Debian: apt-get install chromium; .ci/run installs it)",
)
ADMIN, READ = "admin-secret", "read-secret"
PAGES = {
    "Overview": "/dashboard/",
    "Experiments": "/dashboard/experiments",
    "Models": "/dashboard/models",
    "Customers": "/dashboard/customers",
    "Catalog": "/dashboard/catalog",
    "Data quality": "/dashboard/quality",
}
LAUNCH_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")  # closed with this module: Playwright's sync API keeps an
def browser() -> Iterator[Any]:  # event loop running that later asyncio.run() calls refuse
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


class LiveService:
    """The app under uvicorn in a thread, on a free port of 127.0.0.1."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the service did not start")
            time.sleep(0.05)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.app = app

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture(scope="module")
def service(
    artifacts: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveService]:
    data = artifacts["data"]
    url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'events.db'}"
    with open_store(url) as store:
        record_import(store, import_events(store, data.interactions, data.catalog),
                      source="synthetic shop")  # fmt: skip
    settings = ServiceSettings(pipeline=artifacts["a"], store_url=url, api_key=ADMIN,
                               read_key=READ, impression_flush_s=0.05)  # fmt: skip
    live = LiveService(create_app(settings))
    yield live
    live.close()


@pytest.fixture
def page(browser: Any, service: LiveService) -> Iterator[Any]:
    """A fresh browser context (no cookies) at 1280 px that refuses every request that leaves
    the service, and records them and the console's errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=service.url)
    tab = context.new_page()
    tab.outside, tab.errors = [], []

    def guard(route: Any) -> None:
        if route.request.url.startswith(service.url):
            route.continue_()
        else:
            tab.outside.append(route.request.url)
            route.abort()

    tab.route("**/*", guard)
    tab.on("console", lambda m: m.type == "error" and tab.errors.append(m.text))
    tab.on("pageerror", lambda e: tab.errors.append(str(e)))
    yield tab
    context.close()


def login(page: Any, key: str) -> None:
    page.goto("/dashboard/models")
    assert page.url.endswith("/dashboard/login?next=%2Fdashboard%2Fmodels")
    page.get_by_label("API key").fill(key)
    page.keyboard.press("Enter")
    page.wait_for_url("**/dashboard/models")


def test_login_opens_every_page_with_nothing_from_outside(
    page: Any, artifacts: dict[str, Any]
) -> None:
    page.goto("/dashboard/")
    page.get_by_label("API key").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "That key is not valid for this service."
    assert page.errors == [
        "Failed to load resource: the server responded with a status of 401 (Unauthorized)"
    ]  # the refused sign-in, and nothing else
    page.errors.clear()
    login(page, ADMIN)
    cookie = next(c for c in page.context.cookies() if c["name"] == "shoprec_dashboard")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and ADMIN not in cookie["value"]
    assert page.evaluate("document.cookie") == ""  # scripts cannot read the session
    for name, path in PAGES.items():
        page.get_by_role("navigation").get_by_role("link", name=name).click()
        page.wait_for_url(f"**{path}")
        assert page.get_by_role("heading", level=1).first.is_visible()
        assert page.locator("[aria-current=page]").inner_text() == name
    page.goto("/dashboard/")
    assert page.locator("#live-version").inner_text() == version_of(artifacts["a"])
    assert "events in the store" in page.inner_text("main")
    assert page.locator("svg.plot").count() >= 3
    assert page.outside == [] and page.errors == []
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/dashboard/login")
    page.goto("/dashboard/")
    assert "/dashboard/login" in page.url


def test_find_a_customer_and_ask_what_if(page: Any, service: LiveService) -> None:
    login(page, ADMIN)
    page.goto("/dashboard/customers")
    user = page.locator("#suggestions a").first.inner_text()
    page.get_by_label("Customer id").fill(user)
    page.get_by_role("button", name="Show").click()
    assert page.get_by_role("heading", name=f"Portrait of {user}").is_visible()
    assert page.locator("#portrait-summary").inner_text().strip()
    assert page.locator("#timeline tbody tr").count() > 0
    before = page.locator("#recommendations li").all_inner_texts()
    assert len(before) == 10 and all("score" in line for line in before)
    store = service.app.state.serving.store
    events = store.count_events()
    seen = {e.item_id for e in store.history(user)}
    item = next(i for i in service.app.state.serving.active.pipeline.catalog.item_ids
                if i not in seen)  # fmt: skip
    page.get_by_label("Event", exact=True).select_option("purchase")
    page.get_by_label("Item id").fill(item)
    page.get_by_role("button", name="Show the list after it").click()
    result = page.locator("#what-if-result")
    assert result.get_by_role("heading").inner_text().startswith("After a purchase of")
    assert result.locator("li").count() == 10
    assert store.count_events() == events  # a "what if" stores nothing
    page.get_by_role("button", name="Store this event for real").click()
    assert page.get_by_role("status").inner_text().startswith("Stored: purchase of " + item)
    assert store.count_events() == events + 1
    title = service.app.state.serving.active.pipeline.catalog.item(item).title
    assert title in page.locator("#timeline tbody tr").first.inner_text()
    assert page.errors == []


def test_search_the_catalog_and_open_an_item(page: Any) -> None:
    login(page, READ)
    page.goto("/dashboard/catalog")
    page.get_by_label("Describe what you look for").fill("wireless headphones")
    page.keyboard.press("Enter")
    page.wait_for_url("**/dashboard/catalog?q=wireless+headphones")
    rows = page.locator("#search-results tbody tr")
    assert rows.count() == 20
    first = rows.first.get_by_role("link").inner_text()
    rows.first.get_by_role("link").click()
    page.wait_for_url("**/dashboard/catalog/items/*")
    assert page.locator("#item-title").inner_text() == first
    assert page.locator("#similar-items tbody tr").count() == 10
    assert "Purchases" in page.locator("#item-stats").inner_text()


def test_start_and_stop_an_experiment(page: Any, artifacts: dict[str, Any]) -> None:
    login(page, ADMIN)
    page.goto("/dashboard/experiments")
    page.get_by_label("Name", exact=True).first.fill("browser-ab")
    form = page.locator("#start-form")
    form.locator("#pipeline1").fill(str(artifacts["a"]))
    form.locator("#pipeline2").fill(str(artifacts["b"]))
    form.get_by_role("button", name="Start experiment").click()
    assert page.get_by_role("status").inner_text() == "Experiment browser-ab started"
    row = page.locator("#experiment-list tbody tr", has_text="browser-ab")
    assert "running" in row.inner_text()
    row.get_by_role("button", name="Stop browser-ab").click()
    assert page.get_by_role("status").inner_text() == "Experiment browser-ab stopped"
    assert (
        "stopped" in page.locator("#experiment-list tbody tr", has_text="browser-ab").inner_text()
    )


def test_a_read_key_sees_no_action(page: Any) -> None:
    login(page, READ)
    assert "read only" in page.locator(".who").inner_text()
    for path in PAGES.values():
        page.goto(path)
        buttons = page.locator("main button").all_inner_texts()
        assert not [
            b for b in buttons if re.match(r"(Promote|Roll back|Start|Stop|Release|Scan|Store)", b)
        ], path


def test_narrow_screens_and_keyboard(browser: Any, service: LiveService) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, base_url=service.url)
    page = context.new_page()
    login(page, ADMIN)
    for path in PAGES.values():
        page.goto(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} scrolls sideways at 390 px ({width} px wide)"
        unlabelled = page.evaluate(
            """[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
               .filter(e => e.labels.length === 0 && !e.getAttribute('aria-label'))
               .map(e => e.name)"""
        )
        assert unlabelled == [], f"{path}: fields without a label {unlabelled}"
    page.goto("/dashboard/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.goto("/dashboard/")
    reached = []
    for _ in range(10):  # skip link, brand, then every page of the navigation
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.textContent.trim()"))
    assert set(PAGES) <= set(reached), reached
    page.keyboard.press("Shift+Tab")
    page.get_by_role("link", name="Data quality").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/dashboard/quality")
    context.close()


def test_the_browser_binary_is_the_system_one() -> None:
    assert CHROMIUM is not None and Path(CHROMIUM).is_file()
    assert "ms-playwright" not in os.path.realpath(CHROMIUM)
