"""The shoppers' pages in a real browser (Debian's chromium through Playwright) at a desktop
window (1366×800) and a phone's (390×844): cards, sorting, the price filter, the filter
drawer, no sideways scrolling, and API docs that load nothing from elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from catalog.config import load_settings
from catalog.db import make_engine, migrate
from tests.support.browser import PHONE, _no_sideways_scroll, _serve, browser  # noqa: F401 (the browser fixture)
from tests.support.common import write_config
from tests.support.web_helpers import Priced, _add_priced

pytestmark = [pytest.mark.browser, pytest.mark.slow]
DESKTOP = {"width": 1366, "height": 800}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Priced]]:
    """One served catalogue for the module: these tests only read it."""
    tmp = tmp_path_factory.mktemp("shopper")
    url = f"sqlite:///{tmp / 'catalogue.db'}"
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    config = write_config(tmp, url, '[web]\nsecret_key = "browser-test-key"\npage_size = 24\n')
    priced = _add_priced(load_settings(config, environ={}))
    proc, base = _serve(tmp, str(config))
    yield base, priced
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def desktop(browser):  # noqa: F811
    context = browser.new_context(viewport=DESKTOP)
    yield context.new_page()
    context.close()


@pytest.fixture
def phone(browser):  # noqa: F811
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    yield context.new_page()
    context.close()


def _ids(page) -> list[int]:  # type: ignore[no-untyped-def]
    return [int(c.get_attribute("data-id")) for c in page.locator("#grid li.card").all()]


def test_cards_sorting_and_price_filter_on_a_desktop(site, desktop) -> None:
    base, priced = site
    p, page = priced.photos, desktop
    page.goto(base + "/")
    tee = page.locator(f'#grid li.card[data-id="{p["tee"]}"]')
    assert tee.locator(".title").inner_text() == "Basic tee"
    assert tee.locator(".price").inner_text() == "19.90\u00a0€"
    assert tee.locator(".shop").inner_text() == "Linen House"
    assert tee.locator("a.view").get_attribute("href") == "https://example.org/shopify/priced-tee"
    assert page.locator("#grid li.card").first.locator("time").inner_text() == "31 Oct 2026"
    # sort by price, low to high, with the form
    with page.expect_navigation():  # catalogue.js applies the choice at once
        page.select_option("#sort", "price_asc")
    assert "sort=price_asc" in page.url
    assert _ids(page)[:5] == [p["tee"], p["scarf"], p["shirt"], p["skirt"], p["coat"]]
    assert page.locator("#mixed-currencies").is_visible()
    # a price range in one currency, the order kept
    page.fill('#facet-price input[name="max_price"]', "50")
    page.select_option('#facet-price select[name="currency"]', "EUR")
    page.click('#facet-price button[type="submit"]')
    assert _ids(page) == [p["tee"], p["shirt"], p["skirt"]]
    assert page.locator(".chips").inner_text().count("Price: up to 50 EUR") == 1
    assert page.title() == "Vitrina — clothing from small shops"
    # the colour list shows every count whole, inside the sidebar
    aside = page.locator("aside.facets").bounding_box()
    for link in page.locator("#facet-colour a").all():
        count = link.locator(".count").bounding_box()
        assert count["x"] + count["width"] <= aside["x"] + aside["width"] + 0.5
        assert link.evaluate("a => a.scrollWidth <= a.clientWidth")


def test_phone_pages_fit_the_screen_and_filters_open_in_a_drawer(site, phone) -> None:
    base, priced = site
    page = phone
    page.goto(base + "/")
    _no_sideways_scroll(page)
    cards = page.locator("#grid li.card")
    first, second, third = (cards.nth(i).bounding_box() for i in range(3))
    assert first["y"] < PHONE["height"] - 100  # the first product shows without scrolling
    assert first["y"] == second["y"] and third["y"] > first["y"]  # two columns
    assert first["x"] >= 0 and second["x"] + second["width"] <= PHONE["width"]
    search = page.locator('form.search button[type="submit"]').bounding_box()
    assert search["x"] + search["width"] <= PHONE["width"] and search["y"] < 150
    # filters are behind the button, then over the page
    assert not page.locator("#facet-colour").is_visible()
    page.click("#filters-button")
    assert page.locator("#facet-colour").is_visible()
    _no_sideways_scroll(page)
    page.click("#drawer-close")
    assert not page.locator("#facet-colour").is_visible()
    page.click("#filters-button")
    page.click('#facet-colour a[data-value="white"]')
    assert "colour=white" in page.url
    assert set(_ids(page)) == {priced.photos["tee"], priced.photos["shirt"]}
    assert "Colour: white" in page.locator(".chips").inner_text()
    assert page.locator("#filters-button").inner_text() == "Filters 1"
    for url in (
        f"/photos/{priced.photos['coat']}",
        f"/shops/{priced.linen}",
        "/shops",
        "/?sort=price_desc&min_price=20",
        "/photos/999999",
        "/?colour=mauve",
    ):
        page.goto(base + url)
        _no_sideways_scroll(page)
    page.goto(f"{base}/photos/{priced.photos['coat']}")
    assert page.locator("#title").inner_text() == "Wool coat, warm"
    assert page.locator("#view-at-shop").is_visible()


def test_api_docs_load_everything_from_this_site(site, desktop) -> None:
    base, _ = site
    requested: list[str] = []
    desktop.on("request", lambda r: requested.append(r.url))
    errors: list[str] = []
    desktop.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    desktop.goto(base + "/docs")
    desktop.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
    assert "Vitrina" in desktop.locator(".swagger-ui .info .title").inner_text()
    assert desktop.locator('.opblock-summary-path[data-path="/api/v1/items"]').count() == 1
    hosts = {urlsplit(u).hostname for u in requested if not u.startswith("data:")}
    assert hosts == {"127.0.0.1"}, requested
    assert not errors, errors


def test_sort_and_price_forms_work_without_javascript(site, browser) -> None:  # noqa: F811
    base, priced = site
    context = browser.new_context(viewport=DESKTOP, java_script_enabled=False)
    page = context.new_page()
    page.goto(base + "/?colour=white")
    page.select_option("#sort", "price_desc")
    # Without JavaScript a submit is a navigation: wait for the new page, not only its URL
    # (read too early on a loaded machine, the old document's grid was already gone).
    with page.expect_navigation():
        page.click('form.sort button[type="submit"]')
    assert "sort=price_desc" in page.url and "colour=white" in page.url
    assert _ids(page)[:2] == [priced.photos["shirt"], priced.photos["tee"]]
    page.fill('#facet-price input[name="min_price"]', "20")
    with page.expect_navigation():
        page.click('#facet-price button[type="submit"]')
    assert _ids(page) == [priced.photos["shirt"]]
    assert "sort=price_desc" in page.url  # the order is kept
    context.close()
