"""Jinja environment and the URL helpers shared by templates and the JSON API."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi.templating import Jinja2Templates

from catalog.prices import format_price
from catalog.queries import Filters, Item
from catalog.taxonomy import COLOUR_SWATCHES, NETWORKS

TEMPLATES_DIR = Path(__file__).parent / "templates"


def safe_url(url: str | None) -> str:
    """Links taken from crawled data: only http(s), never javascript: or data:."""
    if not url:
        return ""
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return ""
    return url.strip() if scheme in ("http", "https") else ""


def _suffix(path: str, default: str) -> str:
    # Plain string work: this runs twice per grid item on every page.
    name = path.rpartition("/")[2]
    stem, dot, ext = name.rpartition(".")
    ext = ext.lower()
    return f".{ext}" if dot and stem and ext.isalnum() and len(ext) <= 5 else default


def image_url(item: Item) -> str:
    # The content hash in the name: a new photo is a new URL (see web.routers.media on caching).
    return f"/media/full/{item.id}/{item.sha256[:16]}{_suffix(item.stored_path, '.jpg')}"


def thumb_url(item: Item) -> str:
    if not item.thumb_path:
        return image_url(item)
    return f"/media/thumb/{item.id}/{item.sha256[:16]}{_suffix(item.thumb_path, '.webp')}"


def filter_url(base: str, filters: Filters, **extra: str) -> str:
    pairs = filters.to_params() + [(k, v) for k, v in extra.items() if v]
    return f"{base}?{urlencode(pairs)}" if pairs else base


def toggle_url(base: str, filters: Filters, facet: str, value: Any) -> str:
    if facet == "shop":
        value = int(value)
    return filter_url(base, filters.toggled(facet, value))


def price_range(filters: Filters) -> str:
    """The price filter as a chip says it: "10–50 EUR", "from 10", "up to 50 $"."""
    cur = filters.currency
    low = format_price(filters.price_min, "") if filters.price_min is not None else ""
    high = format_price(filters.price_max, "") if filters.price_max is not None else ""
    if low and high:
        text = f"{low}–{high}"
    else:
        text = f"from {low}" if low else f"up to {high}" if high else ""
    return " ".join(x for x in (text, cur) if x) or "any"


def date(value: datetime | None) -> str:
    return value.strftime("%-d %b %Y") if value else "date unknown"


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    env = templates.env
    env.auto_reload = False  # templates ship with the code: no stat() per render
    env.filters.update(safe_url=safe_url, date=date)
    env.globals.update(
        image_url=image_url,
        thumb_url=thumb_url,
        filter_url=filter_url,
        toggle_url=toggle_url,
        price_range=price_range,
        swatches=COLOUR_SWATCHES,
        networks=NETWORKS,
    )
    return templates
