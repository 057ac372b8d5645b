"""End-to-end crawls against the emulator over HTTP on 127.0.0.1, into real catalogues.

Each crawl runs in a child process (`vitrina crawl --json`), as the nightly pipeline runs it:
the Twisted reactor cannot restart inside one process."""

from __future__ import annotations

import math
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from catalog.models import CrawlRun, Photo, Post, RejectedMedia, Shop
from crawler.emulator.catalogue import Catalogue
from crawler.emulator.faults import Faults
from crawler.emulator.server import EmulatorServer
from crawler.run import crawl_subprocess
from tests.support.common import REPO
from tests.support.crawl import PAGE, SHOPS, crawl_until, rows, setup, small_catalogue


@pytest.fixture
def emulator():
    with EmulatorServer(small_catalogue(), image_size=(240, 300)) as emu:
        yield emu


def test_first_crawl_then_incremental(tmp_path: Path, db_url: str, emulator: EmulatorServer):
    cfg = setup(tmp_path, db_url, emulator)
    first = crawl_subprocess(cfg)
    assert first.status == "ok", first.errors
    for network, handle in SHOPS:
        shop = first.shops[f"{network}:{handle}"]
        assert shop.new_posts == 12 and shop.errors == [], shop
        # 12 posts in pages of 5: 3 pages (+ the profile lookup where the API needs one)
        assert shop.pages == 3, shop
    posts = rows(db_url, Post)
    assert len(posts) == 48
    photos = rows(db_url, Photo)
    assert len(photos) == 48 and {p.status for p in photos} == {"pending"}
    media = tmp_path / "media"
    for p in photos:
        assert p.stored_path == f"{p.sha256[:2]}/{p.sha256[2:4]}/{p.sha256}.jpg"
        assert (media / p.stored_path).stat().st_size > 1000
        with Image.open(media / p.thumb_path) as thumb:
            assert thumb.format == "WEBP" and max(thumb.size) <= 320
    shops = {s.handle: s for s in rows(db_url, Shop)}
    assert all(s.watermark and s.crawl_state.get("watermark_key") for s in shops.values())
    assert shops["store"].watermark == str(8_000_000_000_000 + 48)  # newest product id
    # each network's own name for the shop, not its handle (Shopify: the store's /meta.json)
    for network, handle in SHOPS:
        assert shops[handle].display_name == emulator.catalogue.shop(network, handle).display_name
        assert shops[handle].display_name not in ("", handle), (network, handle)
    shopify_post = next(p for p in posts if p.network == "shopify")
    assert shopify_post.title and shopify_post.price and shopify_post.vendor
    assert any(t.startswith("colour:") for t in shopify_post.tags)
    assert shopify_post.permalink.startswith(f"{emulator.base_url}/shopify/store/products/")

    # Nothing new: one request per shop.
    emulator.reset_counts()
    again = crawl_subprocess(cfg)
    assert again.totals["new_posts"] == 0 and again.status == "ok"
    for network, handle in SHOPS:
        assert emulator.api_requests(network, handle) == 1, (network, emulator.requests)
    assert emulator.media_requests() == 0

    # k new posts: ⌈k / page size⌉ + 1 requests per shop at most, and only the new ones stored.
    for k in (7,):  # more than a page: the incremental crawl pages too
        for network, handle in SHOPS:
            emulator.add_posts(network, handle, k, 1)
        emulator.reset_counts()
        inc = crawl_subprocess(cfg)
        for network, handle in SHOPS:
            assert inc.shops[f"{network}:{handle}"].new_posts == k
            assert emulator.api_requests(network, handle) <= math.ceil(k / PAGE) + 1
        assert emulator.media_requests() == 4 * k
    assert len(rows(db_url, Post)) == 48 + 4 * 7
    runs = rows(db_url, CrawlRun)
    assert [r.status for r in runs] == ["ok"] * 3 and all(r.finished_at for r in runs)


def test_photo_validation_exif_and_duplicates(tmp_path: Path, sqlite_url: str):
    with EmulatorServer(small_catalogue(4, quirks=True), image_size=(240, 300)) as emu:
        cfg = setup(tmp_path, sqlite_url, emu, shops=[("mastodon", "masto_shop")])
        summary = crawl_subprocess(cfg)
        exif_key = next(k for k, p in emu.catalogue.photos.items() if p.variant == "exif")
        exif_url = emu.photo_url("mastodon", exif_key)
    shop = summary.shops["mastodon:masto_shop"]
    assert shop.new_posts == 9 and shop.errors == []
    assert shop.duplicates == 1 and shop.near_duplicates == 1 and shop.rejected == 4
    reasons = sorted(r.reason.split(":")[0] for r in rows(sqlite_url, RejectedMedia))
    assert reasons == [
        "decompression bomb",
        "not an image",
        "too small",
        "truncated or corrupt JPEG image",
    ]
    photos = rows(sqlite_url, Photo)
    near = [p for p in photos if p.duplicate_of_id]
    assert len(near) == 1 and near[0].duplicate_of_id in {p.id for p in photos}
    rotated = next(p for p in photos if p.source_url == exif_url)
    with Image.open(tmp_path / "media" / rotated.stored_path) as img:
        exif = img.getexif()
        assert img.size == (240, 300)  # upright: EXIF orientation applied
        assert 0x8825 not in exif and exif.get(0x0112, 1) == 1  # no GPS, no rotation left
        assert exif.get(0x010F) == "EmulatorCam"  # harmless tags kept


def test_retries_5xx_and_429_with_and_without_retry_after(tmp_path: Path, sqlite_url: str):
    faults = Faults(
        fail_first=2, burst_every=7, burst_length=3, retry_after=None, rate_limit_reset=0.2
    )
    with EmulatorServer(small_catalogue(6), faults, image_size=(240, 300)) as emu:
        cfg = setup(tmp_path, sqlite_url, emu)
        summary = crawl_subprocess(cfg)
        statuses = [s for _, _, s in emu.requests]
        assert 503 in statuses or 500 in statuses
        assert {429, 403} & set(statuses), __import__("collections").Counter(statuses)
        emu.faults.retry_after = 0.1
        emu.faults.fail_first = 0
        for network, handle in SHOPS:
            emu.add_posts(network, handle, 2, 1)
        second = crawl_subprocess(cfg)
    assert summary.status == "ok", summary.errors
    assert summary.totals["new_posts"] == 24 and summary.totals["new_photos"] == 24
    assert second.status == "ok" and second.totals["new_posts"] == 8


def test_unknown_account_auth_error_and_malformed_page(tmp_path: Path, sqlite_url: str):
    with EmulatorServer(small_catalogue(3), Faults(malformed_handles={"store"})) as emu:
        shops = SHOPS[1:] + [
            ("mastodon", "gone_shop"),
            ("bluesky", "gone.bsky.social"),
            ("shopify", "gone-store"),
        ]
        cfg = setup(tmp_path, sqlite_url, emu, shops=[*shops, ("instagram", "ig_shop")])
        text = cfg.read_text().replace('access_token = "emulator-token"', 'access_token = "bad"')
        cfg.write_text(text)
        proc = subprocess.run(
            [sys.executable, "-m", "vitrina_cli.main", "--config", str(cfg), "crawl"],
            capture_output=True,
            text=True,
            cwd=REPO,
        )
    assert proc.returncode == 1, proc.stderr  # some shops failed; the others were crawled
    assert "access token rejected" in proc.stdout and "malformed JSON" in proc.stdout
    shops_db = {(s.network, s.handle): s for s in rows(sqlite_url, Shop)}
    assert not shops_db[("mastodon", "gone_shop")].active
    assert "not found" in shops_db[("mastodon", "gone_shop")].inactive_reason
    assert not shops_db[("bluesky", "gone.bsky.social")].active
    assert "store not found" in shops_db[("shopify", "gone-store")].inactive_reason
    assert shops_db[("instagram", "ig_shop")].active  # a bad token is not the shop's fault
    posts = rows(sqlite_url, Post)
    assert {p.network for p in posts} == {"mastodon", "bluesky"}  # others stored nothing
    assert len(posts) == 6
    assert shops_db[("shopify", "store")].watermark == ""


def test_ssrf_guard_refuses_private_photo_urls(tmp_path: Path, sqlite_url: str):
    cat = small_catalogue(1)
    evil = [
        cat.new_photo(url_override="http://169.254.169.254/latest/meta-data.jpg"),
        cat.new_photo(url_override="http://10.1.2.3/x.jpg"),
        cat.new_photo(url_override="http://localhost:1/secret.jpg"),
    ]
    cat.add_posts("bluesky", "sky.bsky.social", 1, photos=evil)
    with EmulatorServer(cat) as emu:
        cfg = setup(tmp_path, sqlite_url, emu, shops=[("bluesky", "sky.bsky.social")])
        summary = crawl_subprocess(cfg)
    assert summary.shops["bluesky:sky.bsky.social"].rejected == 3
    reasons = {r.source_url: r.reason for r in rows(sqlite_url, RejectedMedia)}
    assert "link-local" in reasons["http://169.254.169.254/latest/meta-data.jpg"]
    assert "private" in reasons["http://10.1.2.3/x.jpg"]
    assert "loopback" in reasons["http://localhost:1/secret.jpg"]
    assert all("allowed_private_hosts" in r for r in reasons.values())


def test_kill_and_resume_loses_nothing_and_stores_nothing_twice(tmp_path: Path, sqlite_url: str):
    cat = Catalogue(seed=3)
    cat.add_shop("mastodon", "big_shop")
    cat.add_posts("mastodon", "big_shop", 60, 1)
    with EmulatorServer(cat, Faults(latency_ms=40), image_size=(200, 250)) as emu:
        cfg = setup(tmp_path, sqlite_url, emu, shops=[("mastodon", "big_shop")])
        # SIGKILL: no chance to clean up
        proc = crawl_until(cfg, lambda: len(rows(sqlite_url, Post)) >= 10, signal.SIGKILL)
        proc.wait()
        stored = len(rows(sqlite_url, Post))
        assert 10 <= stored < 60, stored
        shop = rows(sqlite_url, Shop)[0]
        assert shop.watermark == ""  # the pass did not finish: the watermark has not moved
        assert shop.crawl_state["pass"]["done"] >= 1
        emu.faults.latency_ms = 0
        resumed = crawl_subprocess(cfg)
        assert resumed.status == "ok", resumed.errors
        emu.reset_counts()
        again = crawl_subprocess(cfg)
    posts = rows(sqlite_url, Post)
    photos = rows(sqlite_url, Photo)
    assert len(posts) == 60 and len({p.network_post_id for p in posts}) == 60
    assert len(photos) == 60
    assert again.totals["new_posts"] == 0
    assert rows(sqlite_url, Shop)[0].watermark == str(110_000_000_000_000_000 + 60 * 65_536)


def test_first_crawl_bound_and_pinned_posts(tmp_path: Path, sqlite_url: str):
    cat = Catalogue(seed=5)
    cat.add_shop("bluesky", "pins.bsky.social")
    old = cat.add_posts("bluesky", "pins.bsky.social", 1, 1)[0]
    cat.add_posts("bluesky", "pins.bsky.social", 11, 1)
    old.pinned = True  # an old post pinned on top of the feed
    with EmulatorServer(cat, image_size=(200, 250)) as emu:
        cfg = setup(tmp_path, sqlite_url, emu, shops=[("bluesky", "pins.bsky.social")])
        cfg.write_text(
            cfg.read_text().replace("[crawler]\n", "[crawler]\nmax_posts_per_shop = 7\n")
        )
        first = crawl_subprocess(cfg)
        # the pinned post (first in the feed) plus the 6 newest: the first crawl's bound is 7
        assert first.shops["bluesky:pins.bsky.social"].new_posts == 7
        emu.add_posts("bluesky", "pins.bsky.social", 2, 1)
        emu.reset_counts()
        second = crawl_subprocess(cfg)
    # the pinned post comes first again but is old: skipped without stopping the crawl
    assert second.shops["bluesky:pins.bsky.social"].new_posts == 2
    assert emu.api_requests("bluesky") == 1
    posts = rows(sqlite_url, Post)
    assert sum(p.pinned for p in posts) == 1 and len(posts) == 9


def test_slow_responses_time_out_and_are_retried_with_our_user_agent(
    tmp_path: Path, sqlite_url: str
):
    faults = Faults(slow_rate=0.3, slow_ms=1500, seed=2)
    with EmulatorServer(small_catalogue(6), faults, image_size=(200, 250)) as emu:
        shops = [("mastodon", "masto_shop"), ("shopify", "store")]
        cfg = setup(tmp_path, sqlite_url, emu, shops=shops)
        cfg.write_text(
            cfg.read_text().replace(
                "[crawler]\n",
                '[crawler]\nrequest_timeout = 0.5\nretry_times = 8\ncontact_url = "https://ops.example/bot"\n',
            )
        )
        summary = crawl_subprocess(cfg)
        agents = set(emu.user_agents)
    assert summary.status == "ok", summary.errors
    assert summary.totals["new_posts"] == 12 and summary.totals["new_photos"] == 12
    assert agents == {"Vitrina/0.1 (+https://ops.example/bot)"}


def test_emulator_serves_real_photos_when_given_a_folder(tmp_path: Path, sqlite_url: str):
    from crawler.emulator.catalogue import load_real_photos

    data = REPO.parent / "shared" / "datasets" / "clothing"
    real = load_real_photos(data, data / "labels.csv")[:40]
    cat = Catalogue(seed=1, real_photos=real)
    cat.add_shop("shopify", "store")
    cat.add_posts("shopify", "store", 3, 2)
    with EmulatorServer(cat) as emu:
        cfg = setup(tmp_path, sqlite_url, emu, shops=[("shopify", "store")])
        summary = crawl_subprocess(cfg)
    assert summary.totals["new_photos"] + summary.totals["near_duplicates"] == 6
    files = {p.real_path for p in cat.photos.values()}
    import hashlib

    shas = {hashlib.sha256(Path(f).read_bytes()).hexdigest() for f in files}
    assert {p.sha256 for p in rows(sqlite_url, Photo)} == shas  # hashed as served


def test_per_network_rate_ceiling_holds_with_autothrottle(tmp_path: Path, sqlite_url: str):
    with EmulatorServer(small_catalogue(8), image_size=(200, 250)) as emu:
        cfg = setup(tmp_path, sqlite_url, emu, shops=[("shopify", "store")])
        text = cfg.read_text().replace("autothrottle = false\n", "autothrottle = true\n")
        text = text.replace(
            "[networks.shopify]\npage_size = 5\nrequests_per_second = 0.0",
            "[networks.shopify]\npage_size = 2\nrequests_per_second = 4.0",
        )
        cfg.write_text(text)
        summary = crawl_subprocess(cfg)
        times = [t for t, path in emu.api_times if "/products.json" in path]
    assert summary.totals["new_posts"] == 8
    assert len(times) == 5  # 8 products in pages of 2, then an empty page
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 0.2, gaps  # 4 requests/second at most (Scrapy's delay, no jitter)


def test_instagram_without_a_token_is_reported_not_fatal(tmp_path: Path, sqlite_url: str):
    with EmulatorServer(small_catalogue(2)) as emu:
        cfg = setup(
            tmp_path, sqlite_url, emu, shops=[("instagram", "ig_shop"), ("shopify", "store")]
        )
        cfg.write_text(
            cfg.read_text().replace('access_token = "emulator-token"', 'access_token = ""')
        )
        summary = crawl_subprocess(cfg)
        assert emu.api_requests("instagram") == 0
    assert summary.shops["instagram:ig_shop"].status == "auth"
    assert "access_token and ig_user_id are not set" in " ".join(summary.errors)
    assert summary.shops["shopify:store"].new_posts == 2


def test_ctrl_c_stops_gracefully_and_is_recorded(tmp_path: Path, sqlite_url: str):
    cat = Catalogue(seed=4)
    cat.add_shop("mastodon", "big_shop")
    cat.add_posts("mastodon", "big_shop", 60, 1)
    with EmulatorServer(cat, Faults(latency_ms=60), image_size=(200, 250)) as emu:
        cfg = setup(tmp_path, sqlite_url, emu, shops=[("mastodon", "big_shop")])
        proc = crawl_until(
            cfg, lambda: len(rows(sqlite_url, Post)) >= 10, signal.SIGINT, capture=True
        )
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err[-2000:]
        summary = __import__("json").loads(out)
        assert summary["status"] == "interrupted"
        assert [r.status for r in rows(sqlite_url, CrawlRun)] == ["interrupted"]
        rest = crawl_subprocess(cfg)
    assert rest.status == "ok" and len(rows(sqlite_url, Post)) == 60


def test_photo_downloads_keep_the_per_host_concurrency_and_reuse_connections(
    tmp_path: Path, sqlite_url: str
):
    # A page's photos are queued all at once; Scrapy 2.19's downloader alone would start them
    # all together, each on a new connection (crawler/downloader.py).
    cat = Catalogue(seed=3)
    cat.add_shop("mastodon", "masto_shop")
    cat.add_posts("mastodon", "masto_shop", 8, 4)
    with EmulatorServer(cat, Faults(latency_ms=30), image_size=(200, 250)) as emu:
        cfg = setup(tmp_path, sqlite_url, emu, shops=[("mastodon", "masto_shop")])
        text = cfg.read_text().replace(
            "[crawler]\n", "[crawler]\nconcurrent_requests_per_domain = 2\n", 1
        )
        mastodon = f"[networks.mastodon]\npage_size = {PAGE}\n"
        cfg.write_text(text.replace(mastodon, mastodon + "concurrency = 2\n", 1))
        summary = crawl_subprocess(cfg)
    assert summary.totals["new_photos"] + summary.totals["near_duplicates"] == 32
    seen = (dict(emu.max_in_flight), emu.connections)
    assert emu.max_in_flight["media"] == 2, seen
    assert emu.max_in_flight["api"] <= 2, seen
    assert emu.connections <= 4, seen  # API and photo slots, two each at most


def test_the_same_product_on_two_networks_in_one_crawl_is_one_photo(
    tmp_path: Path, sqlite_url: str
):
    # Each network's spider has its own pipeline: without looking at what the others stored
    # since the crawl began, both copies would be kept as originals.
    cat = Catalogue(seed=5)
    cat.add_shop("mastodon", "masto_shop")
    cat.add_shop("instagram", "ig_shop")
    (post,) = cat.add_posts("mastodon", "masto_shop", 1, 1)
    original = post.photos[0]
    cat.add_posts("instagram", "ig_shop", 1, photos=[cat.new_photo("resized", of=original.key)])
    shops = [("mastodon", "masto_shop"), ("instagram", "ig_shop")]
    with EmulatorServer(cat, image_size=(240, 300)) as emu:
        summary = crawl_subprocess(setup(tmp_path, sqlite_url, emu, shops=shops))
    assert summary.status == "ok", summary.errors
    photos = rows(sqlite_url, Photo)
    assert len(photos) == 2
    first, second = sorted(photos, key=lambda p: p.id)
    assert first.duplicate_of_id is None and second.duplicate_of_id == first.id
    assert summary.totals["new_photos"] == 1 and summary.totals["near_duplicates"] == 1
