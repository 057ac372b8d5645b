"""A post's price as an amount and an ISO 4217 currency, from Shopify's price or a caption.

price-parser reads the number (it knows "4 500", "1.299,00" and "1,299.00"); we find where a
price is in a caption and name its currency. A caption's number counts only next to a currency
("Size 42, $45" is 45 USD, "19,99" alone is no price): captions are full of sizes and dates.
Shopify's products.json gives a bare decimal string and no currency, so a Shopify post takes the
currency written in its description if there is one, else `default_currency` (the callers pass
none today: the currency stays empty and pages show the bare amount).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from price_parser import Price

# Symbols and words shops write, to ISO 4217. "$" alone is read as USD and "kr" is left out
# (SEK, NOK, DKK and ISK all write it).
SYMBOLS: dict[str, str] = {
    "US$": "USD", "$": "USD", "€": "EUR", "£": "GBP", "₽": "RUB", "руб.": "RUB", "руб": "RUB",
    "р.": "RUB", "₴": "UAH", "грн.": "UAH", "грн": "UAH", "₺": "TRY", "TL": "TRY", "zł": "PLN",
    "zl": "PLN", "Kč": "CZK", "₸": "KZT", "₾": "GEL", "₼": "AZN", "₹": "INR", "¥": "JPY",
    "C$": "CAD", "A$": "AUD", "CHF": "CHF", "lei": "RON", "лв": "BGN", "R$": "BRL",
}  # fmt: skip
CODES = frozenset(
    {
        "USD", "EUR", "GBP", "RUB", "UAH", "TRY", "PLN", "CZK", "KZT", "GEL", "AZN", "INR", "JPY",
        "CAD", "AUD", "CHF", "HUF", "RON", "BGN", "BRL", "SEK", "NOK", "DKK", "ISK", "CNY", "KRW",
        "MXN", "ILS", "AED", "SGD", "HKD", "NZD", "ZAR", "BYN", "AMD", "MDL", "RSD",
    }  # fmt: skip
)
# For display: a symbol where one is unambiguous, else the code.
DISPLAY: dict[str, str] = {
    "USD": "$", "EUR": "€", "GBP": "£", "RUB": "₽", "UAH": "₴", "TRY": "₺", "PLN": "zł",
    "JPY": "¥", "INR": "₹", "KZT": "₸", "GEL": "₾",
}  # fmt: skip
PREFIXED = frozenset({"USD", "GBP", "JPY", "INR"})  # "$45", "45 €"
MAX_AMOUNT = Decimal("9999999999.99")  # what posts.price_amount (NUMERIC(12, 2)) holds

_NUMBER = r"(?:\d{1,3}(?:[ \u00a0\u202f.,'’]\d{3})+|\d+)(?:[.,]\d{1,2})?"
# Codes only in capitals ("2 TRY", never "come try"); words as shops write them.
_WORDS = {v for s in SYMBOLS if s[:1].isalpha() for v in (s, s.lower(), s.upper(), s.title())}
_WORD_MARKS = sorted((re.escape(s) for s in _WORDS | CODES), key=len, reverse=True)
_SIGN_MARKS = sorted((re.escape(s) for s in SYMBOLS if not s[:1].isalpha()), key=len, reverse=True)
# A word currency must stand alone ("TL", not "TLC"); a sign may touch the number.
_MARK = rf"(?:(?<![^\W\d_])(?:{'|'.join(_WORD_MARKS)})(?![^\W\d_])|{'|'.join(_SIGN_MARKS)})"
_IN_TEXT = re.compile(
    rf"(?P<before>{_MARK})\s?(?P<n1>{_NUMBER})(?!\d)|(?<![\d.,])(?P<n2>{_NUMBER})\s?(?P<after>{_MARK})",
)
_LOOKUP = {k.lower(): v for k, v in SYMBOLS.items()} | {c.lower(): c for c in CODES}


@dataclass(frozen=True)
class ParsedPrice:
    amount: Decimal
    currency: str  # ISO 4217, or "" when nothing says which


def currency_code(mark: str | None) -> str:
    """ISO 4217 for a symbol or code as written ("₽", "zł", "usd"); "" if unknown."""
    return _LOOKUP.get((mark or "").strip().lower(), "")


def _amount(text: str) -> Decimal | None:
    parsed = Price.fromstring(text)
    amount = parsed.amount
    if amount is None or amount < 0:
        return None
    try:
        amount = amount.quantize(Decimal("0.01"))
    except InvalidOperation:
        return None
    return amount if amount <= MAX_AMOUNT else None


def parse_price(text: str, *, default_currency: str = "") -> ParsedPrice | None:
    """A price field ("45.00", "4 500 ₽"); a bare number takes `default_currency`."""
    text = (text or "").strip()
    if not text:
        return None
    amount = _amount(text)
    if amount is None:
        return None
    return ParsedPrice(amount, currency_code(Price.fromstring(text).currency) or default_currency)


def find_price(text: str) -> ParsedPrice | None:
    """The first amount written next to a currency in free text (a caption), if any."""
    for match in _IN_TEXT.finditer(text or ""):
        number = match.group("n1") or match.group("n2")
        mark = match.group("before") or match.group("after")
        amount = _amount(number)
        code = currency_code(mark)
        if amount is not None and amount > 0 and code:
            return ParsedPrice(amount, code)
    return None


def without_prices(text: str) -> str:
    """The text with the prices written in it taken out ("Red dress — 45 €" → "Red dress"):
    a card shows the price on its own line."""
    out = _IN_TEXT.sub(" ", text or "")
    out = re.sub(r"\s*(?:[-–—:,;·|/]\s*)+$", "", " ".join(out.split()))
    return re.sub(r"\s+([,.;:!?])", r"\1", out).strip(" -–—:,;·|/")


def post_price(price: str, caption: str, *, default_currency: str = "") -> ParsedPrice | None:
    """A post's price: its price field (Shopify) first, else one written in its caption."""
    written = find_price(caption)
    field = parse_price(price)
    if field is None:
        return written
    if field.currency:
        return field
    return ParsedPrice(field.amount, written.currency if written else default_currency)


def price_columns(price: str, caption: str) -> dict[str, object]:
    """posts.price_amount and posts.price_currency for a post's price field and caption."""
    found = post_price(price, caption)
    return {
        "price_amount": found.amount if found else None,
        "price_currency": found.currency if found else "",
    }


def format_price(amount: Decimal | float | str | None, currency: str) -> str:
    """ "4 500 ₽", "$45", "1 299.50 zł"; "" without an amount."""
    if amount is None or amount == "":
        return ""
    value = Decimal(str(amount)).quantize(Decimal("0.01"))
    whole = value == value.to_integral_value()
    number = f"{value:,.0f}" if whole else f"{value:,.2f}"
    number = number.replace(",", "\u202f")  # a narrow no-break space between thousands
    if not currency:
        return number
    sign = DISPLAY.get(currency, currency)
    if currency in PREFIXED:
        return f"{sign}{number}"
    return f"{number}\u00a0{sign}"
