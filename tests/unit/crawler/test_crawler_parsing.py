"""Spider parsing of the cases the recordings do not show: colour options in other languages,
prices in other locales, a shop's own threads, ids beginning with 0, times with an offset."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from scrapy.utils.test import get_crawler
from sqlmodel import Session, select

from catalog import crud
from catalog.db import make_engine, session_scope
from catalog.models import Post, Shop
from crawler.items import PageItem, PostData
from crawler.pipelines import CatalogPipeline
from crawler.run import _task
from crawler.spiders.base import ShopTask, number_key
from crawler.spiders.mastodon import MastodonSpider
from crawler.spiders.shopify import ShopifySpider
from crawler.spiders.text import html_to_text
from tests.support.recorded import answer, one_page, spider


def product(option: str, values: list[str], prices: list[str]) -> dict[str, Any]:
    return {
        "id": 7,
        "title": "Dress",
        "handle": "dress",
        "options": [{"name": "Size"}, {"name": option}],
        "variants": [
            {"option1": "M", "option2": v, "price": p} for v, p in zip(values, prices, strict=True)
        ],
        "images": [{"src": "https://cdn.shop.test/d.jpg", "position": 1}],
        "published_at": "2024-05-01T10:00:00-04:00",
    }


@pytest.mark.parametrize(
    "option",
    ["Colour", "color", "Цвет", "Колір", "Colore", "Cor", "Kolor", "Renk", "Couleur", "FARBE"],
)
def test_shopify_colour_option_in_each_language_becomes_colour_tags(option: str):
    task = ShopTask(1, "shopify", "s", base_url="https://shop.test")
    body = {"products": [product(option, ["Rot", "Blau"], ["19,99", "24,50"])]}
    items, _ = answer(spider(ShopifySpider), "parse_products", body, task, page=1)
    post = one_page(items).posts[0]
    assert post.tags == ["colour:Blau", "colour:Rot"]
    assert post.price == "19.99"  # a comma decimal read as a number, the lowest of the variants
    assert post.posted_at == "2024-05-01T14:00:00+00:00"


def test_shopify_prices_in_other_forms():
    task = ShopTask(1, "shopify", "s", base_url="https://shop.test")
    body = {"products": [product("Size", ["a", "b", "c"], ["1.299,00", "€ 1.199,50", ""])]}
    items, _ = answer(spider(ShopifySpider), "parse_products", body, task, page=1)
    post = one_page(items).posts[0]
    assert post.price == "1199.50" and post.tags == []


def test_html_to_text_breaks_mentions_hashtags_and_scripts():
    html = (
        '<p>Hi <span class="h-card"><a href="https://m.test/@bob" class="u-url mention">'
        '@<span>bob</span></a></span>, new <a href="https://m.test/tags/dress" '
        'class="mention hashtag" rel="tag">#<span>dress</span></a><br>size M<br />'
        "&quot;linen&quot; &amp; silk</p><p>second&nbsp;paragraph<script>x()</script></p>"
    )
    assert html_to_text(html) == ('Hi @bob, new #dress\nsize M\n"linen" & silk\n\nsecond paragraph')
    assert html_to_text("") == "" and html_to_text("plain &amp; simple") == "plain & simple"


def status(sid: str, **kw: Any) -> dict[str, Any]:
    return {
        "id": sid,
        "created_at": "2024-01-01T00:00:00.000Z",
        "url": f"https://m.test/@shop/{sid}",
        "content": f"<p>post {sid}</p>",
        "account": {"id": "42"},
        "media_attachments": [{"type": "image", "url": f"https://m.test/{sid}.jpg"}],
        **kw,
    }


def test_mastodon_keeps_the_shops_own_threads_not_replies_to_others():
    task = ShopTask(1, "mastodon", "shop", base_url="https://m.test", account_id="42")
    statuses = [
        status("103", in_reply_to_id="102", in_reply_to_account_id="42"),  # its own thread
        status("102", in_reply_to_id="90", in_reply_to_account_id="7"),  # a reply to someone
        status("101", reblog={"id": "5"}),
        status("100"),
    ]
    items, _ = answer(spider(MastodonSpider), "parse_statuses", statuses, task)
    assert [p.network_post_id for p in one_page(items).posts] == ["103", "100"]


def test_since_id_is_the_stored_id_even_when_it_begins_with_0(sqlite_url: str):
    ulid = "01HZX3Q8M4W7RFKD9A0B2C3D4E"  # GoToSocial's ids are ULIDs
    engine = make_engine(sqlite_url)
    with session_scope(engine) as s:
        shop_id = crud.upsert_shop(s, "mastodon", "gts", base_url="https://gts.test").id
        shop = s.get(Shop, shop_id)
        assert shop is not None
        shop.watermark, shop.account_id = ulid, "01ACCOUNT"
        shop.crawl_state = {"watermark_key": number_key(ulid)}
        s.add(shop)
    with Session(engine) as s:
        shop = s.exec(select(Shop).where(Shop.id == shop_id)).one()
        task = _task(shop)
    engine.dispose()
    request = spider(MastodonSpider).statuses_request(task)
    assert parse_qs(urlsplit(request.url).query)["since_id"] == [ulid]


def test_a_time_with_an_offset_is_stored_in_utc(db_url: str, tmp_path):  # type: ignore[no-untyped-def]
    engine = make_engine(db_url)
    with session_scope(engine) as s:
        shop_id = crud.upsert_shop(s, "shopify", "annies", base_url="https://a.test").id
    crawler = get_crawler(
        settings_dict={"VITRINA_DATABASE_URL": db_url, "VITRINA_NEAR_DUPLICATE_DISTANCE": 6}
    )
    pipeline = CatalogPipeline(crawler)
    post = PostData(
        "7184716955843", number_key("7184716955843"), posted_at="2022-03-08T21:09:19+01:00"
    )
    page = PageItem(
        shop_id,
        "shopify:annies",
        "shopify",
        0,
        [post],
        None,
        True,
        top={"id": post.network_post_id, "key": post.key, "at": post.posted_at},
    )
    pipeline.process_item(page)
    pipeline.close_spider()
    with Session(engine) as s:
        stored = s.exec(select(Post)).one().posted_at
        shop = s.get(Shop, shop_id)
        assert shop is not None and shop.watermark_at is not None
        watermark_at = shop.watermark_at
    engine.dispose()
    assert stored is not None
    want = datetime(2022, 3, 8, 20, 9, 19, tzinfo=UTC)
    # SQLite gives the stored wall clock back without its zone: it must be the UTC one
    assert (stored if stored.tzinfo else stored.replace(tzinfo=UTC)) == want
    assert (watermark_at if watermark_at.tzinfo else watermark_at.replace(tzinfo=UTC)) == want


def test_videos_do_not_count_against_the_first_crawl_bound():
    sp = spider(MastodonSpider, max_posts=2)
    video = [{"type": "video", "url": "https://m.test/v.mp4"}]
    statuses = [status(str(200 - i), media_attachments=video) for i in range(3)]
    statuses += [status(str(100 - i)) for i in range(3)]
    task = ShopTask(1, "mastodon", "shop", base_url="https://m.test", account_id="42")
    items, requests = answer(
        sp, "parse_statuses", statuses, task,
        headers={"Link": '<https://m.test/next>; rel="next"'},
    )  # fmt: skip
    page = one_page(items)
    assert [p.network_post_id for p in page.posts] == ["100", "99"]  # two photo posts
    assert page.skipped == 3 and page.final and requests == []  # bound reached: no next page
    assert page.top is not None and page.top["id"] == "200"  # the watermark passes the videos


def test_a_graph_400_that_was_not_retried_does_not_say_after_retries():
    from crawler.spiders.instagram import InstagramSpider

    sp = spider(InstagramSpider)
    task = ShopTask(1, "instagram", "shop", account_id="x")
    body = {"error": {"message": "Unsupported get request.", "code": 2500, "type": "X"}}
    answer(sp, "parse_media", body, task, status=400)
    (message,) = sp.report.shops["instagram:shop"].errors
    assert message == "HTTP 400 from https://api.test/x: Unsupported get request."
