"""Regenerate the README screenshots from a synthetic catalogue (drawn garments, no real photos).

.venv/bin/python docs/screenshots/make_screenshots.py [--similar-only]
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from benchmarks.web_seed import add_photo, add_post  # noqa: E402
from catalog import crud, moderation, vectors  # noqa: E402
from catalog.config import load_settings  # noqa: E402
from catalog.db import make_engine, migrate, session_scope  # noqa: E402

OUT = Path(__file__).parent
SHOPS = [
    ("mastodon", "atelier_lina", "Atelier Lina", "https://mastodon.example"),
    ("bluesky", "knit.bsky.social", "Knit & Co", ""),
    ("shopify", "linen-house", "Linen House", "https://linen-house.example"),
    ("instagram", "rue_vintage", "Rue Vintage", ""),
]
GARMENTS = [
    ("Dress", "red"), ("T-Shirt", "white"), ("Pants", "blue"), ("Hoodie", "green"),
    ("Skirt", "pink"), ("Shirt", "beige"), ("Longsleeve", "black"), ("Shorts", "yellow"),
    ("Outwear", "brown"), ("Dress", "purple"), ("T-Shirt", "orange"), ("Pants", "grey"),
    ("Dress", "multicolour"), ("Blouse", "white"), ("Top", "red"), ("Hoodie", "blue"),
]  # fmt: skip
CAPTIONS = ["New in: {c} {g}\n{p} · DM to order", "Handmade {c} {g}, linen blend — {p}",
            "Back in stock — {c} {g}\nSizes S–XL, {p}", "Our {c} {g} for the weekend",
            "Last one! {c} {g} {p}"]  # fmt: skip
PRICES = ["€45", "4 500 ₽", "£30", "1.299,00 zł", "$64", "₴1200", "₺350", "89 €"]


def build(tmp: Path) -> Path:
    db = tmp / "demo.db"
    config = tmp / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{db}"\n[storage]\nmedia_dir = "{tmp / "media"}"\n'
        '[web]\nsecret_key = "screenshots"\npage_size = 24\n'
    )
    settings = load_settings(config, environ={})
    engine = make_engine(settings.database_url)
    migrate(engine)
    rnd = random.Random(3)
    vec_rnd = np.random.default_rng(3)
    looks = {x: vec_rnd.standard_normal(vectors.EMBEDDING_DIM) for pair in GARMENTS for x in pair}
    with session_scope(engine) as s:
        shop_ids = [
            crud.upsert_shop(s, n, h, display_name=d, base_url=u).id for n, h, d, u in SHOPS
        ]
        for i in range(40):
            g, c = GARMENTS[i % len(GARMENTS)]
            k = i % len(SHOPS)
            caption = rnd.choice(CAPTIONS).format(c=c, g=g.lower(), p=rnd.choice(PRICES))
            if SHOPS[k][0] == "shopify":  # a product: a title, a bare price, EUR in the text
                amount = rnd.randint(25, 140)
                post = crud.upsert_post(
                    s,
                    shop_ids[k],
                    "shopify",
                    f"demo{i}",
                    title=f"{c.title()} {g} No. {i}",
                    price=f"{amount}.00",
                    caption=f"Linen from Lisbon. {amount} EUR incl. VAT",
                    permalink=f"https://linen-house.example/products/demo{i}",
                    posted_at=datetime(2026, 11, 1, 12, tzinfo=UTC) - timedelta(days=i * 0.7),
                ).id
            else:
                post = add_post(
                    s, shop_ids[k], SHOPS[k][0], f"demo{i}", caption=caption,
                    days_ago=i * 0.7 + 0.2,
                )  # fmt: skip
            review = i % 5 == 4
            photo_id = add_photo(
                s, settings.media_dir, post, g, c, seed=100 + i,
                status="needs_review" if review else "auto_accepted",
                category_confidence=rnd.uniform(0.35, 0.6) if review else 0.97,
                colour_confidence=rnd.uniform(0.4, 0.7) if review else 0.96,
            )  # fmt: skip
            # "More like this": a stand-in vector near its garment's and colour's (no model here)
            v = looks[g] + 0.6 * looks[c] + 0.5 * vec_rnd.standard_normal(vectors.EMBEDDING_DIM)
            vectors.store(s, photo_id, v / np.linalg.norm(v), "screenshots")
        moderation.add_moderator(s, "ann", "screenshot-pass")
    engine.dispose()
    return config


def shoot(browser, base: str, name: str, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    """The shopper's pages at one window size: catalogue, price order, a photo, a shop."""
    w, h = size
    context = browser.new_context(viewport={"width": w, "height": h}, device_scale_factor=1)
    page = context.new_page()
    for shot, url in (
        ("catalogue", "/"),
        ("by-price", "/?sort=price_asc&currency=EUR&category=Dress&category=T-Shirt"),
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
    """A red dress's page scrolled to its "More like this" strip."""
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    page.goto(base + "/?category=Dress&colour=red")
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
    page.fill('input[name="password"]', "screenshot-pass")
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


def main() -> None:
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="vitrina-shots-"))
    config = build(tmp)
    port = 8765
    server = subprocess.Popen(
        [sys.executable, "-m", "vitrina_cli.main", "--config", str(config), "serve",
         "--port", str(port)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(4)
        base = f"http://127.0.0.1:{port}"
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-sync",
                      "--disable-background-networking", "--disable-component-update"],
            )  # fmt: skip
            only_similar = "--similar-only" in sys.argv  # leave the other pictures as they are
            for name, size in (("desktop", (1366, 800)), ("phone", (390, 844))):
                shoot_similar(browser, base, name, size)
                if not only_similar:
                    shoot(browser, base, name, size)
                    shoot_moderator(browser, base, name, size)
            if only_similar:
                browser.close()
                return
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.goto(f"{base}/")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(OUT / "catalogue.png"))
            page.goto(f"{base}/moderate")
            page.fill('input[name="name"]', "ann")
            page.fill('input[name="password"]', "screenshot-pass")
            page.click('button:has-text("Log in")')
            page.wait_for_selector("article.review")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(OUT / "queue.png"))
            browser.close()
    finally:
        server.terminate()
        server.wait()
    print(f"screenshots written to {OUT}")


if __name__ == "__main__":
    main()
