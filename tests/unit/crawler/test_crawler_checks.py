"""crawler.spiders.checks: each post and photo URL an API gives is checked on its own; a bad
one is refused with its reason, the rest of the post is kept."""

from __future__ import annotations

import pytest

from crawler.items import PostData
from crawler.spiders.checks import (
    MAX_CAPTION,
    MAX_ID,
    MAX_URL,
    Refused,
    check_post,
    photo_url,
    post_ref,
)


def test_relative_photo_urls_resolve_against_the_page() -> None:
    assert (
        photo_url("/media/a.jpg", "https://shop.example/p/1") == "https://shop.example/media/a.jpg"
    )
    assert photo_url("https://cdn.example/a.jpg") == "https://cdn.example/a.jpg"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (None, "photo URL is NoneType, not text"),
        ({"url": "x"}, "photo URL is dict, not text"),
        ("https://cdn.example/a b.jpg", "spaces or control characters"),
        ("ftp://cdn.example/a.jpg", "not an absolute http(s) URL"),
        ("/a.jpg", "not an absolute http(s) URL"),  # relative, and no page to resolve it on
        ("https://cdn.example:port/a.jpg", "not a valid URL"),
        ("https://cdn.example/" + "a" * MAX_URL, f"over {MAX_URL}"),
    ],
)
def test_unfetchable_photo_urls_are_refused_with_the_reason(url: object, reason: str) -> None:
    with pytest.raises(Refused, match=reason.replace("(", r"\(").replace(")", r"\)")):
        photo_url(url)


def post(**fields: object) -> PostData:
    base: dict[str, object] = {
        "network_post_id": "42",
        "key": "42",
        "photo_urls": ["https://c.example/1.jpg"],
    }
    return PostData(**{**base, **fields})  # type: ignore[arg-type]


def test_a_post_keeps_its_good_photos_and_lists_the_refused_ones() -> None:
    urls = ["https://c.example/1.jpg", "javascript:alert(1)", "https://c.example/1.jpg", "/2.jpg"]
    clean, refused = check_post(post(photo_urls=urls, caption="a\x00b"), "https://c.example/")
    assert clean.photo_urls == ["https://c.example/1.jpg", "https://c.example/2.jpg"]
    assert refused == [("javascript:alert(1)", "photo URL is not an absolute http(s) URL")]
    assert clean.refused_photos == refused
    assert clean.caption == "ab"  # PostgreSQL's text cannot hold NUL


def test_long_captions_are_cut_and_junk_tags_dropped() -> None:
    clean, _ = check_post(post(caption="x" * (MAX_CAPTION + 5), tags=["ok", "\x00", 3, "a\x00"]))
    assert len(clean.caption) == MAX_CAPTION and clean.tags == ["ok", "a"]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"network_post_id": ""}, "no usable id"),
        ({"network_post_id": "1\x002"}, "no usable id"),
        ({"network_post_id": "9" * (MAX_ID + 1)}, f"over {MAX_ID}"),
        ({"caption": {"text": "hi"}}, "caption is dict, not text"),
        ({"title": 7}, "title is int, not text"),
        ({"tags": "summer"}, "tags are str, not a list"),
        ({"permalink": "https://x.example/" + "p" * MAX_URL}, "permalink is"),
    ],
)
def test_a_post_that_cannot_be_stored_is_refused(fields: dict[str, object], reason: str) -> None:
    with pytest.raises(Refused, match=reason):
        check_post(post(**fields))


def test_a_report_names_a_raw_post_by_its_id_or_its_place() -> None:
    assert post_ref({"id": "110"}, 0) == "post 110"
    assert post_ref({"post": {"uri": "at://did/app.bsky.feed.post/3k"}}, 0).startswith("post at://")
    assert post_ref({"id": "9" * 100}, 0) == "post " + "9" * 80 + "…"
    assert post_ref({"id": True}, 2) == "post #3 of the page"
    assert post_ref(["not", "a", "post"], 0) == "post #1 of the page"
