"""Regenerate the README screenshots from a synthetic catalogue (drawn garments, no real photos).

.venv/bin/python docs/screenshots/make_screenshots.py
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks.web_seed import add_photo, add_post  # noqa: E402
from catalog import crud, moderation  # noqa: E402
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
CAPTIONS = ["New in: {c} {g}", "Handmade {c} {g}, linen blend", "Back in stock — {c} {g}",
            "Our {c} {g} for the weekend", "Last one! {c} {g}"]  # fmt: skip


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
    with session_scope(engine) as s:
        shop_ids = [
            crud.upsert_shop(s, n, h, display_name=d, base_url=u).id for n, h, d, u in SHOPS
        ]
        for i in range(40):
            g, c = GARMENTS[i % len(GARMENTS)]
            k = i % len(SHOPS)
            post = add_post(
                s, shop_ids[k], SHOPS[k][0], f"demo{i}",
                caption=rnd.choice(CAPTIONS).format(c=c, g=g.lower()), days_ago=i * 0.7 + 0.2,
            )  # fmt: skip
            review = i % 5 == 4
            add_photo(
                s, settings.media_dir, post, g, c, seed=100 + i,
                status="needs_review" if review else "auto_accepted",
                category_confidence=rnd.uniform(0.35, 0.6) if review else 0.97,
                colour_confidence=rnd.uniform(0.4, 0.7) if review else 0.96,
            )  # fmt: skip
        moderation.add_moderator(s, "ann", "screenshot-pass")
    engine.dispose()
    return config


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
