"""What changed in the public catalogue since a point, photo by photo, for the web caches.

Every moderator's write (decide, bulk, undo, requeue, a shopper's report) goes through
`moderation._write`, which records the photo's labels and status before and after it in a
`moderation_events` row. A web process reads the events newer than the last one it saw and, for
each, the photo's facts that do not change (shop, network, date, price, repost): that is enough
to tell which cached views the change touches (`matches`) and to correct cached counts in place
(`adjust_facets`, `adjust_currencies`) instead of counting again. Anything else that changes the
catalogue (new photos, the classifier's predictions, shops) moves `catalogue_stamp`, after which
caches start afresh.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from catalog.models import ModerationEvent, Photo, Post, Prediction, Shop, is_listed
from catalog.queries import FACETS, Facets, Filters, _assemble, _start
from catalog.taxonomy import LabelState

_LABELS = ("status", "category", "colour", "category_state", "colour_state")


@dataclass(frozen=True)
class PhotoFacts:
    """What the public filters and counts look at, for one photo at one moment."""

    status: str
    category: str | None
    colour: str | None
    category_state: str
    colour_state: str
    duplicate_of_id: int | None
    shop_id: int
    shop_name: str
    network: str
    posted_at: datetime | None  # aware, UTC
    price_amount: Decimal | None
    price_currency: str

    @property
    def public(self) -> bool:
        return is_listed(self.status, self.duplicate_of_id)

    def shown(self, head: str) -> bool:
        """The label is counted and shown (queries.label_public)."""
        state = self.category_state if head == "category" else self.colour_state
        return state != LabelState.review

    def value(self, facet: str) -> Any:
        return {
            "category": self.category,
            "colour": self.colour,
            "shop": self.shop_id,
            "network": self.network,
        }[facet]


def matches(filters: Filters, facts: PhotoFacts, *, skip: str = "") -> bool:
    """The photo is in the view `filters` (queries._conditions in Python); `skip`: a facet
    left out, as `filters.without(skip)` (without building it: every cached view is checked
    against every decision). Words (`q`) are not looked at: a view with words is taken to
    match, so callers recount those."""
    if not facts.public:
        return False
    for head in ("category", "colour"):
        wanted = getattr(filters, head)
        if wanted and head != skip and (facts.value(head) not in wanted or not facts.shown(head)):
            return False
    if filters.shop and skip != "shop" and facts.shop_id not in filters.shop:
        return False
    if filters.network and skip != "network" and facts.network not in filters.network:
        return False
    if filters.date_from or filters.date_to:
        at = facts.posted_at
        if at is None:
            return False
        if filters.date_from and at < _start(filters.date_from):
            return False
        if filters.date_to and at >= _start(filters.date_to + timedelta(days=1)):
            return False
    if filters.has_price_filter():
        amount = facts.price_amount
        if amount is None:
            return False
        if filters.price_min is not None and amount < filters.price_min:
            return False
        if filters.price_max is not None and amount > filters.price_max:
            return False
        if filters.currency and facts.price_currency != filters.currency:
            return False
    return True


def touches_counts(filters: Filters, facts: PhotoFacts) -> bool:
    """The photo is counted somewhere in the facets of `filters` (each facet is counted under
    the other filters) or in its price currencies (counted without the price filter)."""
    free = filters.with_(price_min=None, price_max=None, currency="")
    return matches(free, facts) or any(matches(filters, facts, skip=f) for f in FACETS)


@dataclass(frozen=True)
class PhotoChange:
    """One moderation event: the photo's facts before and after it (None: not known, e.g. the
    photo is gone or the event predates full snapshots; the caller then starts afresh)."""

    event_id: int
    photo_id: int
    before: PhotoFacts | None
    after: PhotoFacts | None

    @property
    def known(self) -> bool:
        return self.before is not None and self.after is not None

    def facts(self) -> Iterable[tuple[PhotoFacts, int]]:
        """(facts, -1) for the state it left and (facts, +1) for the one it entered."""
        if self.before is not None:
            yield self.before, -1
        if self.after is not None:
            yield self.after, 1


def adjust_facets(facets: Facets, filters: Filters, change: PhotoChange) -> Facets:
    """`facets` of `filters` with the change counted in: `facets` itself when the change moves
    no count of this view (most views, for most decisions), else a new object that shares
    the lists of the facets it leaves alone (only those it moves are assembled again)."""
    deltas: dict[str, dict[Any, int]] = {}
    names: dict[int, str] = {}
    total = facets.total
    for facts, sign in change.facts():
        if not facts.public:
            continue
        if matches(filters, facts):
            total += sign
        for facet in FACETS:
            if facet in ("category", "colour") and not facts.shown(facet):
                continue
            value = facts.value(facet)
            if value is None or not matches(filters, facts, skip=facet):
                continue
            moved = deltas.setdefault(facet, {})
            moved[value] = moved.get(value, 0) + sign
            if facet == "shop":
                names[value] = facts.shop_name
    # A label corrected within the view, say, is -1 and +1 on one value: no change.
    deltas = {f: d for f, d in deltas.items() if any(d.values())}
    if not deltas and total == facets.total:
        return facets
    raw = dict(facets.raw)
    for facet, moved in deltas.items():
        counts = raw[facet] = dict(raw.get(facet, {}))
        for value, n in moved.items():
            counts[value] = counts.get(value, 0) + n
    shop_names = {**names, **facets.shop_names} if names else facets.shop_names
    changed = {facet: {v for v, n in d.items() if n} for facet, d in deltas.items()}
    return _assemble(filters, raw, shop_names, total, keep=facets, moved=changed)


def adjust_currencies(
    counts: list[tuple[str, int]], filters: Filters, change: PhotoChange
) -> list[tuple[str, int]]:
    """queries.currency_counts of `filters` with the change counted in (`counts` itself when
    it moves none)."""
    free = filters.with_(price_min=None, price_max=None, currency="")
    moved: dict[str, int] = {}
    for facts, sign in change.facts():
        if facts.price_amount is not None and matches(free, facts):
            moved[facts.price_currency] = moved.get(facts.price_currency, 0) + sign
    if not any(moved.values()):
        return counts
    out = dict(counts)
    for currency, n in moved.items():
        out[currency] = out.get(currency, 0) + n
    return sorted(((c, n) for c, n in out.items() if n > 0), key=lambda cn: (-cn[1], cn[0]))


# Built once: web processes run it on every request, and building and compiling it each time
# cost more than running it.
_STAMP = select(
    *(
        select(p).scalar_subquery()
        for p in (
            func.max(Photo.id),
            func.max(Prediction.id),
            func.max(Shop.id),
            func.count(col(Shop.id)),
            func.max(ModerationEvent.id),
        )
    )
)


def catalogue_stamp(session: Session) -> tuple[tuple[Any, ...], int]:
    """(what moves when photos, predictions or shops change; the newest moderation event id).

    One statement of primary-key lookups, on the session's connection (no ORM step)."""
    row = session.connection().execute(_STAMP).one()
    return tuple(row[:4]), int(row[4] or 0)


def event_ids_since(session: Session, after_id: int) -> list[int]:
    """The moderation events newer than `after_id` (what a snapshot of counts includes)."""
    query = select(col(ModerationEvent.id)).where(col(ModerationEvent.id) > after_id)
    return list(session.execute(query).scalars())


def as_utc(at: datetime | None) -> datetime | None:
    """SQLite hands back naive UTC, PostgreSQL aware datetimes."""
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def photo_changes(session: Session, after_id: int, skip: Collection[int] = ()) -> list[PhotoChange]:
    """The moderation events newer than `after_id` (except `skip`), oldest first, as changes."""
    events = session.execute(
        select(col(ModerationEvent.id), col(ModerationEvent.photo_id),
               col(ModerationEvent.before), col(ModerationEvent.after))
        .where(col(ModerationEvent.id) > after_id)
        .order_by(col(ModerationEvent.id))
    ).all()  # fmt: skip
    events = [e for e in events if e.id not in skip]
    if not events:
        return []
    photo_ids = {e.photo_id for e in events}
    fixed: dict[int, dict[str, Any]] = {}
    for row in session.execute(
        select(
            col(Photo.id),
            col(Photo.duplicate_of_id),
            col(Post.shop_id),
            col(Shop.display_name),
            col(Shop.handle),
            col(Post.network),
            col(Post.posted_at),
            col(Post.price_amount),
            col(Post.price_currency),
        )
        .join(Post, col(Post.id) == Photo.post_id)
        .join(Shop, col(Shop.id) == Post.shop_id)
        .where(col(Photo.id).in_(photo_ids))
    ):
        fixed[row.id] = {
            "duplicate_of_id": row.duplicate_of_id,
            "shop_id": row.shop_id,
            "shop_name": row.display_name or f"{row.handle} ({row.network})",
            "network": row.network,
            "posted_at": as_utc(row.posted_at),
            "price_amount": row.price_amount,
            "price_currency": row.price_currency or "",
        }

    def facts(snapshot: Any, photo_id: int) -> PhotoFacts | None:
        if photo_id not in fixed or not isinstance(snapshot, dict):
            return None
        if any(k not in snapshot for k in _LABELS):
            return None
        return PhotoFacts(**{k: snapshot[k] for k in _LABELS}, **fixed[photo_id])

    return [
        PhotoChange(e.id, e.photo_id, facts(e.before, e.photo_id), facts(e.after, e.photo_id))
        for e in events
    ]


__all__ = [
    "PhotoChange",
    "PhotoFacts",
    "adjust_currencies",
    "adjust_facets",
    "catalogue_stamp",
    "event_ids_since",
    "matches",
    "photo_changes",
    "as_utc",
    "touches_counts",
]
