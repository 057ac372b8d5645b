"""The emulator answers in the documented shapes of each API (see ../shared/api-reference)."""

from __future__ import annotations

import io
import json
import re
import tomllib

import httpx
import numpy as np
import pytest
from PIL import Image

from catalog.config import Settings
from catalog.taxonomy import CATEGORIES, COLOURS
from crawler.emulator.catalogue import Catalogue
from crawler.emulator.faults import Faults
from crawler.emulator.server import ACCESS_TOKEN, IG_USER_ID, EmulatorServer
from crawler.emulator.synth import draw_garment, garment_jpeg

LINK = re.compile(r'<([^>]+)>; rel="(\w+)"')


@pytest.fixture(scope="module")
def emu():
    with EmulatorServer(Catalogue.demo(12, 2), image_size=(240, 300)) as server:
        yield server


def test_draw_garment_is_deterministic_and_covers_the_taxonomy():
    a = draw_garment("Dress", "red", seed=4, size=(120, 150))
    assert a.size == (120, 150) and a.mode == "RGB"
    assert a.tobytes() == draw_garment("Dress", "red", seed=4, size=(120, 150)).tobytes()
    assert a.tobytes() != draw_garment("Dress", "red", seed=5, size=(120, 150)).tobytes()
    for category in CATEGORIES:
        draw_garment(category, "blue", 0, (64, 80))
    # the garment's colour dominates its centre
    red = draw_garment("Dress", "red", seed=1, size=(200, 250)).crop((80, 140, 120, 170))
    r, g, b = np.asarray(red, dtype=float).reshape(-1, 3).mean(axis=0)
    assert r > 1.5 * g and r > 1.5 * b
    assert set(COLOURS) >= {"multicolour"}
    with pytest.raises(ValueError, match="unknown category"):
        draw_garment("Cape", "red")
    assert Image.open(io.BytesIO(garment_jpeg("Hat", "green", 2, (100, 100)))).format == "JPEG"


def test_mastodon_paging_by_link_header(emu: EmulatorServer):
    account = httpx.get(
        f"{emu.base_url}/api/v1/accounts/lookup", params={"acct": "linen_house"}
    ).json()
    url = (
        f"{emu.base_url}/api/v1/accounts/{account['id']}/statuses"
        "?limit=5&only_media=true&exclude_replies=true"
    )
    seen = []
    while url:
        r = httpx.get(url)
        assert r.headers["X-RateLimit-Remaining"] and r.status_code == 200
        statuses = r.json()
        seen += [s["id"] for s in statuses]
        links = {rel: u for u, rel in LINK.findall(r.headers.get("Link", ""))}
        url = links.get("next")
        if url:
            assert "exclude_replies=true" in url and "max_id=" in url
    assert len(seen) == 12 == len(set(seen)) and seen == sorted(seen, key=int, reverse=True)
    assert httpx.get(
        f"{emu.base_url}/api/v1/accounts/lookup", params={"acct": "nobody"}
    ).json() == {"error": "Record not found"}


def test_bluesky_cursor_paging_and_errors(emu: EmulatorServer):
    params = {"actor": "knitwear.bsky.social", "filter": "posts_with_media", "limit": 5}
    pages, cursor = [], None
    while True:
        body = httpx.get(
            f"{emu.base_url}/xrpc/app.bsky.feed.getAuthorFeed",
            params={**params, **({"cursor": cursor} if cursor else {})},
        ).json()
        pages.append(body["feed"])
        cursor = body.get("cursor")
        if not cursor:
            break
    assert [len(p) for p in pages] == [5, 5, 2]
    kinds = {e["post"]["embed"]["$type"] for p in pages for e in p}
    assert kinds == {"app.bsky.embed.images#view", "app.bsky.embed.recordWithMedia#view"}
    r = httpx.get(f"{emu.base_url}/xrpc/app.bsky.actor.getProfile", params={"actor": "no.one"})
    assert r.status_code == 400 and r.json()["message"] == "Profile not found"


def test_instagram_business_discovery_paging_and_token(emu: EmulatorServer):
    url = f"{emu.base_url}/v25.0/{IG_USER_ID}"
    fields = "business_discovery.username(atelier_lina){id,media.limit(5){id,media_url}}"
    first = httpx.get(url, params={"fields": fields, "access_token": ACCESS_TOKEN}).json()
    media = first["business_discovery"]["media"]
    assert len(media["data"]) == 5 and "next" not in media["paging"]
    after = media["paging"]["cursors"]["after"]
    fields2 = fields.replace("media.limit(5)", f"media.after({after}).limit(5)")
    second = httpx.get(url, params={"fields": fields2, "access_token": ACCESS_TOKEN}).json()
    assert {m["id"] for m in second["business_discovery"]["media"]["data"]}.isdisjoint(
        {m["id"] for m in media["data"]}
    )
    bad = httpx.get(url, params={"fields": fields, "access_token": "x"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == 190
    gone = httpx.get(
        url,
        params={"fields": fields.replace("atelier_lina", "nobody"), "access_token": ACCESS_TOKEN},
    ).json()["error"]
    assert (gone["code"], gone["error_subcode"]) == (110, 2207013)


def test_shopify_pages_and_page_cap(emu: EmulatorServer):
    base = f"{emu.base_url}/shopify/harbour-wool/products.json"
    page1 = httpx.get(base, params={"limit": 5, "page": 1}).json()["products"]
    assert len(page1) == 5 and {"variants", "images", "options", "tags"} <= set(page1[0])
    assert httpx.get(base, params={"limit": 250, "page": 1}).json()["products"][5:]
    assert httpx.get(base, params={"limit": 5, "page": 99}).json() == {"products": []}
    capped = httpx.get(base, params={"limit": 250, "page": 101})
    assert capped.status_code == 400 and "25000" in capped.json()["errors"]
    newest = max(p["id"] for p in page1)
    assert httpx.get(base, params={"limit": 5, "since_id": newest}).json() == {"products": []}


def test_faults_on_demand():
    faults = Faults(fail_first=1, burst_every=2, burst_length=1, retry_after=3)
    with EmulatorServer(Catalogue.demo(2, 1), faults) as emu:
        url = f"{emu.base_url}/xrpc/app.bsky.actor.getProfile?actor=knitwear.bsky.social"
        codes = [httpx.get(url).status_code for _ in range(4)]
        assert codes[0] == 500 and 429 in codes
        limited = next(r for r in (httpx.get(url) for _ in range(4)) if r.status_code == 429)
        assert (
            limited.headers["Retry-After"] == "3" and limited.headers["RateLimit-Remaining"] == "0"
        )
        emu.faults.burst_every = 0
        emu.faults.malformed_rate = 1.0
        with pytest.raises(json.JSONDecodeError):
            json.loads(httpx.get(url).text)


def test_print_config_is_a_valid_vitrina_config(emu: EmulatorServer):
    data = tomllib.loads(emu.config_toml())
    settings = Settings.model_validate(data)
    assert len(settings.shops) == 8 and {s.network for s in settings.shops} == {
        "instagram",
        "mastodon",
        "bluesky",
        "shopify",
    }
    assert settings.crawler.allowed_private_hosts == [f"127.0.0.1:{emu.port}"]
    assert settings.networks.instagram.access_token == ACCESS_TOKEN


def test_post_ids_are_unique_per_network():
    cat = Catalogue()
    cat.add_shop("bluesky", "many.bsky.social")
    cat.add_posts("bluesky", "many.bsky.social", 1500, 1)
    uris, cursor = [], None
    # Small photos: a Bluesky feed states each blob's byte size, so listing renders them all.
    with EmulatorServer(cat, image_size=(48, 60)) as emu:
        while True:
            params = {
                "actor": "many.bsky.social",
                "limit": 100,
                **({"cursor": cursor} if cursor else {}),
            }
            body = httpx.get(
                f"{emu.base_url}/xrpc/app.bsky.feed.getAuthorFeed", params=params
            ).json()
            uris += [e["post"]["uri"] for e in body["feed"]]
            if not (cursor := body.get("cursor")):
                break
    assert len(uris) == len(set(uris)) == 1500


def test_broken_photo_faults_are_fixed_per_photo():
    cat = Catalogue.demo(6, 1, quirks=False)
    with EmulatorServer(cat, Faults(truncated_rate=0.3, corrupt_rate=0.3)) as emu:
        kinds = {}
        for key in list(cat.photos)[:40]:
            url = emu.photo_url("mastodon", key)
            body = httpx.get(url).content
            assert httpx.get(url).content == body  # a broken upload stays broken
            try:
                with Image.open(io.BytesIO(body)) as img:
                    img.load()
                kinds[key] = "ok"
            except OSError as exc:
                kinds[key] = "corrupt" if "identify" in str(exc) else "truncated"
    assert {"ok", "truncated", "corrupt"} == set(kinds.values())
