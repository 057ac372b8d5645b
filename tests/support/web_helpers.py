"""Shared by the web tests: a seeded catalogue with real image files, and a logged-in client."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from catalog import crud, moderation
from catalog.config import Settings
from catalog.db import make_engine, session_scope
from demo.seed import add_photo, add_post
from web.app import create_app

EVIL = "<script>alert('x')</script>"
PASSWORD = "correct horse battery"


@dataclass
class Seeded:
    shops: dict[str, int]
    photos: dict[str, int]


def seed(settings: Settings) -> Seeded:
    """3 shops; public, pending, queued and rejected photos; a repost; a hostile caption."""
    media = settings.media_dir
    engine = make_engine(settings.database_url)
    with session_scope(engine) as s:
        lina = crud.upsert_shop(
            s,
            "mastodon",
            "atelier_lina",
            display_name="Atelier Lina",
            base_url="https://mastodon.example",
        ).id
        knit = crud.upsert_shop(s, "bluesky", "knit.bsky.social", display_name="Knit & Co").id
        evil = crud.upsert_shop(s, "instagram", "evil_shop", display_name=EVIL).id
        p = {}
        post = add_post(s, lina, "mastodon", "1", caption="Red linen dress for summer", days_ago=1)
        p["red_dress"] = add_photo(s, media, post, "Dress", "red", seed=1)
        p["red_dress_back"] = add_photo(
            s, media, post, "Dress", "red", seed=2, position=1, status="approved"
        )
        post = add_post(s, lina, "mastodon", "2", caption="Blue denim trousers", days_ago=2)
        p["blue_pants"] = add_photo(s, media, post, "Pants", "blue", seed=3)
        post = add_post(
            s, knit, "bluesky", "3", caption="Chunky knit hoodie", title="Forest hoodie", days_ago=3
        )
        p["green_hoodie"] = add_photo(s, media, post, "Hoodie", "green", seed=4, status="corrected")
        post = add_post(s, knit, "bluesky", "4", caption="Weekend dress", days_ago=4)
        p["review_dress"] = add_photo(
            s,
            media,
            post,
            "Dress",
            "red",
            seed=5,
            status="needs_review",
            category_confidence=0.41,
            colour_confidence=0.55,
        )
        post = add_post(s, knit, "bluesky", "5", caption="Our cat", days_ago=5)
        p["rejected"] = add_photo(s, media, post, "T-Shirt", "white", seed=6, status="rejected")
        p["review_tee"] = add_photo(
            s,
            media,
            post,
            "T-Shirt",
            "black",
            seed=7,
            position=1,
            status="needs_review",
            category_confidence=0.7,
            colour_confidence=0.62,
        )
        post = add_post(s, knit, "bluesky", "6", caption="Reposting Lina's dress", days_ago=5.5)
        p["repost"] = add_photo(
            s, media, post, "Dress", "red", seed=8, duplicate_of_id=p["red_dress"]
        )
        post = add_post(s, evil, "instagram", "7", caption=f"{EVIL} blue shirt", days_ago=6)
        p["evil_shirt"] = add_photo(s, media, post, "Shirt", "blue", seed=9)
        post = add_post(s, evil, "instagram", "8", caption="not labelled yet", days_ago=7)
        p["pending"] = add_photo(s, media, post, "Top", "pink", seed=10, status="pending")
        moderation.add_moderator(s, "ann", PASSWORD)
        moderation.add_moderator(s, "bob", PASSWORD)
    engine.dispose()
    return Seeded({"lina": lina, "knit": knit, "evil": evil}, p)


PUBLIC_GRID = {"red_dress", "red_dress_back", "blue_pants", "green_hoodie", "evil_shirt"}


def make_app(settings: Settings) -> FastAPI:
    return create_app(settings)


def grid_ids(html: str) -> set[int]:
    return {int(x) for x in re.findall(r'<li class="card" data-id="(\d+)"', html)}


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def logged_in(app: FastAPI, name: str = "ann") -> TestClient:
    client = TestClient(app)
    token = csrf_of(client.get("/moderate/login").text)
    r = client.post(
        "/moderate/login",
        data={"name": name, "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return client


def media_root(settings: Settings) -> Path:
    return settings.media_dir


def seeded_sqlite_site(tmp_path: Path, extra: str = "") -> tuple[Settings, Seeded]:
    """A migrated, seeded SQLite catalogue in tmp_path (for module-scoped fixtures)."""
    from catalog.config import load_settings
    from catalog.db import migrate
    from tests.support.common import write_config

    url = f"sqlite:///{tmp_path / 'catalogue.db'}"
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    settings = load_settings(write_config(tmp_path, url, extra), environ={})
    return settings, seed(settings)


def add_doubtful_colour(settings: Settings) -> int:
    """A Shopify linen shirt whose category the model was sure of and whose colour it was not:
    the shop's words say beige, the photo alone says white (a conflict). Public as a Shirt,
    its colour first in the queue (confidence .30)."""
    from sqlalchemy import select

    from catalog.evidence import Clue, TextEvidence
    from catalog.models import Prediction

    engine = make_engine(settings.database_url)
    with session_scope(engine) as s:
        shop = crud.upsert_shop(
            s, "shopify", "linen.example", display_name="Linen Co", base_url="https://linen.example"
        ).id
        post = add_post(s, shop, "shopify", "linen-1", title="Sand linen shirt", days_ago=0.5)
        pid = add_photo(
            s, settings.media_dir, post, "Shirt", "beige", seed=11, status="partly_accepted",
            category_state="auto", colour_state="review", colour_confidence=0.30,
        )  # fmt: skip
        pred = s.execute(
            select(Prediction).where(Prediction.photo_id == pid, Prediction.head == "colour")
        ).scalar_one()
        words = [
            Clue("colour", "beige", "options", "Beige"),
            Clue("colour", "beige", "title", "Sand"),
        ]
        pred.evidence = TextEvidence.of(words).head_json("colour")
        pred.conflict = True
        pred.image_top = [["white", 0.8], ["beige", 0.1], ["grey", 0.05]]
    engine.dispose()
    return pid


@dataclass
class Priced:
    seeded: Seeded
    photos: dict[str, int]  # the priced photos
    linen: int  # the Shopify shop


def _add_priced(settings) -> Priced:  # type: ignore[no-untyped-def]
    """Posts whose prices are written the ways shops write them, stored through crud."""
    seeded = seed(settings)
    engine = make_engine(settings.database_url)
    lina, knit = seeded.shops["lina"], seeded.shops["knit"]
    out: dict[str, int] = {}
    with session_scope(engine) as s:
        linen = crud.upsert_shop(
            s, "shopify", "linen-house", display_name="Linen House", base_url="https://l.example"
        ).id
        posts = [  # name, shop, network, fields, category, colour
            ("shirt", lina, "mastodon", {"caption": "Linen shirt\nPrice: 45 €"}, "Shirt", "white"),
            ("coat", knit, "bluesky", {"caption": "Wool coat 4 500 ₽, warm"}, "Outwear", "grey"),
            ("skirt", lina, "mastodon", {"caption": "Pleated skirt — 45€"}, "Skirt", "black"),
            ("scarf", knit, "bluesky", {"caption": "£30 silk top, last one"}, "Top", "pink"),
            (
                "tee",
                linen,
                "shopify",
                {"title": "Basic tee", "price": "19.90", "caption": "Organic cotton. 19,90 EUR"},
                "T-Shirt",
                "white",
            ),
        ]
        for i, (name, shop, network, fields, category, colour) in enumerate(posts):
            post = crud.upsert_post(
                s,
                shop,
                network,
                f"priced-{name}",
                permalink=f"https://example.org/{network}/priced-{name}",
                **fields,
            ).id  # no date: these come after the dated posts in the newest-first grid
            out[name] = add_photo(s, settings.media_dir, post, category, colour, seed=40 + i)
    engine.dispose()
    return Priced(seeded, out, linen)
