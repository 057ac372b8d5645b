"""classifier.text.plain and .match's tokens: a post's words as plain text before the lexicon
reads them (the shipped lexicon, no stand-in)."""

from __future__ import annotations

import pytest

from classifier.text import load_lexicon
from classifier.text.match import tokens
from classifier.text.plain import html_to_text, segment, split_hashtags, strip_links


@pytest.fixture(scope="module")
def lexicon():  # type: ignore[no-untyped-def]
    return load_lexicon()


def test_html_becomes_text_and_link_words_are_not_read() -> None:
    mastodon = (
        '<p>Black &amp; white <a href="https://shop.example/red-dress">'
        '<span class="invisible">https://</span><span>shop.example/red-dress</span></a> dress</p>'
    )
    assert html_to_text(mastodon) == "Black & white dress"  # no "red" from the link
    assert html_to_text("plain 3 < 5 text") == "plain 3 < 5 text"  # not HTML: left alone


def test_links_and_mentions_are_dropped() -> None:
    text = strip_links("Linen dress www.shop.example/d @lina@mastodon.social and lina.shop ok")
    assert text.split() == ["Linen", "dress", "and", "ok"]


def test_hashtags_come_out_as_written() -> None:
    text, tags = split_hashtags("New #BlackDress in! #linen_2 and a#not")
    assert tags == ["BlackDress", "linen_2"] and "#" not in text.replace("a#not", "")


def test_hashtags_split_into_the_lexicons_words(lexicon) -> None:  # type: ignore[no-untyped-def]
    assert segment("blackdress", lexicon) == (["black", "dress"], True)
    assert segment("BlackDress", lexicon) == (["black", "dress"], True)
    # an unknown word left at the start: read, but not whole
    assert segment("zorkdress", lexicon) == (["zork", "dress"], False)
    assert segment("qqqq", lexicon) is None


def test_tokens_are_normalised_words_numbers_and_signs() -> None:
    assert tokens("Бежевая T-Shirt, 100% cotton") == [
        "бежевая", "t", "shirt", ",", "100", "%", "cotton",
    ]  # fmt: skip
