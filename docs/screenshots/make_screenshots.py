"""Regenerate the README screenshots from the demo: its real photos (demo/photos, CC0) crawled
from the emulator and labelled by the committed model, exactly what `make run` shows.

.venv/bin/python docs/screenshots/make_screenshots.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from demo.run import Demo, DemoOptions  # noqa: E402

OUT = Path(__file__).parent
PASSWORD = "screenshot-pass"


def build(tmp: Path) -> Path:
    """One demo pipeline run (emulator → crawl → classify → publish), then a moderator `ann`."""
    opts = DemoOptions(workdir=tmp, scheduler=False, exit_after=0.5, web_port=0, emulator_port=0)
    if Demo(opts).run() != 0:
        raise SystemExit("the demo run failed (see above)")
    config = tmp / "config.toml"
    subprocess.run(
        [sys.executable, "-m", "vitrina_cli.main", "--config", str(config), "moderators", "add",
         "ann"],
        input=PASSWORD + "\n", text=True, check=True, cwd=REPO, capture_output=True,
    )  # fmt: skip
    return config


def shoot(browser, base: str, name: str, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    """The shopper's pages at one window size: catalogue, price order, a photo, a shop."""
    w, h = size
    context = browser.new_context(viewport={"width": w, "height": h}, device_scale_factor=1)
    page = context.new_page()
    for shot, url in (
        ("catalogue", "/"),
        ("by-price", "/?sort=price_asc"),
        ("shop", "/shops/3"),
    ):
        page.goto(base + url)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(OUT / f"{shot}-{name}.png"))
    page.goto(base + "/")
    page.click("#grid li.card a.title")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(OUT / f"photo-{name}.png"), full_page=name == "phone")
    if name == "phone":
        page.goto(base + "/?colour=red")
        page.click("#filters-button")
        page.screenshot(path=str(OUT / "drawer-phone.png"))
    context.close()


def shoot_similar(browser, base: str, name: str, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    """A dress's page scrolled to its "More like this" strip."""
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    page.goto(base + "/?category=Dress")
    page.click("#grid li.card a.title")
    page.wait_for_load_state("networkidle")
    page.locator("#similar").scroll_into_view_if_needed()
    page.evaluate("window.scrollBy(0, 120)")
    page.wait_for_timeout(300)
    page.screenshot(path=str(OUT / f"similar-{name}.png"))
    context.close()


def shoot_moderator(browser, base: str, name: str, size: tuple[int, int]) -> None:
    """The queue (and the zoomed photo, the bulk grid) at one size, logged in as ann."""
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    page.goto(f"{base}/moderate")
    page.fill('input[name="name"]', "ann")
    page.fill('input[name="password"]', PASSWORD)
    page.click('button:has-text("Log in")')
    page.wait_for_selector("article.review")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(OUT / f"queue-{name}.png"), full_page=name == "phone")
    page.keyboard.press("z")
    page.wait_for_timeout(300)
    page.screenshot(path=str(OUT / f"zoom-{name}.png"))
    page.keyboard.press("Escape")
    page.goto(f"{base}/moderate/grid")
    page.wait_for_load_state("networkidle")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Space")
    page.screenshot(path=str(OUT / f"grid-{name}.png"))
    context.close()


def _wait_for(url: str, timeout: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"vitrina serve did not answer {url} in {timeout:.0f} s")
        time.sleep(0.3)


@contextmanager
def serving(config: Path, port: int) -> Iterator[str]:
    """`vitrina serve` on that catalogue, answering /healthz; yields its base URL."""
    server = subprocess.Popen(
        [sys.executable, "-m", "vitrina_cli.main", "--config", str(config), "serve",
         "--port", str(port)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(base + "/healthz")
        yield base
    finally:
        server.terminate()
        server.wait()


def launch(pw):  # type: ignore[no-untyped-def]
    """Debian's chromium, headless."""
    return pw.chromium.launch(
        executable_path="/usr/bin/chromium",
        args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-sync",
              "--disable-background-networking", "--disable-component-update"],
    )  # fmt: skip


def shrink(paths: list[Path]) -> None:
    """256 colours: about a third of the bytes, and the pages still read the same."""
    from PIL import Image

    for path in paths:
        shot = Image.open(path).convert("RGB")
        shot.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def main() -> None:
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="vitrina-shots-"))
    config = build(tmp)
    before = time.time()
    with serving(config, 8765) as base, sync_playwright() as pw:
        browser = launch(pw)
        for name, size in (("desktop", (1366, 800)), ("phone", (390, 844))):
            shoot(browser, base, name, size)
            shoot_similar(browser, base, name, size)
            shoot_moderator(browser, base, name, size)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.goto(f"{base}/")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(OUT / "catalogue.png"))
        page.goto(f"{base}/moderate")
        page.fill('input[name="name"]', "ann")
        page.fill('input[name="password"]', PASSWORD)
        page.click('button:has-text("Log in")')
        page.wait_for_selector("article.review")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(OUT / "queue.png"))
        browser.close()
    shrink([p for p in OUT.glob("*.png") if p.stat().st_mtime >= before])
    print(f"screenshots written to {OUT}")


if __name__ == "__main__":
    main()
