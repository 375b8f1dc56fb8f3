"""Browser fixtures: Debian's Chromium driven by Playwright's sync API against live_server."""

import os
from pathlib import Path

import pytest

from tests.conftest import chromium_path, seed_rows, skip_or_fail

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module.

    Module scope, not session: modules elsewhere import these fixtures, and two Playwright
    sync sessions alive at once refuse to start ("Sync API inside the asyncio loop").
    Playwright's sync API runs an event loop in this thread, and Django refuses ORM calls from
    a thread with a running loop unless told this is deliberate; that permission is given only
    while the browser runs, so it never leaks into other tests or their subprocesses.
    """
    executable = chromium_path()
    if not executable or not Path(executable).exists():
        skip_or_fail("the browser tests need Chromium: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser, live_server):
    """A fresh browser tab with its own cookies, failing fast instead of hanging."""
    seed_rows()
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def screenshot():
    """Save a full-page screenshot under test-artifacts/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(tab, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        tab.screenshot(path=str(path), full_page=True)
        return path

    return take
