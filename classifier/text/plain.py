"""A post's words as plain text: HTML to text, links and mentions dropped, hashtags split."""

from __future__ import annotations

import re

import html_text
import lxml.html
from lxml import etree

from classifier.text.lexicon import Lexicon, normalise

_LOOKS_HTML = re.compile(r"<[a-zA-Z/!][^>]*>|&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")
_URL = re.compile(r"(?:https?://|www\.)\S+|\b[\w.-]+\.(?:com|net|org|shop|store|ru|ua|de)\b\S*")
_MENTION = re.compile(r"(?<![\w@])@[\w.]+(?:@[\w.-]+)?")
HASHTAG = re.compile(r"(?<![\w#])#([^\W_][\w]*)")
_CAMEL = re.compile(r"(?<=[a-zа-яё])(?=[A-ZА-ЯЁ])")


def html_to_text(text: str) -> str:
    """Text of a caption that may be HTML (Mastodon `content`, Shopify `body_html`).

    Mastodon splits a link's text into `<span class="invisible">` parts that readers never see;
    those are dropped with the link itself, so "https://shop.example/black-dress" is not read
    as words. Entities (`&quot;`, `&amp;`, `&nbsp;`) become characters."""
    if not _LOOKS_HTML.search(text):
        return text
    try:
        tree = lxml.html.fragment_fromstring(text, create_parent="div")
    except (etree.ParserError, ValueError):
        return html_text.extract_text(text)
    for el in tree.xpath(
        '//*[contains(concat(" ", normalize-space(@class), " "), " invisible ")]'
        ' | //a[not(contains(@class, "hashtag")) and not(contains(@class, "mention"))'
        ' and starts-with(normalize-space(string(.)), "http")]'
    ):
        el.drop_tree()
    return html_text.extract_text(tree, guess_layout=True)


def strip_links(text: str) -> str:
    return _MENTION.sub(" ", _URL.sub(" ", text))


def split_hashtags(text: str) -> tuple[str, list[str]]:
    """(the text without its hashtags, the hashtags as written without '#')."""
    tags = HASHTAG.findall(text)
    return HASHTAG.sub(" ", text), tags


def segment(tag: str, lexicon: Lexicon) -> tuple[list[str], bool] | None:
    """Split a hashtag into the lexicon's words: ("blackdress") -> ["black", "dress"].

    Returns (words, whole) where `whole` is False when an unknown word had to be left at the
    start ("#summerdress" with "summer" unknown); None when the tag cannot be read as words.
    CamelCase splits first ("#BlackDress"). Dynamic programming over the listed surface forms
    (and their plural in "s"), fewest words first. Cached: a shop uses its hashtags again."""
    if tag in lexicon.segments:
        return lexicon.segments[tag]
    found = _segment(tag, lexicon)
    if len(lexicon.segments) < 100_000:
        lexicon.segments[tag] = found
    return found


def _segment(tag: str, lexicon: Lexicon) -> tuple[list[str], bool] | None:
    out: list[str] = []
    whole = True
    for part in _CAMEL.split(tag):
        body = normalise(part).replace(" ", "")
        if not body:
            continue
        words = _cover(body, lexicon)
        if words is None:
            # An unknown word is allowed only in front of a known one of 4+ letters.
            for k in range(3, len(body) - 3):
                rest = _cover(body[k:], lexicon)
                if rest is not None and len(body) - k >= 4:
                    words, whole = [body[:k], *rest], False
                    break
        if words is None:
            return None
        out.extend(words)
    return (out, whole) if out else None


def _known(piece: str, lexicon: Lexicon) -> bool:
    s = lexicon.surfaces
    return (len(piece) > 1 or piece == "t") and (
        piece in s or (len(piece) > 3 and piece[-1] == "s" and piece[:-1] in s)
    )


def _cover(body: str, lexicon: Lexicon) -> list[str] | None:
    n = len(body)
    best: list[list[str] | None] = [None] * (n + 1)
    best[0] = []
    longest = lexicon.max_surface + 1
    for i in range(1, n + 1):
        for j in range(max(0, i - longest), i):
            prev = best[j]
            if prev is None:
                continue
            piece = body[j:i]
            if _known(piece, lexicon) and (best[i] is None or len(prev) + 1 < len(best[i])):
                best[i] = [*prev, piece]
    return best[n]
