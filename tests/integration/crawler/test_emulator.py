"""The emulator answers in the documented shapes of each API (see ../shared/api-reference)."""

from __future__ import annotations

import csv
import http.client
import io
import json
import re
import time
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from catalog.config import Settings
from catalog.taxonomy import CATEGORIES, COLOURS
from crawler.emulator.bluesky import APP_PASSWORD as BLUESKY_APP_PASSWORD
from crawler.emulator.bluesky import blob_cid
from crawler.emulator.captions import MIXED, VAGUE
from crawler.emulator.catalogue import DEMO_PHOTOS, Catalogue, demo_photos
from crawler.emulator.faults import Faults
from crawler.emulator.lexicon import LANGUAGES, all_colour_words, category_words
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


def test_bluesky_pinned_post_goes_first_and_leaves_its_place_on_the_first_page_only():
    # As the AppView's getAuthorFeed does (bluesky-social/atproto, packages/bsky/src/api/app/
    # bsky/feed/getAuthorFeed.ts): includePins puts the pinned post first on the first page,
    # whatever the filter, and filters it out of that page; a later page still shows it.
    cat = Catalogue(seed=3)
    cat.add_shop("bluesky", "pins.bsky.social")
    posts = cat.add_posts("bluesky", "pins.bsky.social", 6, 1)  # oldest first
    with EmulatorServer(cat, image_size=(48, 60)) as emu:

        def pages() -> list[list[dict[str, Any]]]:
            out, cursor = [], None
            while True:
                params = {"actor": "pins.bsky.social", "limit": 3, "includePins": "true"}
                body = httpx.get(
                    f"{emu.base_url}/xrpc/app.bsky.feed.getAuthorFeed",
                    params={**params, **({"cursor": cursor} if cursor else {})},
                ).json()
                out.append(body["feed"])
                if not (cursor := body.get("cursor")):
                    return out

        def texts(feed: list[dict[str, Any]]) -> list[tuple[str, bool]]:
            return [(e["post"]["record"]["text"], "reason" in e) for e in feed]

        newest = [p.caption for p in reversed(posts)]
        posts[-2].pinned = True  # its place is on the first page
        first, second, end = pages()  # two full pages, then an empty one
        assert end == []
        assert texts(first) == [(newest[1], True), (newest[0], False), (newest[2], False)]
        assert texts(second) == [(c, False) for c in newest[3:]]
        posts[-2].pinned, posts[0].pinned = False, True  # its place is on the last page
        first, second, end = pages()
        assert texts(first) == [(newest[5], True)] + [(c, False) for c in newest[:3]]
        assert texts(second) == [(c, False) for c in newest[3:]]


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


# ---- fidelity: what a real client would check (issue #13) ----------------------------------


@pytest.fixture(scope="module")
def real_emu():
    """The demo catalogue on the committed real photos, with the awkward photos on Bluesky too."""
    cat = Catalogue.demo(6, 2, real_photos=demo_photos())
    cat.add_quirks("bluesky", "knitwear.bsky.social")
    with EmulatorServer(cat) as server:
        yield server


def test_kept_alive_connection_answers_without_nagle_delay(emu: EmulatorServer):
    conn = http.client.HTTPConnection(emu.host, emu.port, timeout=5)
    before = emu.connections
    t0 = time.perf_counter()
    for _ in range(20):
        conn.request("GET", "/api/v1/accounts/lookup?acct=linen_house")
        resp = conn.getresponse()
        assert resp.status == 200 and json.loads(resp.read())["acct"] == "linen_house"
    elapsed = time.perf_counter() - t0
    conn.close()
    assert emu.connections == before + 1  # one connection, kept alive
    assert elapsed < 0.2, f"20 requests took {elapsed * 1000:.0f} ms"


def _image(url: str) -> tuple[bytes, tuple[int, int]]:
    body = httpx.get(url).content
    with Image.open(io.BytesIO(body)) as im:
        return body, im.size


def test_stated_image_sizes_are_the_served_images_sizes(real_emu: EmulatorServer):
    base = real_emu.base_url
    seen: set[tuple[int, int]] = set()
    acct = httpx.get(f"{base}/api/v1/accounts/lookup", params={"acct": "vintage_rails"}).json()
    statuses = httpx.get(f"{base}/api/v1/accounts/{acct['id']}/statuses?limit=40").json()
    for media in (m for s in statuses for m in s["media_attachments"]):
        try:
            _, size = _image(media["url"])
        except (OSError, Image.DecompressionBombError):  # the quirks: broken files, a bomb
            continue
        assert (media["meta"]["original"]["width"], media["meta"]["original"]["height"]) == size
        assert media["meta"]["original"]["size"] == f"{size[0]}x{size[1]}"
        seen.add(size)
    products = httpx.get(f"{base}/shopify/harbour-wool/products.json").json()["products"]
    for img in (i for p in products for i in p["images"]):
        assert (img["width"], img["height"]) == _image(img["src"])[1]
        seen.add((img["width"], img["height"]))
    assert (48, 48) in seen and len(seen) >= 4  # real photos vary; the icon is 48 px


def test_bluesky_blobs_state_their_true_size_and_cid(real_emu: EmulatorServer):
    base = real_emu.base_url
    feed = httpx.get(
        f"{base}/xrpc/app.bsky.feed.getAuthorFeed",
        params={"actor": "knitwear.bsky.social", "limit": 100},
    ).json()["feed"]
    checked = 0
    for entry in feed:
        post = entry["post"]
        embed = post["embed"].get("media", post["embed"])
        record = post["record"]["embed"]
        blobs = record.get("media", record)["images"]
        for view, blob in zip(embed["images"], blobs, strict=True):
            cid = blob["image"]["ref"]["$link"]
            assert cid.startswith("bafkrei") and f"/{cid}@" in view["fullsize"]
            body = httpx.get(view["fullsize"]).content
            assert blob["image"]["size"] == len(body)
            assert blob_cid(body) == cid
            got = httpx.get(
                f"{base}/xrpc/com.atproto.sync.getBlob",
                params={"did": post["author"]["did"], "cid": cid},
            )
            assert got.status_code == 200 and got.content == body
            try:
                with Image.open(io.BytesIO(body)) as im:
                    assert (view["aspectRatio"]["width"], view["aspectRatio"]["height"]) == im.size
            except (OSError, Image.DecompressionBombError):
                pass  # a broken upload or a bomb: its bytes are still what the size says
            checked += 1
    assert checked >= 12
    missing = httpx.get(
        f"{base}/xrpc/com.atproto.sync.getBlob",
        params={"did": feed[0]["post"]["author"]["did"], "cid": "bafkreinothere"},
    )
    assert missing.status_code == 400 and missing.json()["error"] == "BlobNotFound"


def test_bluesky_identity_session_and_xrpc_errors(emu: EmulatorServer):
    base = emu.base_url
    handle = "knitwear.bsky.social"
    did = httpx.get(
        f"{base}/xrpc/com.atproto.identity.resolveHandle", params={"handle": handle}
    ).json()["did"]
    assert did.startswith("did:plc:")
    doc = httpx.get(f"{base}/{did}").json()
    assert doc["id"] == did and doc["alsoKnownAs"] == [f"at://{handle}"]
    assert doc["service"][0]["serviceEndpoint"] == base
    assert httpx.get(f"{base}/.well-known/did.json").json()["id"].startswith("did:web:")
    assert httpx.get(f"{base}/did:plc:nobody").status_code == 404

    login = f"{base}/xrpc/com.atproto.server.createSession"
    ok = httpx.post(login, json={"identifier": handle, "password": BLUESKY_APP_PASSWORD})
    assert ok.status_code == 200 and ok.json()["did"] == did
    assert ok.json()["accessJwt"].count(".") == 2 and ok.json()["didDoc"]["id"] == did
    cases = [
        (httpx.post(login, json={"identifier": handle, "password": "wrong"}), 401),
        (httpx.post(login, content=b"{"), 400),
        (httpx.get(login), 400),
        (httpx.get(f"{base}/xrpc/app.bsky.feed.getTimelineOfTheFuture"), 501),
        (httpx.post(f"{base}/xrpc/com.atproto.repo.createRecord", json={}), 501),
        (httpx.get(f"{base}/xrpc/com.atproto.identity.resolveHandle"), 400),
        (
            httpx.get(
                f"{base}/xrpc/com.atproto.identity.resolveHandle", params={"handle": "no.one"}
            ),
            400,
        ),
    ]
    for resp, status in cases:
        assert resp.status_code == status, resp.text
        assert resp.headers["content-type"].startswith("application/json")
        body = resp.json()
        assert set(body) == {"error", "message"} and body["error"] and body["message"]


# ---- the shop's words (issue #14) -----------------------------------------------------------


def _has_word(text: str, words: set[str]) -> bool:
    low = text.lower()
    return any(re.search(rf"(?<!\w){re.escape(w)}(?!\w)", low) for w in words)


def test_demo_posts_show_the_committed_photos_with_their_labels():
    labels = {}
    with (DEMO_PHOTOS / "labels.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            labels[row["image"]] = (row["category"], row["colour"])
    assert len(labels) == 150 and (DEMO_PHOTOS / "LICENSE").is_file()
    cat = Catalogue.demo(12, 2, real_photos=demo_photos())
    photos = [p for s in cat.shops.values() for post in s.posts for p in post.photos]
    assert all(Path(p.real_path).parent == DEMO_PHOTOS for p in photos)
    for p in photos:
        assert (p.category, p.colour) == labels[Path(p.real_path).name]
        with Image.open(p.real_path) as im:
            assert max(im.size) <= 320
    assert {p.category for p in photos} >= set(CATEGORIES)
    assert sum(f.stat().st_size for f in DEMO_PHOTOS.iterdir()) <= 4 * 1024 * 1024


def test_captions_name_their_photos_in_the_shops_languages():
    cat = Catalogue.demo(30, 2, real_photos=demo_photos())
    posts = [post for s in cat.shops.values() for post in s.posts if post.words]
    kinds = Counter(p.words.kind for p in posts)
    assert 0.2 < kinds[VAGUE] / len(posts) < 0.4 and kinds[MIXED] >= 10
    assert {p.words.lang for p in posts} == set(LANGUAGES)
    for post in posts:
        named = [ph.category for ph in post.photos if ph.category in CATEGORIES]
        text = post.caption + " " + post.title
        if post.words.kind == VAGUE:
            # nothing about the garments: no word of any of its photos' categories
            assert not any(_has_word(post.caption, category_words(c)) for c in named), post
        else:
            assert named and all(_has_word(text, category_words(c)) for c in named), post
    # Words naming another colour or item ("with black buttons", "goes with our white jeans")
    mixed = [p for p in posts if p.words.kind == MIXED]
    other = 0
    for post in mixed:
        own = {ph.colour for ph in post.photos}
        words = {w for c in COLOURS if c not in own for w in all_colour_words(c)}
        other += _has_word(post.caption, words)
    assert other >= len(mixed) * 0.8
    again = Catalogue.demo(30, 2, real_photos=demo_photos())
    assert [p.caption for s in again.shops.values() for p in s.posts] == [
        p.caption for s in cat.shops.values() for p in s.posts
    ]


def test_captions_look_like_each_networks_text(real_emu: EmulatorServer):
    base = real_emu.base_url
    acct = httpx.get(f"{base}/api/v1/accounts/lookup", params={"acct": "linen_house"}).json()
    statuses = httpx.get(f"{base}/api/v1/accounts/{acct['id']}/statuses?limit=40").json()
    html = " ".join(s["content"] for s in statuses)
    assert html.startswith("<p>") and 'class="mention hashtag" rel="tag">#<span>' in html
    assert '<span class="invisible">https://</span>' in html
    assert {s["language"] for s in statuses} <= {"fr", "it"}
    tagged = next(s for s in statuses if s["tags"])
    assert all(f"#<span>{t['name']}</span>" in tagged["content"].lower() for t in tagged["tags"])
    products = [
        p
        for shop in ("harbour-wool", "sunday-tees")
        for p in httpx.get(f"{base}/shopify/{shop}/products.json").json()["products"]
    ]
    names = {o["name"] for p in products for o in p["options"]}
    assert {"Farbe", "Kolor", "Size"} <= names
    assert any("&nbsp;" in p["body_html"] or "&amp;" in p["body_html"] for p in products)
    assert all(p["title"] for p in products)
    prices = " ".join(s["content"] for s in statuses) + " ".join(p["body_html"] for p in products)
    assert re.search(r"\d+(,\d\d)? ?(€|zł)", prices)
    feed = httpx.get(
        f"{base}/xrpc/app.bsky.feed.getAuthorFeed", params={"actor": "denimdept.bsky.social"}
    ).json()["feed"]
    langs = {e["post"]["record"]["langs"][0] for e in feed}
    assert langs <= {"es", "pt"} and langs
    for e in feed:
        record = e["post"]["record"]
        raw = record["text"].encode()
        for facet in record.get("facets", []):
            i = facet["index"]
            tag = raw[i["byteStart"] : i["byteEnd"]].decode()
            assert tag == "#" + facet["features"][0]["tag"]
