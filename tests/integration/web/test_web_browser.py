"""Real browser tests: Debian's chromium driven by Playwright against `vitrina serve`."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.taxonomy import COLOURS
from demo.seed import top3
from tests.support.browser import _key, _login, _serve
from tests.support.web_helpers import PASSWORD

pytest_plugins = ["tests.support.browser"]  # the browser and server fixtures
pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_serve_on_a_fresh_database(tmp_path: Path) -> None:
    """No catalogue yet: `vitrina serve --migrate` (a single-box start) creates the schema and
    shows an empty catalogue."""
    from tests.support.common import write_config

    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'new' / 'catalogue.db'}")
    proc, base = _serve(tmp_path, str(config), "--migrate")
    try:
        import httpx

        page = httpx.get(base + "/", timeout=10)
        assert page.status_code == 200 and "No photos match" in page.text
        assert httpx.get(base + "/api/v1/items", timeout=10).json()["total"] == 0
        r = httpx.get(base + "/moderate", timeout=10, follow_redirects=True)
        assert r.url.path == "/moderate/login"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _grid(page) -> list[tuple[int, str, str]]:
    return [
        (
            int(c.get_attribute("data-id")),
            c.get_attribute("data-colour"),
            c.get_attribute("data-category"),
        )
        for c in page.locator("#grid li.card").all()
    ]


def test_shopper_filters_by_colour_and_category(server, browser) -> None:
    base, seeded = server
    context = browser.new_context(java_script_enabled=False)  # the catalogue needs no JS
    page = context.new_page()
    page.goto(base + "/")
    assert len(_grid(page)) == 5
    page.click('#facet-colour a[data-value="blue"]')
    assert "colour=blue" in page.url
    assert {(c, k) for _, c, k in _grid(page)} == {("blue", "Pants"), ("blue", "Shirt")}
    page.click('#facet-category a[data-value="Shirt"]')
    assert [i for i, _, _ in _grid(page)] == [seeded.photos["evil_shirt"]]
    assert page.locator("#total").inner_text() == "1"
    # the caption's <script> is text on the page, not a script that ran
    page.click("#grid a")
    assert "<script>alert('x')</script> blue shirt" in page.locator(".caption").inner_text()
    context.close()


def test_moderator_works_the_queue_with_the_keyboard(server, browser) -> None:
    base, seeded = server
    context, page = _login(browser, base, "ann")
    dress, tee = seeded.photos["review_dress"], seeded.photos["review_tee"]
    assert page.get_attribute("article.review", "data-photo") == str(dress)
    assert "2 photos left" in page.locator("#left").inner_text()
    # both labels are doubtful: both asked; key 8 = the model's second colour guess for this
    # photo (seeded deterministically), the category stays as chosen, Enter saves both
    assert page.locator("fieldset.ask").count() == 2
    second = top3("red", 0.55, COLOURS, 5)[1][0]
    _key(page, "8", "Enter")
    assert "Corrected photo" in page.locator("#flash").inner_text()
    assert "1 photo left" in page.locator("#left").inner_text()
    assert page.get_attribute("article.review", "data-photo") == str(tee)
    _key(page, "s")  # skip: the tee is the only one left, so the queue starts over with it
    assert page.get_attribute("article.review", "data-photo") == str(tee)
    _key(page, "a")
    assert "The queue is empty" in page.content()
    _key(page, "u")  # undo the accept: the tee is back
    assert page.get_attribute("article.review", "data-photo") == str(tee)
    # any category, keyboard only: c focuses the full list, arrows choose, Enter applies
    _key(page, "c", "ArrowDown", "Enter")  # T-Shirt → Longsleeve
    assert "Corrected photo" in page.locator("#flash").inner_text()
    # the corrected photos are now in the catalogue under their new labels
    shopper = browser.new_page()
    shopper.goto(f"{base}/?colour={second}")
    assert dress in [i for i, _, _ in _grid(shopper)]
    shopper.goto(f"{base}/?colour=red")
    assert dress not in [i for i, _, _ in _grid(shopper)]
    shopper.goto(f"{base}/?category=Longsleeve")
    assert [i for i, _, _ in _grid(shopper)] == [tee]
    shopper.close()
    context.close()


def test_two_moderators_conflict_and_one_is_told(server, browser) -> None:
    base, seeded = server
    ann_ctx, ann = _login(browser, base, "ann")
    bob_ctx, bob = _login(browser, base, "bob")
    photo = ann.get_attribute("article.review", "data-photo")
    assert bob.get_attribute("article.review", "data-photo") == photo
    _key(ann, "a")
    _key(bob, "r")
    message = bob.locator("#flash").inner_text()
    assert f"Photo {photo} was changed by ann" in message and "nothing was saved" in message
    # bob's page now shows the current state; ann's decision stands
    r = bob.request.get(f"{base}/api/v1/items/{photo}")
    assert r.status == 200 and r.json()["category"] == "Dress"
    ann_ctx.close()
    bob_ctx.close()


@pytest.mark.parametrize("viewport", [(1280, 800), (390, 844)], ids=["desktop", "phone"])
def test_moderator_is_asked_only_the_doubtful_colour(server, browser, tmp_path, viewport) -> None:
    """Category sure, colour not: public as a Shirt at once; the queue asks the colour only,
    with the shop's words and the conflict in view; one answer publishes the photo fully."""
    from catalog.config import load_settings
    from tests.support.web_helpers import add_doubtful_colour

    base, _ = server
    pid = add_doubtful_colour(load_settings(tmp_path / "config.toml", environ={}))
    shopper = browser.new_page()
    shopper.goto(f"{base}/?category=Shirt")
    assert (pid, "", "Shirt") in _grid(shopper)  # public, colour not shown
    assert shopper.locator('#facet-colour a[data-value="beige"]').count() == 0

    width, height = viewport
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto(f"{base}/moderate/login")
    page.fill('input[name="name"]', "ann")
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]:has-text("Log in")')
    page.wait_for_selector("article.review")
    assert page.get_attribute("article.review", "data-photo") == str(pid)
    assert page.locator("#ask-category").count() == 0 and page.locator("#ask-colour").is_visible()
    assert "Shirt" in page.locator("#decided-category").inner_text()
    assert page.locator("#evidence-colour").inner_text() == "shop says: beige (options, title)"
    assert page.locator("#conflict-colour").is_visible()
    assert "white 80%" in page.locator("#image-colour").inner_text()
    save = page.locator('#decision button[data-key="enter"]')
    photo = page.locator("figure.large img").bounding_box()
    button = save.bounding_box()
    assert photo and button
    if width < 800:  # phone: the photo on top, the choices and buttons below, no sideways scroll
        assert photo["y"] + photo["height"] <= button["y"]
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert button["x"] + button["width"] <= width
        # by touch: the full list, then Save
        page.select_option("#other-colour", "white")
        assert page.is_checked("#other-colour-radio")
        with page.expect_navigation():
            save.click()
        assert "Corrected photo" in page.locator("#flash").inner_text()
        expected = "white"
    else:  # desktop: the model's guess is preselected, Enter keeps it
        assert page.is_checked('input[name="colour"][value="beige"]')
        _key(page, "Enter")
        assert "Accepted photo" in page.locator("#flash").inner_text()
        expected = "beige"
    # the decision is committed before the redirect: the next page no longer shows the photo
    assert page.get_attribute("article.review", "data-photo") != str(pid)
    shopper.goto(f"{base}/?colour={expected}")
    assert (pid, expected, "Shirt") in _grid(shopper)
    shopper.close()
    context.close()
