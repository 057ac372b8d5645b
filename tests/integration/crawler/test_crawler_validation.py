"""A bad post is refused with its reason, never its page: each post and photo URL an API gives
is checked on its own, what is refused is recorded, and the shop's pass goes on (reported
`partial`). Crawled from the emulator over HTTP into SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from catalog.models import CrawlRun, Photo, Post, RejectedMedia
from catalog.records import CrawlSummary
from crawler.emulator.catalogue import Catalogue
from crawler.emulator.server import EmulatorServer
from crawler.run import crawl_subprocess
from tests.support.crawl import SHOPS, rows, setup

LONG_URL = "https://cdn.bsky.app/img/feed_fullsize/" + "a" * 3000 + ".jpg"


def catalogue_with_bad_posts() -> tuple[Catalogue, str]:
    """The catalogue, and the key of the photo given by a relative URL."""
    cat = Catalogue(seed=11)
    for network, handle in SHOPS:
        cat.add_shop(network, handle)
        cat.add_posts(network, handle, 6, 1)  # older, good: pages of 5, so a second page

    def add(network: str, handle: str, **raw: object):  # type: ignore[no-untyped-def]
        post = cat.add_posts(network, handle, 1, 1)[0]
        post.raw = dict(raw)
        return post

    add("instagram", "ig_shop", timestamp=1700000000)  # created_at an integer
    add("instagram", "ig_shop", caption={"text": "linen dress"})  # a caption that is an object
    add("mastodon", "masto_shop", id="1" + "0" * 2999)  # an id far over the catalogue's 512
    add("mastodon", "masto_shop", content="<p>linen\x00dress</p>")  # a NUL in the text
    bad_ipv6 = cat.new_photo(url_override="http://[::1/x.jpg")
    cat.add_posts("mastodon", "masto_shop", photos=[bad_ipv6, cat.new_photo()])
    relative = cat.new_photo()
    relative.url_override = f"/media/mastodon/{relative.key}.jpg"  # resolves on the instance
    cat.add_posts("mastodon", "masto_shop", photos=[relative])
    cat.add_posts("bluesky", "sky.bsky.social", photos=[cat.new_photo(url_override=LONG_URL)])
    cat.add_posts("shopify", "store", 1, 1)[0].price = "19,99"  # a comma decimal
    add("shopify", "store", published_at=12345, created_at=12345)
    for network, handle in SHOPS:
        cat.add_posts(network, handle, 1, 1)  # and good posts after the bad ones
    return cat, relative.key


def test_bad_posts_are_refused_one_by_one_and_the_pass_goes_on(tmp_path: Path, db_url: str):
    cat, relative = catalogue_with_bad_posts()
    with EmulatorServer(cat, image_size=(240, 300)) as emu:
        summary = crawl_subprocess(setup(tmp_path, db_url, emu))
    assert summary.status == "partial"
    assert {k: s.status for k, s in summary.shops.items()} == {
        "instagram:ig_shop": "partial",
        "mastodon:masto_shop": "partial",
        "bluesky:sky.bsky.social": "partial",
        "shopify:store": "partial",
    }
    errors = "\n".join(summary.errors)
    for reason in (
        "instagram:ig_shop: post 178",
        "refused: unreadable: time '1700000000' is not an ISO 8601 time",
        "refused: caption is dict, not text",
        "refused: id is 3000 characters long (over 512)",
        "photo http://[::1/x.jpg refused: photo URL is not a valid URL: Invalid IPv6 URL",
        "refused: no photo to fetch: photo URL is 3043 characters long (over 2048)",
        "shopify:store: post 8000000000",
    ):
        assert reason in errors, errors
    assert len(summary.errors) == 6, errors  # one line per refusal, nothing else went wrong

    posts = rows(db_url, Post)
    by_network = {n: sorted(p.caption for p in posts if p.network == n) for n, _ in SHOPS}
    # every good post of every page is in: 6 older + 1 newer, and what was good in the bad ones
    assert {n: len(c) for n, c in by_network.items()} == {
        "instagram": 7,
        "mastodon": 10,
        "bluesky": 7,
        "shopify": 8,
    }
    assert any(p.caption == "linendress" for p in posts)  # the NUL dropped, the post kept
    assert "19.99" in {p.price for p in posts if p.network == "shopify"}
    rejected = {r.source_url: r for r in rows(db_url, RejectedMedia)}
    assert rejected["http://[::1/x.jpg"].post_id is not None  # its post is stored, less it
    assert rejected["http://[::1/x.jpg"].reason.startswith("refused: photo URL is not a valid")
    assert rejected[LONG_URL[:2048]].post_id is None  # its post was refused whole
    assert len(rejected) == 2
    # the relative photo URL was fetched from the instance that gave it
    sources = {p.source_url for p in rows(db_url, Photo)}
    assert f"{emu.base_url}/media/mastodon/{relative}.jpg" in sources
    (run,) = rows(db_url, CrawlRun)
    # the stored row says the same: every refusal under its shop, none run-wide
    stored = CrawlSummary.from_row(run)
    assert run.status == "partial" and stored.run_errors == [] and len(stored.errors) == 6
