"""The lexicon on real shop posts: Shopify products (title, type, tags, colour options, body_html
with HTML entities) and Instagram captions (hashtags run together, several products in one
outfit, jewellery), copied with their provenance into tests/text_real_posts.json. Posts are
turned into words the way the crawler does (crawler.spiders.text.html_to_text for body_html)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from catalog.evidence import PostText
from catalog.taxonomy import LABELS
from classifier.text import extract
from crawler.spiders.text import html_to_text

FIXTURE = Path(__file__).with_name("text_real_posts.json")
DATA = json.loads(FIXTURE.read_text(encoding="utf-8"))
POSTS: list[dict[str, Any]] = DATA["posts"]
CONFIDENT = 0.8  # `vitrina predict-text` decides on it; the fusion's conflict rule needs 1.0


def words(post: dict[str, Any]) -> PostText:
    caption = html_to_text(post["body_html"]) if "body_html" in post else post.get("caption", "")
    return PostText(
        network=post["network"],
        title=post.get("title", ""),
        product_type=post.get("product_type", ""),
        tags=tuple(post.get("tags", ())),
        options=tuple(post.get("options", ())),
        caption=caption,
    )


def test_every_post_says_where_it_comes_from() -> None:
    for post in POSTS:
        src = DATA["sources"][post["source"]]
        assert src["repo"] and src["path"] and src["what"], post["id"]
        assert isinstance(post["real"], bool) and post["lang"], post["id"]
        assert set(post["expect"]) <= {"category", "colour"}, post["id"]
        for head, want in post["expect"].items():
            assert want in (None, "ambiguous", "not-confident", *LABELS[head]), (post["id"], want)
    assert sum(p["real"] for p in POSTS) >= 15  # most are real; the rest are marked as samples


def test_html_entities_are_decoded_before_reading() -> None:
    balan = next(p for p in POSTS if p["id"] == "localyyz-balan")
    text = words(balan).caption
    assert "Baby & Company" in text and "&amp;" not in text and "<" not in text


@pytest.mark.parametrize("post", POSTS, ids=[f"{p['lang']}-{p['id']}" for p in POSTS])
def test_real_posts(post: dict[str, Any]) -> None:
    ev = extract(words(post))
    for head, want in post["expect"].items():
        best = ev.best(head)
        label = best[0] if best and best[1] >= 0.5 else None
        if want == "ambiguous":
            assert head in ev.ambiguous, (head, best)
        elif want == "not-confident":
            assert best is None or best[1] < CONFIDENT, (head, best)
        else:
            assert head not in ev.ambiguous and label == want, (head, best, ev.ambiguous)
