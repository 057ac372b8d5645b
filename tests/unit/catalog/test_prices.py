"""catalog.prices: the price a post states, as an amount and an ISO 4217 currency."""

from __future__ import annotations

from decimal import Decimal

import pytest

from catalog.prices import find_price, format_price, parse_price, post_price, price_columns


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("4 500 ₽", "4500", "RUB"),
        ("$45", "45", "USD"),
        ("45€", "45", "EUR"),
        ("1.299,00 zł", "1299.00", "PLN"),
        ("£30", "30", "GBP"),
        ("₴1200", "1200", "UAH"),
        ("₺350", "350", "TRY"),
        ("1,299.00 USD", "1299", "USD"),
        ("4\u00a0500\u00a0руб.", "4500", "RUB"),
        ("€ 45,50", "45.50", "EUR"),
    ],
)
def test_each_written_format(text: str, amount: str, currency: str) -> None:
    expected = (Decimal(amount), currency)
    found = find_price(text)
    assert found is not None and (found.amount, found.currency) == expected
    parsed = parse_price(text)
    assert parsed is not None and (parsed.amount, parsed.currency) == expected


@pytest.mark.parametrize(
    ("caption", "amount", "currency"),
    [
        ("Red linen dress\nSizes S-L\nPrice: 4 500 ₽ #linen", "4500", "RUB"),
        ("Size 42, only $45!", "45", "USD"),  # the size is not the price
        ("Drop 2026-11-01: wool coat €180", "180", "EUR"),  # nor the date
        ("Платье 2 900 Руб, доставка", "2900", "RUB"),
        ("Kazak 350 TL", "350", "TRY"),
    ],
)
def test_a_caption_price_is_the_number_beside_a_currency(
    caption: str, amount: str, currency: str
) -> None:
    found = find_price(caption)
    assert found is not None and (found.amount, found.currency) == (Decimal(amount), currency)


@pytest.mark.parametrize(
    "junk", ["call us", "", "19,99", "DM for price", "size 8, try it on", "2 for 3", "0 €"]
)
def test_no_price_in_junk(junk: str) -> None:
    assert find_price(junk) is None
    assert price_columns("", junk) == {"price_amount": None, "price_currency": ""}


def test_a_bare_price_field_has_an_amount_but_no_currency() -> None:
    assert parse_price("19,99") is not None and parse_price("19,99").currency == ""
    assert parse_price("call us") is None and parse_price("") is None


def test_shopify_price_takes_the_currency_its_description_names() -> None:
    # products.json carries "45.00" and no currency
    assert post_price("45.00", "Linen shirt. 45 € incl. VAT") == parse_price("45 €")
    found = post_price("45.00", "Linen shirt")
    assert found is not None and (found.amount, found.currency) == (Decimal("45.00"), "")
    found = post_price("45.00", "Linen shirt", default_currency="EUR")
    assert found is not None and found.currency == "EUR"
    # the price field wins over a number in the caption
    found = post_price("1299.00", "was 1 500 ₴")
    assert found is not None and (found.amount, found.currency) == (Decimal("1299.00"), "UAH")


def test_format_for_shoppers() -> None:
    assert format_price(Decimal("4500"), "RUB") == "4\u202f500\u00a0₽"
    assert format_price(Decimal("45.00"), "USD") == "$45"
    assert format_price(Decimal("1299.5"), "PLN") == "1\u202f299.50\u00a0zł"
    assert format_price(Decimal("30"), "CHF") == "30\u00a0CHF"
    assert format_price(Decimal("45"), "") == "45"
    assert format_price(None, "EUR") == ""


def test_migration_fills_in_the_prices_of_stored_posts(db_url: str) -> None:
    """s001 on a catalogue that already has posts (SQLite and PostgreSQL), and back down."""
    from alembic import command
    from sqlalchemy import text

    from catalog import crud
    from catalog.db import alembic_config, make_engine, migrate, session_scope

    engine = make_engine(db_url)
    command.downgrade(alembic_config(engine), "c002")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO shops (network, handle, display_name, profile_url, base_url,"
                " account_id, active, inactive_reason, watermark, crawl_state, created_at)"
                " VALUES ('shopify', 'linen', '', '', '', '', true, '', '', '{}', '2026-01-01')"
            )
        )
        rows = [
            ("1", "45.00", "Linen shirt, 45 €"),
            ("2", "", "Wool coat\nPrice 4 500 ₽"),
            ("3", "", "Call us for the price"),
            ("4", "19.90", "Tee"),
        ]
        for ident, price, caption in rows:
            conn.execute(
                text(
                    "INSERT INTO posts (shop_id, network, network_post_id, permalink, caption,"
                    " title, price, vendor, product_type, tags, pinned, fetched_at)"
                    " VALUES (1, 'shopify', :i, '', :c, '', :p, '', '', '[]', false,"
                    " '2026-01-01')"
                ),
                {"i": ident, "p": price, "c": caption},
            )
    migrate(engine)
    with engine.connect() as conn:
        got = dict(
            (r[0], (r[1], r[2]))
            for r in conn.execute(
                text("SELECT network_post_id, price_amount, price_currency FROM posts")
            )
        )
    assert {k: (v[0] if v[0] is None else Decimal(str(v[0])), v[1]) for k, v in got.items()} == {
        "1": (Decimal("45"), "EUR"),
        "2": (Decimal("4500"), "RUB"),
        "3": (None, ""),
        "4": (Decimal("19.90"), ""),
    }
    # and a post written now gets its price the same way
    with session_scope(engine) as s:
        crud.upsert_post(s, 1, "shopify", "5", price="", caption="Linen dress £30")
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT price_amount, price_currency FROM posts WHERE network_post_id = '5'")
        ).one()
    assert (Decimal(str(row[0])), row[1]) == (Decimal("30"), "GBP")
    command.downgrade(alembic_config(engine), "c002")
    migrate(engine)
    engine.dispose()
