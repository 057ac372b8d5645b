"""Shopify storefronts: /products.json?limit=250&page=N. The first crawl pages through the
catalogue; later crawls ask for products above the newest stored id (`since_id`) and still
filter by id, in case a store ignores the parameter."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from price_parser import Price
from scrapy.http import Response

from crawler.items import PostData
from crawler.spiders.base import Malformed, ShopSpider, ShopTask, number_key
from crawler.spiders.text import html_to_text, utc_iso

logger = logging.getLogger(__name__)

# The variants' colour option as stores name it: English, German, French, Italian, Portuguese,
# Spanish, Polish, Turkish, Russian, Ukrainian (the shops Vitrina follows sell in all of them).
COLOUR_OPTION = re.compile(
    r"^(colou?rs?|farbe|couleur|colore|cor|kolor|renk|цвет|колір)$", re.IGNORECASE
)


def colours(product: dict[str, Any]) -> list[str]:
    """Values of the variants' colour option (whichever optionN the store named "Colour")."""
    for i, option in enumerate(product.get("options") or [], start=1):
        if COLOUR_OPTION.match(str(option.get("name", "")).strip()):
            values = {v.get(f"option{i}") for v in product.get("variants") or []}
            return sorted(v for v in values if v)
    return []


def amount(value: Any) -> Decimal | None:
    """A variant's price as a number, or None when it states none."""
    if value is None or isinstance(value, bool) or not str(value).strip():
        return None
    return Price.fromstring(str(value)).amount


class ShopifySpider(ShopSpider):
    name = "shopify"
    network = "shopify"

    def first_requests(self, task: ShopTask) -> Iterator[Any]:
        page = int(task.cursor) if task.cursor else 1
        if not task.cursor and not task.named:  # once, until the shop has a name
            yield self.meta_request(task)
        yield self.products_request(task, page, task.seq)

    def meta_request(self, task: ShopTask) -> Any:
        """/meta.json names the store ("Denim Dept"): the shop's display name, so pages never
        fall back to its handle. Optional: a failure here never stops the shop's crawl."""
        url = f"{task.base_url.rstrip('/')}/meta.json"
        return self.api_request(url, task, self.parse_meta).replace(errback=self.meta_failed)

    def parse_meta(self, response: Response) -> Iterator[Any]:
        task: ShopTask = response.meta["task"]
        name = None
        if response.status == 200:
            try:
                body = json.loads(response.body)
                name = body.get("name") if isinstance(body, dict) else None
            except (ValueError, UnicodeDecodeError):
                name = None
        if isinstance(name, str) and name.strip():
            # an item: spiders write nothing themselves, the catalogue pipeline stores it
            yield self.remember_account(task, task.account_id, display_name=" ".join(name.split()))
        else:
            logger.info("%s: no store name at %s (%s)", task.key, response.url, response.status)

    def meta_failed(self, failure: Any) -> None:
        logger.info("no store name: %s: %s", failure.request.url, failure.getErrorMessage())

    def products_request(self, task: ShopTask, page: int, seq: int) -> Any:
        params: dict[str, Any] = {"limit": self.cfg.page_size, "page": page}
        if task.stop_key and task.watermark_id:
            params["since_id"] = task.watermark_id
        url = f"{task.base_url.rstrip('/')}/products.json?" + urlencode(params)
        return self.api_request(url, task, self.parse_products, seq=seq, page=page)

    def parse_products(self, response: Response) -> Iterator[Any]:
        task: ShopTask = response.meta["task"]
        seq, page = response.meta["seq"], response.meta["page"]
        if response.status == 404:
            self.deactivate(task, f"store not found: {response.url} (HTTP 404)")
            yield from self.shop_updates()
            return
        if response.status in (401, 402, 403, 423, 430):
            self.fail(task, f"store refused the crawler (HTTP {response.status}) at {response.url}")
            return
        if response.status == 400 and b"25000" in response.body:
            yield from self._end(task, seq)  # Shopify's paging cap: nothing more to ask for
            return
        if response.status != 200:
            self.fail(task, self.give_up_message(response))
            return
        try:
            body = self.json_of(response)
            products = body["products"]
            posts = self.parse_each(task, products, lambda p: self.post(p, task))
        except (Malformed, KeyError, TypeError, AttributeError) as exc:
            yield from self.retry_malformed(response, f"malformed page: {exc}")
            return
        full = len(products) >= self.cfg.page_size
        item, more = self.page(
            task, seq, posts, str(page + 1) if full else None, ordered=False, base=response.url
        )
        if more:
            yield self.products_request(task, page + 1, seq + 1)
        yield item

    def _end(self, task: ShopTask, seq: int) -> Iterator[Any]:
        item, _ = self.page(task, seq, [], None)
        yield item

    def post(self, p: dict[str, Any], task: ShopTask) -> PostData:
        pid = str(p["id"])
        # "19,99", "1.299,00", "€25": price-parser reads the amount whatever the locale.
        prices = sorted(
            {a for v in p.get("variants") or [] if (a := amount(v.get("price"))) is not None}
        )
        cols = colours(p)
        tags = p.get("tags") or []
        if isinstance(tags, str):  # the Admin API's comma-separated form
            tags = [t.strip() for t in tags.split(",") if t.strip()]
        tags = list(tags) + [f"colour:{c}" for c in cols]
        return PostData(
            network_post_id=pid,
            key=number_key(pid),
            permalink=f"{task.base_url.rstrip('/')}/products/{p.get('handle', pid)}",
            caption=html_to_text(p.get("body_html") or ""),
            title=p.get("title", ""),
            price=str(prices[0]) if prices else "",
            vendor=(p.get("vendor") or "").strip(),
            product_type=p.get("product_type", ""),
            tags=tags,
            posted_at=utc_iso(p.get("published_at") or p.get("created_at") or ""),
            photo_urls=[
                i["src"]
                for i in sorted(p.get("images") or [], key=lambda i: i.get("position", 0))
                if i.get("src")
            ],
        )
