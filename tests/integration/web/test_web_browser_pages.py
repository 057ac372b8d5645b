"""The pages around the queue and the catalogue in a real browser, desktop and phone: the
decision history (thumbnails, filters, counts), names in chips and titles, and error pages that
lead back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.browser import _key, browser, context_at, login_at, server  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SIZES = pytest.mark.parametrize("viewport", [(1366, 800), (390, 844)], ids=["desktop", "phone"])


def _page(browser, viewport):  # noqa: F811
    context = context_at(browser, viewport)
    return context, context.new_page()


def _fits(page, viewport) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport[0], page.url


@SIZES
def test_history_shows_thumbnails_filters_and_counts(server, browser, viewport) -> None:  # noqa: F811
    base, seeded = server
    ann_ctx, ann = login_at(browser, base, viewport, "ann")
    first = int(ann.get_attribute("article.review", "data-photo"))
    _key(ann, "a")  # accept what is shown
    bob_ctx, bob = login_at(browser, base, viewport, "bob")
    second = int(bob.get_attribute("article.review", "data-photo"))
    assert second != first
    _key(bob, "r")  # reject: not a product

    ann.goto(f"{base}/moderate/history")
    _fits(ann, viewport)
    rows = ann.locator("table.events tbody tr")
    assert rows.count() == 2
    # every row shows its photo, loaded (not a broken image)
    for img in ann.locator("table.events img.thumb").all():
        assert img.evaluate("i => i.complete && i.naturalWidth > 0")
    assert ann.locator("#counts").inner_text() == "ann 1 · bob 1"

    ann.select_option('select[name="moderator"]', "bob")
    ann.click("#history-filters button[type=submit]")
    assert rows.count() == 1 and "bob" in rows.first.inner_text()
    assert f"/moderate/photos/{second}" in rows.first.locator("a").get_attribute("href")
    assert ann.locator("#counts").inner_text() == "bob 1"

    ann.goto(f"{base}/moderate/history?action=accept")
    assert rows.count() == 1 and f"/moderate/photos/{first}" in rows.first.inner_html()
    today = datetime.now(UTC).date()
    tomorrow = today + timedelta(days=1)
    ann.goto(f"{base}/moderate/history?since={tomorrow}")
    assert "No decisions" in ann.locator("#counts").inner_text()
    ann.goto(f"{base}/moderate/history?since={today}&until={today}")
    assert rows.count() == 2
    # a date that is not one: said, named, and the page still works
    response = ann.goto(f"{base}/moderate/history?since=31.02.2026")
    assert response.status == 400
    assert "From" in ann.locator("#flash").inner_text()
    _fits(ann, viewport)
    ann_ctx.close()
    bob_ctx.close()


@SIZES
def test_shop_names_in_chips_and_titles(server, browser, viewport) -> None:  # noqa: F811
    base, seeded = server
    context, page = _page(browser, viewport)
    page.goto(f"{base}/?shop={seeded.shops['knit']}&colour=green")
    chips = page.locator("ul.chips").inner_text()
    assert "Shop: Knit & Co" in chips and "shop " not in chips.lower().replace("shop:", "")
    assert "Knit & Co" in page.title()
    page.goto(f"{base}/shops/{seeded.shops['lina']}")
    assert "Atelier Lina" in page.title() and page.locator("h1").inner_text() == "Atelier Lina"
    photo = seeded.photos["blue_pants"]
    page.goto(f"{base}/photos/{photo}")
    assert "Atelier Lina" in page.title()
    _fits(page, viewport)
    context.close()


ERRORS = [
    ("/?colour=plaid", 400, "plaid"),
    ("/photos/999999", 404, "Not found"),
    ("/shops/999999", 404, "Not found"),
    ("/no/such/page", 404, "Not found"),
]


@SIZES
def test_error_pages_lead_back(server, browser, viewport) -> None:  # noqa: F811
    base, _ = server
    context, page = _page(browser, viewport)
    for path, status, says in ERRORS:
        response = page.goto(base + path)
        assert response.status == status, path
        assert says in page.content(), path
        _fits(page, viewport)
        way_back = page.locator("a:has-text('Back to the catalogue'), a#clear-filters").first
        assert way_back.is_visible(), path
        way_back.click()
        page.wait_for_load_state()
        assert page.url.rstrip("/") == base and page.locator("#grid li.card").count() > 0, path
    context.close()
