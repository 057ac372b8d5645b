"""What shoppers see on cards and pages: titles, prices, sorting and the price filter, named
chips and titles, error pages, the offline API docs (real catalogue, SQLite and PostgreSQL)."""

from __future__ import annotations

import html
import re
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from catalog import crud
from catalog.db import make_engine, session_scope
from tests.support.web_helpers import (
    PUBLIC_GRID,
    _add_priced,
    grid_ids,
    make_app,
)


@pytest.fixture
def shop_site(db_url, settings_for):
    settings, _ = settings_for(db_url, "[web]\npage_size = 2\n")
    priced = _add_priced(settings)
    with TestClient(make_app(settings)) as client:
        yield client, priced


def _pages(client: TestClient, url: str) -> list[dict]:
    items: list[dict] = []
    while url:
        body = client.get(url).json()
        assert "detail" not in body, body
        items += body["items"]
        url = body["next"]
    return items


def _title(page: str) -> str:
    match = re.search(r"<title>(.*?)</title>", page, re.S)
    assert match
    return html.unescape(match.group(1))


def test_cards_show_title_price_shop_date_and_a_link_to_the_shop(shop_site) -> None:
    client, priced = shop_site
    page = client.get("/?sort=price_asc").text
    card = page.split(f'data-id="{priced.photos["tee"]}"')[1].split("</li>")[0]
    assert ">Basic tee</a>" in card  # Shopify's title
    assert "19.90\u00a0€" in card
    assert ">Linen House</a>" in card
    assert 'href="https://example.org/shopify/priced-tee"' in card and "View at the shop" in card
    dearest = client.get("/?sort=price_desc").text
    coat = dearest.split(f'data-id="{priced.photos["coat"]}"')[1].split("</li>")[0]
    assert ">Wool coat, warm</a>" in coat  # the caption's first line, its price taken out
    assert "4\u202f500\u00a0₽" in coat
    dated = client.get("/").text.split('<ul class="grid" id="grid">')[1].split("</li>")[0]
    assert re.search(r'<time datetime="2026-10-31">31 Oct 2026</time>', dated)
    item = next(i for i in _pages(client, "/api/v1/items") if i["id"] == priced.photos["coat"])
    assert (item["price_amount"], item["price_currency"]) == ("4500.00", "RUB")


def test_sort_by_price_pages_through_every_photo_once(shop_site) -> None:
    client, priced = shop_site
    p = priced.photos
    up = [i["id"] for i in _pages(client, "/api/v1/items?sort=price_asc")]
    # cheapest first, ties by photo id; photos without a price after them all
    assert up[:5] == [p["tee"], p["scarf"], p["shirt"], p["skirt"], p["coat"]]
    assert set(up[5:]) == {priced.seeded.photos[n] for n in PUBLIC_GRID}
    assert len(up) == len(set(up)) == 10
    down = [i["id"] for i in _pages(client, "/api/v1/items?sort=price_desc")]
    assert down[:5] == [p["coat"], p["skirt"], p["shirt"], p["scarf"], p["tee"]]
    assert len(down) == len(set(down)) == 10
    # the HTML pages follow the same order through their "More" links
    seen: list[int] = []
    url = "/?sort=price_desc"
    while url:
        text = client.get(url).text
        seen += [int(x) for x in re.findall(r'<li class="card" data-id="(\d+)"', text)]
        nxt = re.search(r'rel="next" class="next" href="([^"]+)"', text)
        url = html.unescape(nxt.group(1)) if nxt else ""
    assert seen == down


def test_price_filter_with_and_without_a_currency(shop_site) -> None:
    client, priced = shop_site
    p = priced.photos
    body = client.get("/api/v1/items?min_price=20&max_price=50&limit=50").json()
    # amounts as stored, whatever their currency: 30 GBP and 45 EUR are in, 4 500 RUB is out
    assert {i["id"] for i in body["items"]} == {p["scarf"], p["shirt"], p["skirt"]}
    assert body["total"] == 3
    body = client.get("/api/v1/items?max_price=50&currency=eur&limit=50").json()
    assert {i["id"] for i in body["items"]} == {p["tee"], p["shirt"], p["skirt"]}
    page = client.get("/?max_price=50&currency=EUR&sort=price_asc").text
    assert "Price: up to 50 EUR ×" in page
    assert grid_ids(page) == {p["tee"], p["shirt"]}  # page_size 2, cheapest first
    # the currency choice lists what the filtered view holds, with counts
    assert '<option value="EUR" selected>EUR (3)</option>' in page
    assert 'value="RUB">RUB (1)</option>' in page
    mixed = client.get("/?sort=price_asc").text
    assert 'id="mixed-currencies"' in mixed  # told that amounts are not converted
    assert 'id="mixed-currencies"' not in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("min_price=cheap", "min_price: &#39;cheap&#39; is not a price"),
        ("min_price=50&max_price=10", "min_price 50.00 is above max_price 10.00"),
        ("currency=euro", "is not an ISO 4217 code"),
        ("sort=cheapest", "unknown sort"),
        ("colour=mauve", "unknown colour"),
    ],
)
def test_bad_filter_values_are_named_with_a_way_back(shop_site, query: str, message: str) -> None:
    client, _ = shop_site
    r = client.get(f"/?{query}")
    assert r.status_code == 400 and message in r.text
    assert '<a href="/" id="clear-filters">Clear the filters</a>' in r.text
    assert _title(r.text).startswith("Check the filters")
    api = client.get(f"/api/v1/items?{query}")
    assert api.status_code == 400 and html.unescape(message) in api.json()["detail"]


def test_a_page_link_of_one_order_is_refused_in_another(shop_site) -> None:
    client, _ = shop_site
    newest = client.get("/api/v1/items").json()["next_cursor"]
    by_price = client.get("/api/v1/items?sort=price_asc").json()["next_cursor"]
    assert client.get(f"/api/v1/items?sort=price_asc&after={newest}").status_code == 400
    assert client.get(f"/api/v1/items?after={by_price}").status_code == 400
    r = client.get(f"/?after={by_price}")
    assert r.status_code == 400 and "this page link is damaged" in r.text


def test_titles_and_chips_name_what_is_shown(shop_site) -> None:
    client, priced = shop_site
    lina = priced.seeded.shops["lina"]
    assert _title(client.get("/").text) == "Vitrina — clothing from small shops"
    assert _title(client.get("/?category=Dress&colour=red").text) == "Dresses · red — Vitrina"
    page = client.get(f"/?shop={lina}&category=Pants").text
    assert _title(page) == "Pants · Atelier Lina — Vitrina"
    assert "Shop: Atelier Lina ×" in page and "Category: Pants ×" in page
    assert f"shop {lina}" not in page
    shop = client.get(f"/shops/{priced.linen}?colour=white").text
    assert _title(shop) == "Linen House · white — Vitrina"
    photo = client.get(f"/photos/{priced.photos['tee']}").text
    assert _title(photo) == "Basic tee · Linen House — Vitrina"
    assert '<p class="price big" id="price">19.90\u00a0€</p>' in photo
    assert 'id="view-at-shop" href="https://example.org/shopify/priced-tee"' in photo


def test_empty_and_missing_pages_offer_a_way_back(shop_site) -> None:
    client, priced = shop_site
    empty = client.get("/?colour=purple&category=Hat")
    assert empty.status_code == 200 and "No photos match these filters." in empty.text
    assert '<a class="button" href="/">Clear all filters</a>' in empty.text
    on_shop = client.get(f"/shops/{priced.linen}?colour=red").text
    assert f'<a class="button" href="/shops/{priced.linen}">Clear all filters</a>' in on_shop
    missing = client.get("/photos/999999")
    assert missing.status_code == 404
    assert "This photo is not in the catalogue" in missing.text
    assert 'href="/">Back to the catalogue</a>' in missing.text
    assert _title(missing.text) == "Not found (404) — Vitrina"


def test_api_docs_are_served_from_this_site(shop_site) -> None:
    client, _ = shop_site
    r = client.get("/docs", follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == "/api/v1/docs"
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page.text)  # nothing remote
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "http" not in csp
    for asset in re.findall(r'(?:src|href)="(/static[^"]+)"', page.text):
        got = client.get(asset)
        assert got.status_code == 200 and len(got.content) > 0, asset
    assert len(client.get("/static-docs/swagger-ui-bundle.js").content) > 500_000
    spec = client.get("/api/v1/openapi.json").json()
    names = {p["name"] for p in spec["paths"]["/api/v1/items"]["get"]["parameters"]}
    assert {"sort", "min_price", "max_price", "currency"} <= names


def test_price_of_a_post_written_by_the_crawler_path(db_url, settings_for) -> None:
    """crud.upsert_posts (what the crawler's pipeline calls) stores the parsed price too."""
    settings, _ = settings_for(db_url)
    engine = make_engine(settings.database_url)
    with session_scope(engine) as s:
        shop = crud.upsert_shop(s, "shopify", "denim", display_name="Denim Dept").id
        crud.upsert_posts(
            s,
            shop,
            "shopify",
            [
                {"network_post_id": "a", "price": "120.00", "caption": "Jeans"},
                {"network_post_id": "b", "caption": "Jacket ₺350"},
                {"network_post_id": "c", "caption": "Call us"},
            ],
        )
    from sqlalchemy import text

    with engine.connect() as conn:
        rows = dict(
            (k, (None if a is None else Decimal(str(a)), c))
            for k, a, c in conn.execute(
                text("SELECT network_post_id, price_amount, price_currency FROM posts")
            )
        )
    engine.dispose()
    assert rows == {
        "a": (Decimal("120"), ""),
        "b": (Decimal("350"), "TRY"),
        "c": (None, ""),
    }
