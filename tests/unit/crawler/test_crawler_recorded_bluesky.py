"""The Bluesky spider on a real getAuthorFeed answer with a repost and replies (osmote.net, July
2023, recorded by SwiftBluesky: tests/data/recorded/bluesky, see tests/data/recorded/PROVENANCE.md),
and pinned posts shown as the AppView shows them, on the real mkbhd.com feed
(../shared/api-reference/recorded/bluesky)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from crawler.items import PostData
from crawler.spiders.base import ShopTask, iso_key
from crawler.spiders.bluesky import BlueskySpider
from tests.support.common import REPO
from tests.support.recorded import answer, one_page, spider

DATA = REPO / "tests" / "data" / "recorded" / "bluesky"
SHARED = REPO.parent / "shared" / "api-reference" / "recorded" / "bluesky"
OSMOTE = "did:plc:etdcb47v54mwv2wdufhi4tu6"
MKBHD = "did:plc:ys5aypbbeqmwn42edy5t3sho"
PIN = {"$type": "app.bsky.feed.defs#reasonPin"}


def osmote() -> dict[str, Any]:
    return json.loads(
        (DATA / "SwiftBluesky__BlueskyClientTests_testGetAuthorFeed.json").read_text()
    )


def mkbhd() -> dict[str, Any]:
    path = SHARED / "DeKoxD-personal-website__mockRes_getAuthorFeed.json"
    if not path.is_file():
        pytest.fail(f"the recorded API answers are missing: expected {path} (../shared)")
    return json.loads(path.read_text(encoding="utf-8"))


def brief(post: PostData) -> tuple[str, str, str, str, list[str]]:
    return (post.network_post_id, post.posted_at, post.permalink, post.caption, post.photo_urls)


def test_own_posts_of_a_real_feed_exact_and_the_repost_and_reply_to_others_dropped():
    body = osmote()
    task = ShopTask(1, "bluesky", "osmote.net", account_id=OSMOTE)
    sp = spider(BlueskySpider)
    at = f"at://{OSMOTE}/app.bsky.feed.post/"
    web = "https://bsky.app/profile/osmote.net/post/"
    got = [sp.post(entry, task) for entry in body["feed"]]  # type: ignore[attr-defined]
    assert [p and brief(p) for p in got] == [
        None,  # cara.city's post, reposted by osmote.net: not this shop's
        (
            at + "3k3r7myqqzo2z",
            "2023-07-30T19:34:10.911000+00:00",
            web + "3k3r7myqqzo2z",
            "Test Two",
            [],  # a quote of "Test One": no media of its own
        ),
        (
            at + "3k3r7mrdhvc2c",
            "2023-07-30T19:34:03.137000+00:00",
            web + "3k3r7mrdhvc2c",
            "Test One",
            [],
        ),
        None,  # "get out", a reply to jennscarlet.bsky.social: a conversation
        (
            at + "3k3qym3dygx2g",
            "2023-07-30T17:28:23.473000+00:00",
            web + "3k3qym3dygx2g",
            "how would you explain phone prank comedy tapes to a zoomer",
            [],
        ),
    ]
    # Keyed on the earlier of indexedAt and createdAt, the order the feed is sorted by.
    assert got[1] is not None and got[1].key == iso_key(
        "2023-07-30T19:34:10.809Z", at + "3k3r7myqqzo2z"
    )

    items, requests = answer(sp, "parse_feed", body, task)
    page = one_page(items)
    # Three own posts, words alone: skipped. The repost and the reply are not the shop's
    # posts at all, so not counted; the repost, newest in the feed (reposted 20:23:47), does
    # not set the watermark either: its post is cara.city's, from 16:13.
    assert page.posts == [] and page.skipped == 3
    assert page.top == {
        "id": at + "3k3r7myqqzo2z",
        "key": iso_key("2023-07-30T19:34:10.809Z", at + "3k3r7myqqzo2z"),
        "at": "2023-07-30T19:34:10.911000+00:00",
    }
    assert [r.url for r in requests] == [
        "https://public.api.bsky.app/xrpc/app.bsky.feed.getAuthorFeed?"
        "actor=did%3Aplc%3Aetdcb47v54mwv2wdufhi4tu6&filter=posts_with_media&limit=50"
        "&cursor=1690738103473%3A%3Abafyreibj5vh7kfqzttdqkwnjsvs5drq5q3ugldodoaqxkv56jaeex6rkhy"
    ]


def test_a_repost_is_dropped_by_its_reason_and_by_its_author_alone():
    repost = osmote()["feed"][0]
    assert (
        repost["reason"]["by"]["did"] == OSMOTE
        and repost["post"]["author"]["handle"] == "cara.city"
    )
    sp = spider(BlueskySpider)
    # the reason alone (a task that does not know its DID)
    assert sp.post(repost, ShopTask(1, "bluesky", "osmote.net")) is None  # type: ignore[attr-defined]
    # the author alone: an item without the reason, as an AppView could add a new kind of one
    bare = {k: v for k, v in repost.items() if k != "reason"}
    assert sp.post(bare, ShopTask(1, "bluesky", "osmote.net", account_id=OSMOTE)) is None  # type: ignore[attr-defined]


def test_images_of_the_reply_context_are_not_the_posts_photos():
    # cara.city's own thread: the reply is kept as hers, but the book photo is her parent's.
    item = {k: v for k, v in osmote()["feed"][0].items() if k != "reason"}
    assert item["reply"]["root"]["embed"]["$type"] == "app.bsky.embed.images#view"
    task = ShopTask(1, "bluesky", "cara.city", account_id="did:plc:katl2n3xfpfwpv45aiwwtbrb")
    post = spider(BlueskySpider).post(item, task)  # type: ignore[attr-defined]
    assert post is not None and post.photo_urls == []
    assert post.caption.startswith("the main way people were introduced to software")
    assert post.permalink == "https://bsky.app/profile/cara.city/post/3k3qugjur6l2k"


def pinned_pages(feed: list[dict[str, Any]], pin: int, cut: int) -> list[dict[str, Any]]:
    """The real feed in two pages, with post `pin` also shown pinned first, as the AppView
    does on the first page (it leaves its place there, not on later pages). **Composed**."""
    first = [e for e in feed[:cut] if e is not feed[pin]]
    return [
        {"feed": [{"post": feed[pin]["post"], "reason": PIN}, *first], "cursor": "c1"},
        {"feed": feed[cut:]},
    ]


def photo_posts(feed: list[dict[str, Any]]) -> list[str]:
    return [
        e["post"]["uri"]
        for e in feed
        if e["post"]
        .get("embed", {})
        .get("$type", "")
        .startswith(("app.bsky.embed.images", "app.bsky.embed.recordWithMedia"))
    ]


def test_a_pinned_post_repeated_in_its_place_is_kept_once_on_the_first_crawl():
    feed = mkbhd()["feed"]
    with_photos = photo_posts(feed)
    later = photo_posts(feed[15:])  # the photo posts of page 2
    pinned = later[0]  # pinned, and in its place on page 2 before other photo posts
    pages = pinned_pages(
        feed, next(i for i, e in enumerate(feed) if e["post"]["uri"] == pinned), 15
    )
    task = ShopTask(1, "bluesky", "mkbhd.com", account_id=MKBHD)
    sp = spider(BlueskySpider, max_posts=len(with_photos))
    first = one_page(answer(sp, "parse_feed", pages[0], task)[0])
    second = one_page(answer(sp, "parse_feed", pages[1], task, seq=1)[0])
    assert first.posts[0].network_post_id == pinned and first.posts[0].pinned
    kept = [p.network_post_id for p in first.posts + second.posts]
    # every photo post once, the pinned one first; its own place on page 2 is not kept again
    # and does not count against max_posts_per_shop (so the oldest is not cut off)
    assert kept == [pinned, *(u for u in with_photos if u != pinned)]
    assert second.final and task.posts_so_far == len(with_photos)
    # the pinned copy never sets the watermark; the newest post does
    assert first.top is not None and first.top["id"] == feed[0]["post"]["uri"]


def test_an_old_pinned_post_first_neither_stops_nor_is_kept_on_a_later_crawl():
    feed = mkbhd()["feed"]
    with_photos = photo_posts(feed)
    sp = spider(BlueskySpider)
    stored = sp.post(
        next(e for e in feed if e["post"]["uri"] == with_photos[3]),  # type: ignore[attr-defined]
        ShopTask(1, "bluesky", "mkbhd.com", account_id=MKBHD),
    )
    assert stored is not None
    # The watermark is the 4th newest photo post; the oldest one is pinned.
    task = ShopTask(1, "bluesky", "mkbhd.com", account_id=MKBHD, stop_key=stored.key)
    pin = next(i for i, e in enumerate(feed) if e["post"]["uri"] == with_photos[-1])
    page = one_page(answer(sp, "parse_feed", pinned_pages(feed, pin, cut=15)[0], task)[0])
    assert [p.network_post_id for p in page.posts] == with_photos[:3]
    assert page.final  # stopped at the watermark, not at the old pinned post before it
