"""What the spiders do to the words and times the APIs give: HTML to plain text (Mastodon's
`content`, Shopify's `body_html`), Bluesky's shortened links back to their targets, and every
timestamp to one UTC form."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import html_text
import lxml.etree
import lxml.html


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment: entities decoded, paragraphs and list items on lines of
    their own, `<br>` a line break, scripts and styles dropped (Zyte's html-text). A link's text
    is kept in one piece: Mastodon splits a URL across `<span class="invisible">` parts, which
    html-text would otherwise join with spaces (`https:// youtu.be/…`)."""
    html = html.replace("\x00", "")  # lxml refuses NUL, and no text needs one
    if not html.strip():
        return ""
    try:
        tree = lxml.html.fragment_fromstring(html, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return html.strip()  # nothing an HTML parser can read: keep what was sent
    for a in tree.iter("a"):
        words = a.text_content()
        for child in list(a):
            a.remove(child)
        a.text = words
    text = html_text.extract_text(tree, guess_layout=True)
    return "\n".join(line.strip() for line in text.replace("\xa0", " ").splitlines()).strip()


def expand_links(text: str, facets: Any) -> str:
    """Bluesky shows long links shortened in a post's text (`youtu.be/E1oZhEIrer4?...`) and
    keeps the whole URL in a link facet over those bytes: put the URL back. A facet whose text
    is not a shortening of its URL (a link on other words) is left as written."""
    if not text or not isinstance(facets, list):
        return text
    raw = text.encode("utf-8")
    spans: list[tuple[int, int, str]] = []
    for facet in facets:
        if not isinstance(facet, dict):
            continue
        index = facet.get("index") or {}
        start, end = index.get("byteStart"), index.get("byteEnd")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(raw)):
            continue
        for feature in facet.get("features") or []:
            uri = feature.get("uri") if isinstance(feature, dict) else None
            if str(feature.get("$type", "")).endswith("#link") and isinstance(uri, str):
                shown = raw[start:end].decode("utf-8", "replace").removesuffix("...").rstrip("…")
                bare = uri.split("://", 1)[-1]
                if shown and (uri.startswith(shown) or bare.startswith(shown)):
                    spans.append((start, end, uri))
                break
    for start, end, uri in sorted(spans, reverse=True):  # from the end: offsets stay valid
        raw = raw[:start] + uri.encode("utf-8") + raw[end:]
    return raw.decode("utf-8", "replace")


def utc_iso(timestamp: Any) -> str:
    """An API timestamp (`…Z`, `…+0000`, `…+01:00`, no offset = UTC) as ISO 8601 in UTC; ""
    when there is none; ValueError when it is something else (a number, an object)."""
    if timestamp is None or timestamp == "":
        return ""
    dt = parse_time(timestamp)
    if dt is None:
        raise ValueError(f"time {str(timestamp)[:60]!r} is not an ISO 8601 time")
    return dt.isoformat()


def parse_time(value: Any) -> datetime | None:
    """An aware UTC datetime from an ISO 8601 string, or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    v = value.strip()
    if v.endswith(("Z", "z")):
        v = v[:-1] + "+00:00"
    if len(v) > 5 and v[-5] in "+-" and v[-4:].isdigit() and v[-3] != ":":
        v = v[:-2] + ":" + v[-2:]  # Graph API's +0000
    try:
        dt = datetime.fromisoformat(v)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)
