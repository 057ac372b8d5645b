"""The photo page's "More like this" strip in a real browser on a phone (390×844)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from catalog.config import load_settings
from catalog.db import make_engine, migrate
from tests.support.browser import PHONE, _no_sideways_scroll, _serve, browser  # noqa: F401 (the browser fixture)
from tests.support.common import write_config
from tests.support.similar import SPREAD, seed_similar

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, int]]]:
    tmp = tmp_path_factory.mktemp("similar")
    url = f"sqlite:///{tmp / 'catalogue.db'}"
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    config = write_config(tmp, url, '[web]\nsecret_key = "browser-test-key"\n')
    photos = seed_similar(load_settings(config, environ={}))
    proc, base = _serve(tmp, str(config))
    yield base, photos
    proc.terminate()
    proc.wait(timeout=10)


def test_more_like_this_strip_on_a_phone(site, browser) -> None:  # noqa: F811
    base, photos = site
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"{base}/photos/{photos['red_dress']}")
    strip = page.locator("#similar")
    strip.scroll_into_view_if_needed()
    assert strip.locator("h2").inner_text() == "More like this"
    links = strip.locator("a[data-id]")
    assert [int(a.get_attribute("data-id")) for a in links.all()] == [photos[n] for n in SPREAD]
    for i in range(links.count()):  # every thumbnail loaded and on the screen
        box = links.nth(i).locator("img").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        assert links.nth(i).locator("img").evaluate("img => img.naturalWidth") > 0
    _no_sideways_scroll(page)
    links.first.click()
    page.wait_for_url(f"**/photos/{photos['lina_dress2']}")
    assert page.locator("#title").inner_text() == "lina_dress2"
    context.close()
