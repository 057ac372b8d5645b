"""Recorded API answers handed to the spiders' own callbacks, as the Scrapy engine hands them."""

from __future__ import annotations

import json
from typing import Any

from scrapy import Request
from scrapy.http import TextResponse
from scrapy.utils.test import get_crawler

from catalog.config import Settings
from crawler.items import PageItem, ShopUpdate
from crawler.report import CrawlReport
from crawler.spiders.base import ShopSpider, ShopTask


def spider(
    cls: type[ShopSpider], db_url: str = "sqlite://", max_posts: int = 1000, **kw: Any
) -> ShopSpider:
    settings = Settings()
    settings.networks.instagram.access_token = "recorded-token"
    settings.networks.instagram.ig_user_id = "17841406338772941"
    crawler = get_crawler(
        cls,
        {
            "VITRINA_SETTINGS": settings,
            "VITRINA_MAX_POSTS_PER_SHOP": max_posts,
            "VITRINA_DATABASE_URL": db_url,
            "RETRY_TIMES": 0,
        },
    )
    return cls.from_crawler(crawler, report=CrawlReport(), **kw)


def answer(
    sp: ShopSpider,
    callback: str,
    body: Any,
    task: ShopTask,
    *,
    url: str = "https://api.test/x",
    status: int = 200,
    headers: dict[str, Any] | None = None,
    **meta: Any,
) -> tuple[list[PageItem], list[Request]]:
    """Hand one recorded answer to a spider callback; what it yields, pages and requests."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = Request(url, meta={"task": task, "seq": 0, **meta})
    response = TextResponse(url, status=status, body=data, headers=headers, request=request)
    out = list(getattr(sp, callback)(response))
    sp.yielded_updates = [o for o in out if isinstance(o, ShopUpdate)]  # type: ignore[attr-defined]
    return [o for o in out if isinstance(o, PageItem)], [o for o in out if isinstance(o, Request)]


def one_page(items: list[PageItem]) -> PageItem:
    assert len(items) == 1, items
    return items[0]
