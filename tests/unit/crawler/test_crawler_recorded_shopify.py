"""The Shopify spider on a product a real store sent (tests/data/recorded/shopify, see
tests/data/recorded/PROVENANCE.md): socks with a Color option, in the Admin API's form (tags as
one string, times with a -04:00 offset)."""

from __future__ import annotations

import json

from crawler.spiders.base import ShopTask
from crawler.spiders.shopify import ShopifySpider
from tests.support.common import REPO
from tests.support.recorded import answer, one_page, spider

DATA = REPO / "tests" / "data" / "recorded" / "shopify"


def test_shopify_product_with_a_colour_option_exact():
    product = json.loads((DATA / "uniVocity-shopify__ProductService_sample_json.json").read_text())
    task = ShopTask(1, "shopify", "socks", base_url="https://socks.test")
    # composed: the one product in a /products.json envelope (PROVENANCE.md)
    items, requests = answer(
        spider(ShopifySpider), "parse_products", {"products": [product]}, task, page=1
    )
    page = one_page(items)
    assert requests == [] and page.final and page.skipped == 0
    (post,) = page.posts
    assert (post.network_post_id, post.title, post.price, post.vendor, post.caption) == (
        "5664741327002",
        "Sock",
        "1.00",
        "cardano-integration",
        "",
    )
    assert post.posted_at == "2020-08-26T22:19:39+00:00"  # published 18:19:39-04:00
    assert post.permalink == "https://socks.test/products/sock"
    assert post.tags == ["colour:black", "colour:white"]  # the Color option's values; tags ""
    assert post.photo_urls == [
        "https://cdn.shopify.com/s/files/1/0462/5635/7530/products/"
        "Valour-Sport-3-pack-cotton-school-socks-white-roll-top-sock_400x_"
        "8f8363ff-e376-4025-a00b-382b4d6b4219.jpg?v=1598480380"
    ]
