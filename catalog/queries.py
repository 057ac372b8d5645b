"""Read queries of the public catalogue: filters, facet counts, keyset pages, photo and shop pages.

Everything here is read-only and knows nothing about HTTP: `web/` parses the request into a
`Filters`, calls these functions and renders the result (HTML or JSON).
"""

from __future__ import annotations

import base64
import binascii
import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal_column, or_, select, true
from sqlmodel import Session, col

from catalog import prices, search
from catalog.models import Photo, Post, Shop
from catalog.taxonomy import (
    CATEGORIES,
    COLOURS,
    NETWORKS,
    PUBLIC_STATUSES,
    LabelState,
    ReviewStatus,
    label_states,
)

# Ids are 32-bit on PostgreSQL: anything larger cannot exist and must not reach the database.
MAX_ID = 2**31 - 1
MAX_QUERY_LENGTH = 200
MAX_VALUES = 20  # per filter
FACETS = ("category", "colour", "shop", "network")


class FilterError(ValueError):
    """A filter value that cannot be right (unknown colour, bad date, …); shown to the user."""


@dataclass(frozen=True)
class Filters:
    """The shopper's current view. Several values of one filter are OR-ed, filters are AND-ed."""

    category: tuple[str, ...] = ()
    colour: tuple[str, ...] = ()
    shop: tuple[int, ...] = ()
    network: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None
    q: str = ""
    # Order and price range (catalog.prices); see _price_conditions and list_items.
    sort: str = "newest"
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    currency: str = ""

    def with_(self, **changes: Any) -> Filters:
        return replace(self, **changes)

    def without(self, facet: str) -> Filters:
        return self.with_(**{facet: ()})

    def toggled(self, facet: str, value: Any) -> Filters:
        current: tuple[Any, ...] = getattr(self, facet)
        new = tuple(v for v in current if v != value) if value in current else (*current, value)
        return self.with_(**{facet: new})

    def active(self, facet: str) -> bool:
        return bool(getattr(self, facet))

    def is_empty(self) -> bool:
        """No filter narrows the view (the order is not a filter)."""
        return replace(self, sort="newest") == Filters()

    def has_price_filter(self) -> bool:
        return self.price_min is not None or self.price_max is not None or bool(self.currency)

    def to_params(self) -> list[tuple[str, str]]:
        """The query-string pairs for this view (the inverse of `parse_filters`)."""
        pairs: list[tuple[str, str]] = []
        if self.q:
            pairs.append(("q", self.q))
        for facet in FACETS:
            pairs.extend((facet, str(v)) for v in getattr(self, facet))
        if self.date_from:
            pairs.append(("from", self.date_from.isoformat()))
        if self.date_to:
            pairs.append(("to", self.date_to.isoformat()))
        pairs.extend(_price_params(self))
        return pairs


def _date(value: str, name: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        parsed = date.fromisoformat(value)
    except ValueError as exc:
        raise FilterError(f"{name}: {value[:40]!r} is not a date (YYYY-MM-DD)") from exc
    if not 1970 <= parsed.year <= 9998:
        raise FilterError(f"{name}: {value!r} is out of range")
    return parsed


def _id(value: str, name: str) -> int:
    value = value.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 10 or int(value) > MAX_ID:
        raise FilterError(f"{name}: {value[:40]!r} is not a valid id")
    return int(value)


def _one_of(values: Iterable[str], allowed: Sequence[str], name: str) -> tuple[str, ...]:
    lookup = {a.lower(): a for a in allowed}
    out: list[str] = []
    for v in values:
        if not v.strip():
            continue
        canonical = lookup.get(v.strip().lower())
        if canonical is None:
            raise FilterError(f"unknown {name} {v[:40]!r}; expected one of {', '.join(allowed)}")
        if canonical not in out:
            out.append(canonical)
    return tuple(out)


def parse_filters(params: Mapping[str, Sequence[str]]) -> Filters:
    """Validate query parameters (each a list of values) into Filters; raise FilterError."""
    for key in FACETS:
        if len(params.get(key, ())) > MAX_VALUES:
            raise FilterError(f"too many {key} values (at most {MAX_VALUES})")
    qs = params.get("q", ())
    q = " ".join(qs[0].split())[:MAX_QUERY_LENGTH] if qs else ""
    shops = tuple(dict.fromkeys(_id(v, "shop") for v in params.get("shop", ()) if v.strip()))
    first = {k: (params.get(k) or [""])[0] for k in ("from", "to")}
    return Filters(
        category=_one_of(params.get("category", ()), CATEGORIES, "category"),
        colour=_one_of(params.get("colour", ()), COLOURS, "colour"),
        shop=shops,
        network=_one_of(params.get("network", ()), NETWORKS, "network"),
        date_from=_date(first["from"], "from"),
        date_to=_date(first["to"], "to"),
        q=q,
        **parse_sort_and_price(params),
    )


# ---- order and price range ---------------------------------------------------------------

SORTS = {
    "newest": "Newest",
    "price_asc": "Price: low–high",
    "price_desc": "Price: high–low",
}


def _price(value: str, name: str) -> Decimal | None:
    value = value.strip()
    if not value:
        return None
    parsed = prices.parse_price(value[:40])
    if parsed is None:
        raise FilterError(f"{name}: {value[:40]!r} is not a price (a number such as 45 or 19.90)")
    return parsed.amount


def parse_sort_and_price(params: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """`sort`, `min_price`, `max_price` and `currency` (ISO 4217) as Filters fields."""
    first = {k: (params.get(k) or [""])[0].strip() for k in ("sort", "currency")}
    sort = first["sort"].lower() or "newest"
    if sort not in SORTS:
        raise FilterError(f"unknown sort {sort[:40]!r}; expected one of {', '.join(SORTS)}")
    low = _price((params.get("min_price") or [""])[0], "min_price")
    high = _price((params.get("max_price") or [""])[0], "max_price")
    if low is not None and high is not None and low > high:
        raise FilterError(f"min_price {low} is above max_price {high}")
    currency = first["currency"].upper()
    if currency and not (len(currency) == 3 and currency.isascii() and currency.isalpha()):
        raise FilterError(f"currency: {currency[:40]!r} is not an ISO 4217 code such as EUR")
    return {"sort": sort, "price_min": low, "price_max": high, "currency": currency}


def _plain(amount: Decimal) -> str:
    text = f"{amount:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _price_params(filters: Filters) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    if filters.sort != "newest":
        pairs.append(("sort", filters.sort))
    if filters.price_min is not None:
        pairs.append(("min_price", _plain(filters.price_min)))
    if filters.price_max is not None:
        pairs.append(("max_price", _plain(filters.price_max)))
    if filters.currency:
        pairs.append(("currency", filters.currency))
    return pairs


def _price_conditions(
    filters: Filters, source: type[Post] | type[Photo] = Post
) -> list[ColumnElement[bool]]:
    """A price range compares the stored amounts as they are: there are no exchange rates, so
    with several currencies in the view 45 USD and 4 500 RUB are 45 and 4500. Choosing a
    `currency` keeps one; a post without a known price is outside any price filter."""
    # `source`: the posts, or the photos' copies of their price (migration m001).
    amount, currency = col(source.price_amount), col(source.price_currency)
    conds: list[ColumnElement[bool]] = [amount.is_not(None)]
    if filters.price_min is not None:
        conds.append(amount >= filters.price_min)
    if filters.price_max is not None:
        conds.append(amount <= filters.price_max)
    if filters.currency:
        conds.append(currency == filters.currency)
    return conds


def currency_counts(session: Session, filters: Filters) -> list[tuple[str, int]]:
    """Photos per price currency under the filters (the price filter itself left out)."""
    free = filters.with_(price_min=None, price_max=None, currency="")
    conds, needs_post = _conditions(free, _dialect(session), listed=True)
    query = select(col(Photo.price_currency), func.count()).select_from(Photo)
    if needs_post:
        query = query.join(Post, col(Post.id) == col(Photo.post_id))
    query = query.where(*conds, col(Photo.price_amount).is_not(None)).group_by(
        col(Photo.price_currency)
    )
    return sorted(((c, n) for c, n in session.execute(query)), key=lambda cn: (-cn[1], cn[0]))


# ---- keyset cursor -----------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """Position after the last item shown: (posted_at, photo id), newest first."""

    posted_at: datetime | None
    id: int

    def encode(self) -> str:
        stamp = self.posted_at.strftime("%Y%m%dT%H%M%S.%f") if self.posted_at else ""
        return base64.urlsafe_b64encode(f"{stamp}~{self.id}".encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
            stamp, _, ident = raw.partition("~")
            posted = datetime.strptime(stamp, "%Y%m%dT%H%M%S.%f") if stamp else None
            return cls(posted, _id(ident, "cursor"))
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise FilterError("this page link is damaged; start again from the first page") from exc


@dataclass(frozen=True)
class PriceCursor:
    """Position after the last item shown when sorted by price: (amount, photo id)."""

    amount: Decimal | None
    id: int

    def encode(self) -> str:
        amount = "" if self.amount is None else _plain(self.amount)
        raw = f"price~{amount}~{self.id}"
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(token: str, sort: str = "newest") -> Cursor | PriceCursor:
    """The `after` token of a page link, which must belong to the order asked for."""
    damaged = FilterError("this page link is damaged; start again from the first page")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise damaged from exc
    if not raw.startswith("price~"):
        if sort != "newest":
            raise damaged
        return Cursor.decode(token)
    if sort == "newest":
        raise damaged
    _, amount, ident = raw.split("~", 2) if raw.count("~") == 2 else ("", "", "")
    try:
        value = Decimal(amount) if amount else None
    except ArithmeticError as exc:
        raise damaged from exc
    if value is not None and not value.is_finite():
        raise damaged
    try:
        return PriceCursor(value, _id(ident, "cursor"))
    except FilterError as exc:
        raise damaged from exc


# ---- building blocks -----------------------------------------------------------------------


def public_condition(dialect: str = "", *, unindexed: bool = False) -> ColumnElement[bool]:
    """Visible to shoppers: accepted or reviewed labels, and not a repost of another photo."""
    status, duplicate = (
        _col(Photo.status, dialect, unindexed),
        _col(Photo.duplicate_of_id, dialect, unindexed),
    )
    return and_(status.in_(PUBLIC_STATUSES), duplicate.is_(None))


def _col(column: Any, dialect: str, unindexed: bool) -> Any:
    """`+photos.status` on SQLite: the same value, but the planner may not use its index.

    Used for the newest-first grid when no selective photo filter is set: SQLite then walks
    posts by posted_at and stops after one page instead of sorting every public photo.
    """
    if unindexed and dialect == "sqlite":
        return literal_column(f"+{column.table.name}.{column.name}", type_=column.type)
    return column


def label_public(head: str, dialect: str = "", *, unindexed: bool = False) -> ColumnElement[bool]:
    """A public photo's `head` label is shown and counted: decided by the model or a moderator.

    Written as "not in review" so that rows stored without states (raw SQL seeds) count by
    their status; on a public photo only a partly accepted one has a label in review.
    """
    column = Photo.category_state if head == "category" else Photo.colour_state
    return _col(column, dialect, unindexed) != LabelState.review


def _start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=UTC)


def _conditions(
    filters: Filters,
    dialect: str,
    *,
    posts_first: bool = False,
    public: bool = True,
    listed: bool = False,
) -> tuple[list[ColumnElement[bool]], bool]:
    """WHERE terms for the filters, and whether they need the posts table joined.

    The first term selects public photos; `public=False` leaves it out and filters labels by
    the model's guess whatever their state (the moderators' grid). `listed`: read the photos'
    own copies (is_public, shop_id, network, posted_at: ix_photos_listed) instead of posts,
    for the counts, which then need posts only for a price or words.
    """
    if listed:
        return _listed_conditions(filters, dialect)
    conds: list[ColumnElement[bool]] = (
        [public_condition(dialect, unindexed=posts_first)] if public else []
    )
    needs_post = False
    if filters.category:
        conds.append(_col(Photo.category, dialect, posts_first).in_(filters.category))
        if public:
            conds.append(label_public("category", dialect, unindexed=posts_first))
    if filters.colour:
        conds.append(_col(Photo.colour, dialect, posts_first).in_(filters.colour))
        if public:
            conds.append(label_public("colour", dialect, unindexed=posts_first))
    if filters.shop:
        conds.append(col(Post.shop_id).in_(filters.shop))
        needs_post = True
    if filters.network:
        conds.append(col(Post.network).in_(filters.network))
        needs_post = True
    if filters.date_from:
        conds.append(col(Post.posted_at) >= _start(filters.date_from))
        needs_post = True
    if filters.date_to:
        conds.append(col(Post.posted_at) < _start(filters.date_to + timedelta(days=1)))
        needs_post = True
    if filters.has_price_filter():
        conds.extend(_price_conditions(filters))
        needs_post = True
    if filters.q:
        match = search.matching_post_ids(dialect, filters.q, unindexed=posts_first)
        if match is not None:
            conds.append(match)
            needs_post = True
    return conds, needs_post


# The photos' columns each facet counts and filters on (shop and network: m001's copies).
_FACET_COLUMNS: dict[str, Any] = {
    "category": Photo.category,
    "colour": Photo.colour,
    "shop": Photo.shop_id,
    "network": Photo.network,
}


def _facet_terms(filters: Filters, facet: str) -> list[ColumnElement[bool]]:
    """The conditions of one facet's filter on the photos ([] when none is chosen); a label
    filter also asks that label to be public."""
    chosen = getattr(filters, facet)
    if not chosen:
        return []
    terms: list[ColumnElement[bool]] = [col(_FACET_COLUMNS[facet]).in_(chosen)]
    if facet in ("category", "colour"):
        terms.append(label_public(facet))
    return terms


def _listed_conditions(filters: Filters, dialect: str) -> tuple[list[ColumnElement[bool]], bool]:
    """_conditions on the photos' copies (public photos only)."""
    conds: list[ColumnElement[bool]] = [col(Photo.is_public) == true()]
    for facet in FACETS:
        conds += _facet_terms(filters, facet)
    if filters.date_from:
        conds.append(col(Photo.posted_at) >= _start(filters.date_from))
    if filters.date_to:
        conds.append(col(Photo.posted_at) < _start(filters.date_to + timedelta(days=1)))
    if filters.has_price_filter():
        conds.extend(_price_conditions(filters, Photo))
    needs_post = False
    if filters.q:
        match = search.matching_post_ids(dialect, filters.q)
        if match is not None:
            conds.append(match)
            needs_post = True
    return conds, needs_post


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


# ---- items -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    id: int
    sha256: str
    stored_path: str
    thumb_path: str
    width: int
    height: int
    category: str | None
    colour: str | None
    status: str
    category_state: str
    colour_state: str
    post_id: int
    posted_at: datetime | None
    caption: str
    title: str
    permalink: str
    network: str
    shop_id: int
    shop_name: str
    shop_handle: str
    price_amount: Decimal | None = None
    price_currency: str = ""
    # One garment of a photo showing several (catalog.regions): the original and the box
    # (x0, y0, x1, y1, fractions of its size) this entry is cut from.
    parent_photo_id: int | None = None
    region_box: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.region_box is not None and not isinstance(self.region_box, tuple):
            # stored as a JSON list; a tuple keeps the item hashable (keys of cached HTML)
            object.__setattr__(self, "region_box", tuple(float(v) for v in self.region_box))

    @property
    def headline(self) -> str:
        """What the card calls it: the product title, else the caption's first line."""
        return headline(self.title, self.caption)

    @property
    def price_text(self) -> str:
        return prices.format_price(self.price_amount, self.price_currency)

    @property
    def label(self) -> str:
        return " ".join(x for x in (self.colour, (self.category or "").lower()) if x) or "photo"

    def states(self) -> dict[str, str]:
        """head → LabelState (rows stored without states read by their status)."""
        return label_states(self.status, self.category_state, self.colour_state)

    def public(self) -> Item:
        """What shoppers see: a label still in review is not shown."""
        states = self.states()
        return replace(
            self,
            category=self.category if states["category"] != LabelState.review else None,
            colour=self.colour if states["colour"] != LabelState.review else None,
        )


_ITEM_COLUMNS: tuple[Any, ...] = (  # columns (SQLModel types them as their values)
    Photo.id,
    Photo.sha256,
    Photo.stored_path,
    Photo.thumb_path,
    Photo.width,
    Photo.height,
    Photo.category,
    Photo.colour,
    Photo.status,
    Photo.category_state,
    Photo.colour_state,
    Photo.post_id,
    Post.posted_at,
    Post.caption,
    Post.title,
    Post.permalink,
    Post.network,
    Post.shop_id,
    Shop.display_name,
    Shop.handle,
    Post.price_amount,
    Post.price_currency,
    Photo.parent_photo_id,
    Photo.region_box,
)


HEADLINE_LENGTH = 80
PRICE_WORDS = frozenset({"price", "цена", "ціна", "cena", "fiyat", "fiyatı", "prix", "preis"})


def headline(title: str, caption: str) -> str:
    """A short name for a post: its title, else its caption's first line that says more than a
    price, without the price, cut at a word near HEADLINE_LENGTH characters."""
    text = " ".join((title or "").split())
    if not text:
        for line in (caption or "").splitlines():
            bare = prices.without_prices(line)
            if bare and bare.lower() not in PRICE_WORDS:  # "Price: 45 €" names no product
                text = bare
                break
    if len(text) <= HEADLINE_LENGTH:
        return text
    cut = text[:HEADLINE_LENGTH].rsplit(" ", 1)[0].rstrip(" ,.;:–—-")
    return (cut or text[:HEADLINE_LENGTH]) + "…"


def _items_select() -> Any:
    return (
        select(*_ITEM_COLUMNS)
        .join(Post, col(Post.id) == col(Photo.post_id))
        .join(Shop, col(Shop.id) == col(Post.shop_id))
    )


def _item(row: Any) -> Item:
    """A public row: labels still in review are blanked (Item.public)."""
    item = Item(*row)
    if item.status == ReviewStatus.partly_accepted:  # the only public status with a label held
        return item.public()
    return item


def _raw_item(row: Any) -> Item:
    """Any row, with the model's labels whatever their state (moderators' views)."""
    return Item(*row)


@dataclass
class Page:
    items: list[Item]
    next_cursor: str | None


def list_items(
    session: Session,
    filters: Filters,
    *,
    cursor: Cursor | PriceCursor | None = None,
    limit: int = 48,
) -> Page:
    """One page of public photos under `filters`, newest post first (keyset pagination).

    Photos of posts without a date come last. The keyset condition is written as a range on
    posted_at (no OR with IS NULL) so that the posted_at index serves deep pages too.
    """
    if filters.sort != "newest":
        return _list_by_price(session, filters, cursor, limit)
    if isinstance(cursor, PriceCursor):
        raise FilterError("this page link is damaged; start again from the first page")
    dialect = _dialect(session)
    # Selective label filters are served best from the photos' covering indexes; otherwise
    # walk posts newest first and stop after one page.
    posts_first = bool(filters.q) or not (filters.category or filters.colour)
    conds, _ = _conditions(filters, dialect, posts_first=posts_first)
    order: Any = col(Post.posted_at).desc()
    if dialect == "postgresql":
        posted: Any = Post.posted_at
        if not posts_first:
            # Same order, but an expression: PostgreSQL then starts from the few photos that
            # match the labels instead of walking every post newest first hoping to meet them.
            posted = Post.posted_at + literal_column("interval '0 s'")
        order = posted.desc().nulls_last()

    def run(extra: list[ColumnElement[bool]], n: int) -> list[Item]:
        query = _items_select().where(*conds, *extra).order_by(order, col(Photo.id).desc()).limit(n)
        return [_item(r) for r in session.execute(query)]

    if cursor is None:
        rows = run([], limit + 1)
    elif cursor.posted_at is None:
        rows = run([col(Post.posted_at).is_(None), col(Photo.id) < cursor.id], limit + 1)
    else:
        at = cursor.posted_at.replace(tzinfo=UTC)
        rows = run(
            [col(Post.posted_at) <= at, or_(col(Post.posted_at) < at, col(Photo.id) < cursor.id)],
            limit + 1,
        )
        if len(rows) <= limit:  # then the undated photos
            rows += run([col(Post.posted_at).is_(None)], limit + 1 - len(rows))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        posted = last.posted_at.replace(tzinfo=None) if last.posted_at else None
        next_cursor = Cursor(posted, last.id).encode()
    return Page(rows, next_cursor)


def _list_by_price(
    session: Session, filters: Filters, cursor: Cursor | PriceCursor | None, limit: int
) -> Page:
    """A page in price order (photo id breaking ties, the same way round), then the photos
    without a price. Keyset like list_items: amount >= a AND (amount > a OR id > i) for low to
    high, so each page starts where the last one ended even while photos are added."""
    if cursor is not None and not isinstance(cursor, PriceCursor):
        raise FilterError("this page link is damaged; start again from the first page")
    # As in list_items: without a label filter, walk posts in price order (its index) and
    # stop after one page rather than sort every public photo.
    posts_first = bool(filters.q) or not (filters.category or filters.colour)
    conds, _ = _conditions(filters, _dialect(session), posts_first=posts_first)
    amount, ident = col(Post.price_amount), col(Photo.id)
    up = filters.sort == "price_asc"
    order = (amount.asc(), ident.asc()) if up else (amount.desc(), ident.desc())

    def run(extra: list[Any], by: Sequence[Any], n: int) -> list[Item]:
        query = _items_select().where(*conds, *extra).order_by(*by).limit(n)
        return [_item(r) for r in session.execute(query)]

    def after(column: Any, value: Any) -> Any:
        return column > value if up else column < value

    unpriced = [amount.is_(None)]
    by_id = (ident.asc(),) if up else (ident.desc(),)
    if cursor is None or cursor.amount is not None:
        extra: list[Any] = [amount.is_not(None)]
        if cursor is not None:
            at = cursor.amount
            extra += [
                amount >= at if up else amount <= at,
                or_(after(amount, at), after(ident, cursor.id)),
            ]
        rows = run(extra, order, limit + 1)
        if len(rows) <= limit and not filters.has_price_filter():
            rows += run(unpriced, by_id, limit + 1 - len(rows))
    else:
        rows = run([*unpriced, after(ident, cursor.id)], by_id, limit + 1)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = PriceCursor(rows[-1].price_amount, rows[-1].id).encode()
    return Page(rows, next_cursor)


# ---- facets ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool


@dataclass
class Facets:
    total: int
    values: dict[str, list[FacetValue]] = field(default_factory=dict)
    # What `values` is made from (facet → value → count, shop id → name): adjust_facets
    # applies a photo's change to these instead of counting again.
    raw: dict[str, dict[Any, int]] = field(default_factory=dict, repr=False)
    shop_names: dict[int, str] = field(default_factory=dict, repr=False)


def _facet_counts(session: Session, facet: str, filters: Filters) -> dict[Any, int]:
    """Counts per value of `facet` under every filter except the facet's own."""
    conds, needs_post = _conditions(filters.without(facet), _dialect(session), listed=True)
    column = _FACET_COLUMNS[facet]
    if facet in ("category", "colour"):
        conds.append(label_public(facet))  # a label still in review is not counted
    query = select(column, func.count()).select_from(Photo)
    if needs_post:
        query = query.join(Post, col(Post.id) == col(Photo.post_id))
    query = query.where(*conds).group_by(column)
    return {value: n for value, n in session.execute(query) if value is not None}


def _facet_counts_one_scan(session: Session, filters: Filters) -> dict[str, dict[Any, int]]:
    """Every facet's counts in one pass over the photos (PostgreSQL's GROUPING SETS), each
    facet's count taken under the other facets' filters (an aggregate FILTER). For views that
    no label or shop narrows: each facet's own query would read a large part of the photos
    (a network is a quarter of them), four times over."""
    terms = {facet: _facet_terms(filters, facet) for facet in FACETS}
    free = filters.with_(**{facet: () for facet in FACETS})
    base, needs_post = _listed_conditions(free, _dialect(session))
    counts: list[Any] = []
    for facet in FACETS:
        conds = [t for other, ts in terms.items() if other != facet for t in ts]
        if facet in ("category", "colour"):
            conds.append(label_public(facet))
        counts.append(func.count().filter(and_(*conds)) if conds else func.count())
    columns = [col(_FACET_COLUMNS[facet]) for facet in FACETS]
    query = select(*columns, *(func.grouping(c) for c in columns), *counts).select_from(Photo)
    if needs_post:
        query = query.join(Post, col(Post.id) == col(Photo.post_id))
    query = query.where(*base).group_by(func.grouping_sets(*columns))
    raw: dict[str, dict[Any, int]] = {facet: {} for facet in FACETS}
    n = len(FACETS)
    for row in session.execute(query):
        for i, facet in enumerate(FACETS):
            # grouping() is 0 for the column this row is grouped by.
            if row[n + i] == 0 and row[i] is not None and row[2 * n + i]:
                raw[facet][row[i]] = row[2 * n + i]
    return raw


def count_items(session: Session, filters: Filters) -> int:
    conds, needs_post = _conditions(filters, _dialect(session), listed=True)
    query = select(func.count()).select_from(Photo)
    if needs_post:
        query = query.join(Post, col(Post.id) == col(Photo.post_id))
    return int(session.execute(query.where(*conds)).scalar_one())


def facet_counts(session: Session, filters: Filters) -> Facets:
    """Every filter value with its count under the current filters (the facet's own excluded)."""
    # With neither a shop nor a network filter both facets count the same photos: one join
    # query per shop is enough, networks are summed from it (a shop lives on one network).
    derive_network = not filters.shop and not filters.network
    if _dialect(session) == "postgresql" and not (
        filters.category or filters.colour or filters.shop
    ):
        raw = _facet_counts_one_scan(session, filters)
        derive_network = False
    else:
        raw = {
            facet: _facet_counts(session, facet, filters)
            for facet in FACETS
            if not (facet == "network" and derive_network)
        }
    shops: dict[int, str] = {}
    shop_network: dict[int, str] = {}
    shop_ids = set(raw["shop"]) | set(filters.shop)
    if shop_ids:
        for sid, name, handle, network in session.execute(
            select(col(Shop.id), col(Shop.display_name), col(Shop.handle), col(Shop.network)).where(
                col(Shop.id).in_(shop_ids)
            )
        ):
            shops[sid] = name or f"{handle} ({network})"
            shop_network[sid] = network
    if derive_network:
        raw["network"] = {}
        for sid, n in raw["shop"].items():
            net = shop_network.get(sid, "")
            raw["network"][net] = raw["network"].get(net, 0) + n
    # The total equals the sum over a facet that is not filtered (every photo has a shop).
    total = sum(raw["shop"].values()) if not filters.shop else count_items(session, filters)
    return _assemble(filters, raw, shops, total)


def _assemble(
    filters: Filters,
    raw: dict[str, dict[Any, int]],
    shops: dict[int, str],
    total: int,
    *,
    keep: Facets | None = None,
    moved: dict[str, set[Any]] | None = None,
) -> Facets:
    """The facet lists shown for `raw` counts (values counted 0 are left out unless chosen).
    `keep`, `moved` (facet → the values whose counts moved): the lists of every other facet
    are taken from `keep` as they are, and the shops' list is corrected where it moved
    (changes.adjust_facets, which corrects a few counts per decision)."""
    facets = Facets(total=total, raw=raw, shop_names=shops)
    for facet, vocabulary in (
        ("category", CATEGORIES),
        ("colour", COLOURS),
        ("network", NETWORKS),
    ):
        if keep is not None and moved is not None and facet not in moved:
            facets.values[facet] = keep.values[facet]
            continue
        selected = getattr(filters, facet)
        facets.values[facet] = [
            FacetValue(v, v, raw[facet].get(v, 0), v in selected)
            for v in vocabulary
            if raw[facet].get(v) or v in selected
        ]
    if keep is not None and moved is not None:
        if "shop" not in moved:
            facets.values["shop"] = keep.values["shop"]
            return facets
        # Hundreds of shops, a few moved: those are taken out and put back in their place.
        changed = moved["shop"]
        shop_list = [v for v in keep.values["shop"] if int(v.value) not in changed]
        for sid in changed:
            n = raw["shop"].get(sid, 0)
            if (n > 0 or sid in filters.shop) and sid in shops:
                value = FacetValue(str(sid), shops[sid], n, sid in filters.shop)
                bisect.insort(shop_list, value, key=_shop_order)
        facets.values["shop"] = shop_list
        return facets
    shop_ids = {sid for sid, n in raw["shop"].items() if n > 0} | set(filters.shop)
    shop_values = [
        FacetValue(
            str(sid), shops.get(sid, f"shop {sid}"), raw["shop"].get(sid, 0), sid in filters.shop
        )
        for sid in shop_ids
        if sid in shops
    ]
    facets.values["shop"] = sorted(shop_values, key=_shop_order)
    return facets


def _shop_order(value: FacetValue) -> tuple[int, str]:
    return -value.count, value.label.lower()


# ---- one photo, one shop -------------------------------------------------------------------


@dataclass
class PhotoPage:
    item: Item
    post_photos: list[Item]
    reposts: list[Item]
    repost_of: Item | None


def get_item(session: Session, photo_id: int, *, public_only: bool = True) -> Item | None:
    if not 0 < photo_id <= MAX_ID:
        return None
    query = _items_select().where(Photo.id == photo_id)
    if public_only:
        query = query.where(col(Photo.status).in_(PUBLIC_STATUSES))
    row = session.execute(query).first()
    if row is None:
        return None
    return _item(row) if public_only else _raw_item(row)


def photo_page(session: Session, photo_id: int) -> PhotoPage | None:
    """A public photo with the other photos of its post and its reposts folded under it."""
    item = get_item(session, photo_id)
    if item is None:
        return None
    public = col(Photo.status).in_(PUBLIC_STATUSES)
    siblings = session.execute(
        _items_select()
        .where(Photo.post_id == item.post_id, Photo.id != item.id, public)
        .order_by(Photo.position, Photo.id)
        .limit(50)
    )
    reposts = session.execute(
        _items_select()
        .where(Photo.duplicate_of_id == item.id, public)
        .order_by(col(Post.posted_at).desc().nulls_last(), col(Photo.id).desc())
        .limit(50)
    )
    dup_of = session.execute(
        select(col(Photo.duplicate_of_id)).where(col(Photo.id) == item.id)
    ).scalar()
    original = get_item(session, dup_of) if dup_of else None
    return PhotoPage(item, [_item(r) for r in siblings], [_item(r) for r in reposts], original)


@dataclass(frozen=True)
class ShopSummary:
    id: int
    network: str
    handle: str
    display_name: str
    profile_url: str
    base_url: str
    photos: int

    @property
    def name(self) -> str:
        return self.display_name or self.handle


def _shop_summary(shop: Shop, photos: int) -> ShopSummary:
    return ShopSummary(
        shop.id or 0,
        shop.network,
        shop.handle,
        shop.display_name,
        shop.profile_url,
        shop.base_url,
        photos,
    )


def list_shops(session: Session) -> list[ShopSummary]:
    """Every shop with its number of public photos, most photos first."""
    counts: dict[int, int] = dict(
        session.execute(
            select(col(Photo.shop_id), func.count())
            .where(col(Photo.is_public) == true())
            .group_by(col(Photo.shop_id))
        ).all()
    )
    shops = session.execute(select(Shop)).scalars().all()
    out = [_shop_summary(s, counts.get(s.id, 0)) for s in shops]
    return sorted(out, key=lambda s: (-s.photos, s.name.lower()))


def get_shop(session: Session, shop_id: int) -> ShopSummary | None:
    if not 0 < shop_id <= MAX_ID:
        return None
    shop = session.get(Shop, shop_id)
    if shop is None:
        return None
    return _shop_summary(shop, count_items(session, Filters(shop=(shop_id,))))


def profile_url(shop: ShopSummary) -> str:
    """The shop's page on its network (stored, else derived from the handle)."""
    if shop.profile_url:
        return shop.profile_url
    base = shop.base_url.rstrip("/")
    return {
        "instagram": f"https://www.instagram.com/{shop.handle}/",
        "mastodon": f"{base}/@{shop.handle}" if base else "",
        "bluesky": f"https://bsky.app/profile/{shop.handle}",
        "shopify": base,
    }.get(shop.network, "")
