"""The docs' picture of an outfit split into entries, made by the real model end to end.

.venv/bin/python docs/screenshots/make_regions.py

Three of the committed demo photos (CC0, from the validation split: the model never trained on
them) are laid side by side as one outfit photo, posted with a single-garment photo; `vitrina
classify` (the committed model and its region head) splits the outfit; the shopper's page of one
garment and the moderator's regions page are photographed: regions.png, regions-moderate.png.
"""

from __future__ import annotations

import csv
import hashlib
import io
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from make_screenshots import launch, serving, shrink  # noqa: E402  (this folder)

from catalog import crud, moderation  # noqa: E402
from catalog.config import load_settings  # noqa: E402
from catalog.db import make_engine, migrate, session_scope  # noqa: E402

OUT = Path(__file__).parent
PHOTOS = REPO / "demo" / "photos"
OUTFIT = [("Shirt", "white"), ("Pants", "blue"), ("Shoes", "black")]


def _pick() -> list[Path]:
    with (PHOTOS / "labels.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [
        PHOTOS / next(r["image"] for r in rows if (r["category"], r["colour"]) == want)
        for want in OUTFIT
    ]


def side_by_side(images: list[Image.Image], gap: int = 12) -> Image.Image:
    """The photos in a row at one height, as shops post an outfit."""
    height = 400
    scaled = [im.resize((round(im.width * height / im.height), height)) for im in images]
    canvas = Image.new("RGB", (sum(im.width for im in scaled) + gap * (len(scaled) + 1),
                               height + 2 * gap), (245, 245, 245))  # fmt: skip
    x = gap
    for im in scaled:
        canvas.paste(im, (x, gap))
        x += im.width + gap
    return canvas


def build(tmp: Path) -> tuple[Path, int]:
    config = tmp / "config.toml"
    db, media = tmp / "demo.db", tmp / "media"
    config.write_text(
        f'[database]\nurl = "sqlite:///{db}"\n[storage]\nmedia_dir = "{media}"\n'
        '[web]\nsecret_key = "screenshots"\n'
    )
    settings = load_settings(config, environ={})
    engine = make_engine(settings.database_url)
    migrate(engine)
    images = [Image.open(p).convert("RGB") for p in _pick()]
    outfit = side_by_side(images)
    buf = io.BytesIO()
    outfit.save(buf, "JPEG", quality=90)
    data = buf.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    rel = f"{sha[:2]}/{sha[2:4]}/{sha}.jpg"
    (settings.media_dir / rel).parent.mkdir(parents=True, exist_ok=True)
    (settings.media_dir / rel).write_bytes(data)
    with session_scope(engine) as s:
        shop = crud.upsert_shop(s, "mastodon", "atelier_lina", display_name="Atelier Lina").id
        post = crud.upsert_post(
            s, shop, "mastodon", "outfit", caption="Weekend look: shirt, jeans and boots"
        ).id
        parent = crud.add_photo(
            s, post, sha, stored_path=rel, width=outfit.width, height=outfit.height
        ).id
        moderation.add_moderator(s, "ann", "screenshot-pass")
    engine.dispose()
    # the real classify pass: the committed model, its region head, one model load
    subprocess.run(
        [sys.executable, "-m", "vitrina_cli.main", "--config", str(config), "classify"],
        cwd=REPO, check=True,
    )  # fmt: skip
    return config, parent


def main() -> None:
    from playwright.sync_api import sync_playwright
    from sqlmodel import Session

    from catalog.regions import region_view

    tmp = Path(tempfile.mkdtemp(prefix="vitrina-regions-"))
    config, parent = build(tmp)
    settings = load_settings(config, environ={})
    engine = make_engine(settings.database_url)
    with Session(engine) as s:
        view = region_view(s, parent)
    engine.dispose()
    regions = [r.id for r in view.regions] if view else []
    if not regions:
        raise SystemExit("the outfit was not split: is regions.npz in the model folder?")
    with serving(config, 8766) as base, sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        page.goto(f"{base}/photos/{regions[0]}")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(OUT / "regions.png"), full_page=True)
        page.goto(f"{base}/moderate/login?next=/moderate/regions/{parent}")
        page.fill('input[name="name"]', "ann")
        page.fill('input[name="password"]', "screenshot-pass")
        page.click('button:has-text("Log in")')
        page.wait_for_selector("#regions")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(OUT / "regions-moderate.png"))
        browser.close()
    shrink([OUT / "regions.png", OUT / "regions-moderate.png"])
    print(f"{len(regions)} entries; screenshots written to {OUT}")


if __name__ == "__main__":
    main()
