"""Browser tests: Debian's Chromium driven by Playwright against the local stack's console.

No browser is downloaded: ``/usr/bin/chromium`` (the Debian package the project's setup
installs) is launched with flags that keep it off the network except for the stack.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

from infra.local.client import RunningStack, local_stack
from infra.manifest import ROOT
from tests.browser.world import World, seed

CHROMIUM = Path(os.environ.get("OMS_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = ROOT / "build" / "screenshots"
# Without the background-networking flags Chromium's own connections fail on a closed network.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# A loaded two-core machine: conditions are awaited, never slept on, and may take long.
WAIT_MS = 90_000


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    with local_stack(timeout=180, log_dir=tmp_path_factory.mktemp("browser-stack")) as running:
        yield running


@pytest.fixture(scope="session")
def world(stack: RunningStack) -> World:
    return seed(stack.api_url)


@pytest.fixture(scope="session")
def browser_context() -> Iterator[BrowserContext]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make setup` installs Debian's chromium package")
    profile = tempfile.mkdtemp(prefix="oms-chromium-")
    expect.set_options(timeout=WAIT_MS)
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile,
                executable_path=str(CHROMIUM),
                headless=True,
                args=CHROMIUM_FLAGS,
                viewport={"width": 1366, "height": 900},
                timeout=WAIT_MS,
            )
            context.set_default_timeout(WAIT_MS)
            yield context
            context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser_context: BrowserContext) -> Iterator[Page]:
    """A new tab: its session storage (where the key lives) starts empty."""
    tab = browser_context.new_page()
    yield tab
    tab.close()


def sign_in(page: Page, stack: RunningStack, key: str) -> None:
    page.goto(f"{stack.api_url}/console")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("principal")).to_be_visible()


def screenshot(page: Page, name: str) -> Path:
    """Written for people to look at (build/screenshots/, a test artifact)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
