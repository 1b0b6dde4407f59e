"""The web console in a real browser: Debian's Chromium driven by Playwright.

The carrier runs as ``smsgw serve`` with its mock merchant (a real process on free ports);
every page collects its console errors and failed requests, and a test fails on any.
Screenshots go to ``artifacts/console/`` (CI keeps them as artifacts).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulators.carrier_process import CarrierProcess

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "console"
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
# Without these, Chromium keeps trying to reach Google's services, which a closed CI network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')"
)
if CHROMIUM is None:
    pytest.skip(
        "chromium is not installed: run `sh tests/console/install_chromium.sh` as root (make test does)",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def carrier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    process = CarrierProcess(tmp_path_factory.mktemp("console"))
    try:
        yield process.wait_ready()
    finally:
        process.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Console:
    """One browser page on the console, with what went wrong in it."""

    def __init__(self, page: Any, url: str) -> None:
        self.page = page
        self.url = url
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"uncaught: {error}"))
        page.on("requestfailed", lambda request: self.problems.append(f"failed: {request.url}"))
        page.on("response", self._response)

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.request.method} {response.url}")

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self.problems.append(f"console {message.type}: {message.text}")

    def open(self, tab: str = "phones") -> Any:
        self.page.goto(f"{self.url}/#{tab}")
        self.page.wait_for_selector("#live.on")
        return self.page

    def phone(self, msisdn: str) -> Any:
        return self.page.locator(f"[data-testid=phone-{msisdn}]")

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def console(browser: Any, carrier: dict[str, Any]) -> Iterator[Console]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB", timezone_id="UTC")
    page = context.new_page()
    page.set_default_timeout(10_000)
    watched = Console(page, carrier["http_url"])
    yield watched
    # Whatever requests the page still makes as it closes are not its errors.
    problems = list(watched.problems)
    context.close()
    assert not problems, "the browser reported:\n" + "\n".join(problems)
