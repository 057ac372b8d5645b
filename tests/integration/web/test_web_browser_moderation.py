"""The moderators' pages in a real browser (chromium), desktop and phone: zoom, the keystroke
budget, the bulk grid's keys, the one menu, shoppers' reports, and an axe-core audit."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pytest
from sqlalchemy import select

from catalog import crud
from catalog.config import load_settings
from catalog.db import make_engine, session_scope
from catalog.models import ModerationEvent, Photo
from catalog.taxonomy import CATEGORIES, COLOURS
from demo.seed import add_photo, add_post, top3
from tests.support.browser import (  # noqa: F401  (fixtures)
    DESKTOP_SIZE,
    PHONE_SIZE,
    _key,
    _login,
    browser,
    server,
)
from tests.support.browser import context_at as _context
from tests.support.browser import login_at as _login_at

pytestmark = [pytest.mark.browser, pytest.mark.slow]
DESKTOP, PHONE = DESKTOP_SIZE, PHONE_SIZE
SIZES = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
# axe-core's script as the axe-playwright-python wheel ships it (installed from the test lock).
AXE_JS = Path(str(files("axe_playwright_python") / "axe.min.js"))


def _add_queue(tmp_path: Path, n: int) -> list[int]:
    """n more photos with both labels doubtful (confidence .30–.40, below the seeded two)."""
    settings = load_settings(tmp_path / "config.toml", environ={})
    engine = make_engine(settings.database_url)
    ids = []
    with session_scope(engine) as s:
        shop = crud.upsert_shop(s, "mastodon", "queue_shop", display_name="Queue Shop").id
        for i in range(n):
            post = add_post(s, shop, "mastodon", f"q{i}", caption=f"item {i}", days_ago=1)
            ids.append(
                add_photo(
                    s, settings.media_dir, post, CATEGORIES[i % 17], COLOURS[i % 13],
                    seed=100 + i, status="needs_review",
                    category_confidence=0.30 + i / 1000, colour_confidence=0.40,
                )
            )  # fmt: skip
    engine.dispose()
    return ids


def _labels(tmp_path: Path, pid: int) -> tuple[str, str, str]:
    settings = load_settings(tmp_path / "config.toml", environ={})
    engine = make_engine(settings.database_url)
    with session_scope(engine) as s:
        photo = s.get(Photo, pid)
        out = (photo.category, photo.colour, photo.status)
    engine.dispose()
    return out


def test_twenty_photos_in_at_most_forty_keystrokes(server, browser, tmp_path) -> None:  # noqa: F811
    """Every 4th photo is wrong on both labels (the truth is the model's second guess): 2, 8,
    Enter fixes it, one page load; a right one takes Enter (one is zoomed first: z, Escape,
    Enter). 20 photos: 32 keystrokes."""
    base, seeded = server
    added = _add_queue(tmp_path, 18)
    context, page = _login_at(browser, base, DESKTOP)
    keystrokes, seen = 0, []
    for n in range(20):
        pid = int(page.get_attribute("article.review", "data-photo"))
        seen.append(pid)
        keys = ("2", "8", "Enter") if n % 4 == 0 else ("Enter",)
        if n == 1:  # a look at the photo large first: z, Escape, and Enter still saves
            keys = ("z", "Escape", "Enter")
        _key(page, *keys)  # one page load per photo
        keystrokes += len(keys)
    assert "The queue is empty" in page.content()
    assert keystrokes == 32 <= 40 and sorted(seen) == sorted(added + [
        seeded.photos["review_dress"], seeded.photos["review_tee"]])  # fmt: skip
    # what the seed drew: photo → (category, colour, seed); key 2 / 8 = the second guesses
    drawn = {pid: (CATEGORIES[i % 17], COLOURS[i % 13], 100 + i) for i, pid in enumerate(added)}
    drawn[seeded.photos["review_dress"]] = ("Dress", "red", 5)
    drawn[seeded.photos["review_tee"]] = ("T-Shirt", "black", 7)
    for n, pid in enumerate(seen):
        category, colour, seed = drawn[pid]
        if n % 4 == 0:
            category = top3(category, 0.5, CATEGORIES, seed)[1][0]
            colour = top3(colour, 0.5, COLOURS, seed)[1][0]
            assert _labels(tmp_path, pid) == (category, colour, "corrected")
        else:
            assert _labels(tmp_path, pid) == (category, colour, "approved")
    # the kept ones are logged as "accept", the fixed ones as "correct"
    settings = load_settings(tmp_path / "config.toml", environ={})
    engine = make_engine(settings.database_url)
    with session_scope(engine) as s:
        actions = dict(s.execute(select(ModerationEvent.photo_id, ModerationEvent.action)).all())
    engine.dispose()
    assert [actions[p] for p in seen] == ["correct" if n % 4 == 0 else "accept" for n in range(20)]
    context.close()


@SIZES
def test_zoom_undo_and_the_menu(server, browser, viewport) -> None:  # noqa: F811
    base, seeded = server
    context, page = _login_at(browser, base, viewport)
    phone = viewport[0] < 800
    dialog = page.locator("dialog.zoom")
    assert not dialog.is_visible()
    if phone:
        page.tap("figure.large img")
    else:
        page.keyboard.press("z")
    assert dialog.is_visible()
    box = page.locator("dialog.zoom img").bounding_box()
    # large: the whole screen's height, or its whole width
    assert box and (box["height"] >= viewport[1] * 0.85 or box["width"] >= viewport[0] * 0.9)
    if phone:
        page.tap("dialog.zoom .zoom-close")
    else:
        page.keyboard.press("Escape")
    assert not dialog.is_visible()
    # skip, then undo the skip (u undoes the last action, the skip, not an earlier decision)
    first = page.get_attribute("article.review", "data-photo")
    _key(page, "s")
    assert page.get_attribute("article.review", "data-photo") != first
    _key(page, "u")
    assert page.get_attribute("article.review", "data-photo") == first
    assert "Undid the skip" in page.locator("#flash").inner_text()
    # one menu on every moderator page, logout included
    for path in ("/moderate", "/moderate/grid", "/moderate/history", "/admin/runs"):
        page.goto(base + path)
        menu = page.locator("nav.modnav")
        assert menu.locator("a").all_inner_texts()[:4] == [
            "Queue", "Bulk review", "History", "Runs",
        ], path  # fmt: skip
        assert menu.locator("button:has-text('Log out ann')").is_visible(), path
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport[0], path
    context.close()


def test_bulk_grid_by_keyboard(server, browser) -> None:  # noqa: F811
    base, seeded = server
    context, page = _login_at(browser, base, DESKTOP)
    page.goto(base + "/moderate/grid")
    assert page.locator(".keys").is_visible() and "⇧A" in page.locator(".keys").inner_text()
    cards = page.locator("#review-grid li.card")
    assert cards.count() == 2
    second = int(cards.nth(1).get_attribute("data-id"))
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Space")
    assert page.locator("#selected-count").inner_text() == "1 selected"
    page.keyboard.press("z")
    assert page.locator(f"#zoom-{second}").is_visible()
    page.keyboard.press("Escape")
    page.keyboard.press("o")  # the colour list, arrows, Enter: set it on the selection
    page.select_option("#set-colour", "green")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Set green on 1 photo(s)" in page.locator("#flash").inner_text()
    page.keyboard.press("Space")  # the first photo is focused again after the reload
    with page.expect_navigation():
        page.keyboard.press("Shift+A")
    assert "Accepted 1 photo(s)" in page.locator("#flash").inner_text()
    context.close()


@SIZES
def test_a_shopper_reports_and_a_moderator_fixes_a_published_photo(
    server,  # noqa: F811
    browser,  # noqa: F811
    tmp_path,
    viewport,
) -> None:
    base, seeded = server
    pid = seeded.photos["blue_pants"]
    shopper = _context(browser, viewport).new_page()
    shopper.goto(f"{base}/photos/{pid}")
    shopper.click("#report-label")
    shopper.check('input[name="head"][value="colour"]')
    shopper.select_option('select[name="colour"]', "black")
    shopper.fill('textarea[name="note"]', "they are black")
    shopper.click("button:has-text('Send the report')")
    assert "a moderator will look" in shopper.locator("#flash").inner_text()
    context, page = _login_at(browser, base, viewport)
    page.goto(f"{base}/photos/{pid}")
    page.click("#fix-labels")
    assert "reported the colour wrong" in page.locator("#report").inner_text()
    assert page.locator("#ask-colour").is_visible() and page.locator("#ask-category").count() == 0
    page.select_option("#other-colour", "black")
    with page.expect_navigation():
        page.click('#decision button[data-key="enter"]')
    assert _labels(tmp_path, pid) == ("Pants", "black", "corrected")
    shopper.goto(f"{base}/photos/{pid}")
    assert shopper.locator("#label-colour").inner_text() == "black"
    context.close()


def _violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE_JS))
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(n["target"][0] for n in v["nodes"][:5])
        for v in result
        if v["impact"] in ("critical", "serious")
    ]


@SIZES
def test_axe_finds_no_serious_problems(server, browser, viewport) -> None:  # noqa: F811
    base, seeded = server
    # bypass_csp: our CSP (script-src 'self') rightly refuses the injected axe script
    shopper = _context(browser, viewport, bypass_csp=True).new_page()
    found = {}
    for path in ("/", f"/photos/{seeded.photos['red_dress']}"):
        shopper.goto(base + path)
        found[path] = _violations(shopper)
    context, page = _login_at(browser, base, viewport, bypass_csp=True)
    for path in ("/moderate", "/moderate/grid", "/moderate/history"):
        page.goto(base + path)
        found[path] = _violations(page)
    page.goto(base + "/moderate")
    page.keyboard.press("z")  # the zoom dialog open
    found["/moderate (zoom)"] = _violations(page)
    bad = [f"{p}: {v}" for p, vs in found.items() for v in vs]
    assert not bad, "axe-core found:\n" + "\n".join(bad)
    context.close()
