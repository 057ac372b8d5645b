"""Each post and photo URL an API gives is checked on its own before it is stored: one bad post
(a caption that is an object, an id too long for the catalogue, a URL no client can fetch) is
refused with its reason while the rest of its page is stored."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any
from urllib.parse import urljoin, urlsplit

from crawler.items import PostData

MAX_ID = 512  # posts.network_post_id
MAX_URL = 2048  # posts.permalink, rejected_media.source_url; longer URLs are not real photos
MAX_CAPTION = 20_000  # far over any network's limit (Instagram 2,200, Mastodon 500 by default)
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


class Refused(ValueError):
    """A post (or a photo URL) that cannot be stored; the message says why."""


def post_ref(raw: Any, index: int) -> str:
    """How a report names a raw post: its id when it has a usable one, else its place."""
    if isinstance(raw, dict):
        inner = raw.get("post") if isinstance(raw.get("post"), dict) else raw
        for key in ("id", "uri"):
            value = inner.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool):
                text = str(value).replace("\x00", "")
                return f"post {text[:80]}" + ("…" if len(text) > 80 else "")
    return f"post #{index + 1} of the page"


def photo_url(url: Any, base: str = "") -> str:
    """The absolute http(s) URL of a photo, resolved against `base` when relative; Refused
    when there is none to fetch."""
    if not isinstance(url, str) or not url:
        raise Refused(f"photo URL is {type(url).__name__}, not text")
    if len(url) > MAX_URL:
        raise Refused(f"photo URL is {len(url)} characters long (over {MAX_URL})")
    if _CONTROL.search(url):
        raise Refused("photo URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        if not parts.scheme and base:
            url = urljoin(base, url)
            parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as exc:
        raise Refused(f"photo URL is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("photo URL is not an absolute http(s) URL")
    if len(url) > MAX_URL:
        raise Refused(f"photo URL is {len(url)} characters long (over {MAX_URL})")
    return url


def _text(name: str, value: Any, limit: int | None = None) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Refused(f"{name} is {type(value).__name__}, not text")
    value = value.replace("\x00", "")  # PostgreSQL's text cannot hold NUL
    return value[:limit] if limit else value


def check_post(post: PostData, base: str = "") -> tuple[PostData, list[tuple[str, str]]]:
    """The post as it can be stored, and its refused photos as (URL, reason); Refused when the
    post itself cannot be."""
    pid = post.network_post_id
    if not isinstance(pid, str) or not pid or "\x00" in pid:
        raise Refused("no usable id")
    if len(pid) > MAX_ID:
        raise Refused(f"id is {len(pid)} characters long (over {MAX_ID})")
    permalink = _text("permalink", post.permalink)
    if len(permalink) > MAX_URL:
        raise Refused(f"permalink is {len(permalink)} characters long (over {MAX_URL})")
    if not isinstance(post.tags, list):
        raise Refused(f"tags are {type(post.tags).__name__}, not a list")
    photos: list[str] = []
    refused: list[tuple[str, str]] = []
    for url in post.photo_urls:
        try:
            photos.append(photo_url(url, base))
        except Refused as exc:
            refused.append((url if isinstance(url, str) else repr(url), str(exc)))
    clean = replace(
        post,
        permalink=permalink,
        caption=_text("caption", post.caption, MAX_CAPTION),
        title=_text("title", post.title),
        price=_text("price", post.price),
        vendor=_text("vendor", post.vendor),
        product_type=_text("product type", post.product_type),
        tags=[t.replace("\x00", "") for t in post.tags if isinstance(t, str) and t.strip("\x00")],
        photo_urls=list(dict.fromkeys(photos)),
        refused_photos=refused,
    )
    return clean, refused
