"""Debian's chromium through Playwright against `vitrina serve` on a loopback port: the
browser and seeded-server fixtures (import them into a test module to use them), logging in."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.common import IN_CI, REPO
from tests.support.web_helpers import PASSWORD, seeded_sqlite_site

CHROMIUM = "/usr/bin/chromium"


ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(tmp_path: Path, config: str, *extra: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "vitrina_cli.main", "--config", config, "serve"]
        + ["--port", str(port), *extra],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("vitrina serve did not start: " + (tmp_path / "server.log").read_text())
    if proc.poll() is not None:
        pytest.fail("vitrina serve exited: " + (tmp_path / "server.log").read_text())
    log.close()
    return proc, base


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, object]]:
    """A seeded catalogue served by `vitrina serve` (uvicorn) on a loopback port."""
    settings, seeded = seeded_sqlite_site(tmp_path, '[web]\nsecret_key = "browser-test-key"\n')
    proc, base = _serve(tmp_path, settings.source)
    yield base, seeded
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _login(browser, base: str, name: str):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{base}/moderate")
    assert "/moderate/login" in page.url  # sent to log in first
    page.fill('input[name="name"]', name)
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]:has-text("Log in")')
    page.wait_for_selector("article.review")
    return context, page


def _key(page, *keys: str) -> None:
    """Press keys; the last one submits a form: wait for the page it leads to."""
    for k in keys[:-1]:
        page.keyboard.press(k)
    with page.expect_navigation():
        page.keyboard.press(keys[-1])


PHONE = {"width": 390, "height": 844}


def _no_sideways_scroll(page) -> None:  # type: ignore[no-untyped-def]
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide"


# Window sizes of the tests that run at both: a laptop and a 390×844 phone.
DESKTOP_SIZE, PHONE_SIZE = (1366, 800), (390, 844)


def context_at(browser, viewport, **options):  # type: ignore[no-untyped-def]
    """A browser context of that size; a phone-sized one has touch and a mobile viewport."""
    width, height = viewport
    phone = width < 800
    return browser.new_context(
        viewport={"width": width, "height": height}, has_touch=phone, is_mobile=phone, **options
    )


def login_at(browser, base: str, viewport, name: str = "ann", **options):  # type: ignore[no-untyped-def]
    """A moderator logged in at that window size: (context, page) on the queue."""
    context = context_at(browser, viewport, **options)
    page = context.new_page()
    page.goto(f"{base}/moderate/login")
    page.fill('input[name="name"]', name)
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]:has-text("Log in")')
    page.wait_for_url(f"{base}/moderate")
    return context, page


def wait_loaded(image, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    """Wait until an <img> locator has loaded. Not page.wait_for_function("…"): with a string it
    polls through eval() in the page, which the site's CSP (script-src 'self') forbids."""
    import time

    deadline = time.monotonic() + timeout
    while not image.evaluate("img => img.complete && img.naturalWidth > 0"):
        assert time.monotonic() < deadline, "the image did not load"
        time.sleep(0.05)
