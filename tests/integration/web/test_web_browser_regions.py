"""A photo split into garments in a real browser (chromium), desktop and 390 px phone: the
moderator sees each region's box over the photo (inside it, numbered) and drops one; a shopper
sees "n items in this photo" with a link to each entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.config import load_settings
from catalog.db import make_engine
from tests.support.browser import DESKTOP_SIZE as DESKTOP
from tests.support.browser import PHONE_SIZE as PHONE
from tests.support.browser import browser, server, wait_loaded  # noqa: F401  (fixtures)
from tests.support.browser import context_at as _context
from tests.support.browser import login_at as _login_at
from tests.support.regions import split_catalogue

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SIZES = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])


def _split(tmp_path: Path) -> tuple[int, list[int]]:
    settings = load_settings(tmp_path / "config.toml", environ={})
    engine = make_engine(settings.database_url)
    try:
        return split_catalogue(engine, settings.media_dir, review=True)
    finally:
        engine.dispose()


def _inside(box: dict, frame: dict) -> bool:
    return (
        box["x"] >= frame["x"] - 1
        and box["y"] >= frame["y"] - 1
        and box["x"] + box["width"] <= frame["x"] + frame["width"] + 1
        and box["y"] + box["height"] <= frame["y"] + frame["height"] + 1
    )


@SIZES
def test_moderator_sees_and_drops_regions(server, browser, tmp_path, viewport) -> None:  # noqa: F811
    base, _seeded = server
    parent, ids = _split(tmp_path)
    context, page = _login_at(browser, base, viewport)
    page.goto(f"{base}/moderate?photo={ids[0]}")
    page.wait_for_selector("#regions .region-box")
    image = page.locator("#regions .region-photo img")
    wait_loaded(image)
    frame = image.bounding_box()
    boxes = [b.bounding_box() for b in page.locator("#regions .region-box").all()]
    assert len(boxes) == 3 and all(_inside(b, frame) for b in boxes)
    assert sorted(b["x"] for b in boxes) == [b["x"] for b in boxes]  # left to right, as laid out
    assert frame["width"] <= viewport[0]  # no sideways scrolling on a phone
    assert page.locator("#regions .region-box.focus").count() == 1
    page.click("#regions-manage")
    page.wait_for_url(f"{base}/moderate/regions/{parent}")
    page.locator(f"#region-{ids[2]} button:has-text('Drop')").click()
    page.wait_for_selector("text=Dropped region")
    assert page.locator("#regions .region-box").count() == 2
    context.close()


@SIZES
def test_shopper_sees_the_items_in_the_photo(server, browser, tmp_path, viewport) -> None:  # noqa: F811
    base, _seeded = server
    parent, ids = _split(tmp_path)
    context = _context(browser, viewport)
    page = context.new_page()
    page.goto(f"{base}/photos/{ids[1]}")
    section = page.locator("#entries")
    assert "3 items in this photo" in section.locator("h2").inner_text()
    wait_loaded(page.locator("#entries .region-photo img"))
    frame = page.locator("#entries .region-photo img").bounding_box()
    assert frame["width"] > 100 and frame["width"] <= viewport[0]
    assert page.locator("#entries .region-box").count() == 3
    page.locator(f'#entries a[data-entry="{ids[2]}"]').click()
    page.wait_for_url(f"{base}/photos/{ids[2]}")
    context.close()
