"""JSON API v1: the catalogue with the same filters, facets and paging as the pages, shops,
and the moderation queue (moderator session + CSRF header, or a Bearer token)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import Session

from catalog import moderation, queries, vectors
from catalog.moderation import Conflict, ModerationError
from catalog.queries import Cursor, FilterError, Filters, Item, PriceCursor
from web.auth import api_moderator
from web.deps import get_session
from web.routers.common import browse, page_size, parse_id, read_filters
from web.templating import image_url, safe_url, thumb_url

router = APIRouter(prefix="/api/v1")


def api_filters(request: Request) -> tuple[Filters, Cursor | PriceCursor | None]:
    """The query string's filters and cursor; a value that cannot be right is a 400 naming it."""
    try:
        return read_filters(request)
    except FilterError as exc:
        raise HTTPException(400, str(exc)) from exc


def _encoded(content: Any) -> bytes:
    """`content` as JSONResponse encodes it, to keep and send as it is."""
    return bytes(JSONResponse(content).body)


class ShopOut(BaseModel):
    id: int
    name: str
    handle: str
    network: str
    url: str = ""


class ItemOut(BaseModel):
    id: int
    url: str = Field(description="The photo's page in the catalogue")
    image_url: str
    thumb_url: str
    width: int
    height: int
    category: str | None = Field(description="null while the label waits for a moderator")
    colour: str | None = Field(description="null while the label waits for a moderator")
    states: dict[str, str] = Field(
        default_factory=dict,
        description="Per label: auto (the model decided), human (a moderator did), review "
        "(waiting for a moderator: not shown) or pending",
    )
    posted_at: datetime | None
    caption: str
    title: str
    price_amount: str | None = Field(None, description='Decimal string, e.g. "4500.00"')
    price_currency: str = Field("", description="ISO 4217; empty when the post names none")
    permalink: str = Field(description="The original post on its network")
    network: str
    shop: ShopOut
    parent_id: int | None = Field(
        None, description="A garment cut from a photo showing several: that photo's id"
    )
    region_box: list[float] | None = Field(
        None, description="Its box in that photo: x0, y0, x1, y1 as fractions of its size"
    )


class FacetValueOut(BaseModel):
    value: str
    label: str
    count: int
    selected: bool


class ItemsOut(BaseModel):
    total: int = Field(description="Photos matching every filter")
    items: list[ItemOut]
    next_cursor: str | None = Field(description="Pass as `after` for the next page")
    next: str | None = Field(description="URL of the next page")
    facets: dict[str, list[FacetValueOut]]


class ClueOut(BaseModel):
    label: str
    source: str = Field(description="options | title | product_type | tags | hashtags | ...")
    text: str = Field(description="The shop's words matched, as written")
    strength: float


class EvidenceOut(BaseModel):
    summary: str = Field(description="What moderators read, e.g. 'shop says: beige (options)'")
    clues: list[ClueOut]
    ambiguous: bool = Field(description="The words named several labels: no evidence")


class GuessOut(BaseModel):
    label: str
    confidence: float
    top: list[tuple[str, float]] = Field(description="With the shop's words fused in")
    image_top: list[tuple[str, float]] = Field(description="The photo alone")
    conflict: bool = Field(description="Confident words and a confident photo disagree")
    evidence: EvidenceOut
    model_version: str


class ItemDetailOut(ItemOut):
    post_photos: list[ItemOut]
    reposts: list[ItemOut]
    evidence: dict[str, EvidenceOut] = Field(
        default_factory=dict, description="Per label: what the shop's words say"
    )


class ShopSummaryOut(ShopOut):
    photos: int
    profile_url: str


class QueueItemOut(BaseModel):
    photo: ItemOut = Field(description="With the model's labels, decided or not")
    status: str
    version: int
    asked: list[str] = Field(description="The labels waiting for a moderator")
    confidence: dict[str, float | None]
    top: dict[str, list[tuple[str, float]]]
    guesses: dict[str, GuessOut] = Field(description="Per label: the newest model's view")
    conflict: bool = Field(description="Words and photo disagree on an asked label")


class QueueOut(BaseModel):
    left: int
    items: list[QueueItemOut]


class DecisionIn(BaseModel):
    action: Literal["accept", "correct", "reject"]
    version: int = Field(ge=0, le=2**31 - 1, description="The version you saw (optimistic check)")
    category: str | None = Field(None, max_length=64)
    colour: str | None = Field(None, max_length=64)
    heads: list[Literal["category", "colour"]] | None = Field(
        None,
        max_length=2,
        description="accept: the labels confirmed (default: those waiting for review); "
        "a label not decided stays as it is",
    )


class EventOut(BaseModel):
    id: int
    photo_id: int
    moderator: str
    action: str
    at: datetime
    before: dict[str, Any]
    after: dict[str, Any]


def item_out(item: Item) -> ItemOut:
    return ItemOut(
        id=item.id,
        url=f"/photos/{item.id}",
        image_url=image_url(item),
        thumb_url=thumb_url(item),
        width=item.width,
        height=item.height,
        category=item.category,
        colour=item.colour,
        states=item.states(),
        posted_at=item.posted_at,
        caption=item.caption,
        title=item.title,
        price_amount=_amount(item),
        price_currency=item.price_currency,
        permalink=safe_url(item.permalink),
        network=item.network,
        shop=ShopOut(
            id=item.shop_id,
            name=item.shop_name or item.shop_handle,
            handle=item.shop_handle,
            network=item.network,
            url=f"/shops/{item.shop_id}",
        ),
        parent_id=item.parent_photo_id,
        region_box=list(item.region_box) if item.region_box is not None else None,
    )


_FILTER_DOC = (
    "Filters (repeat a parameter for several values, OR-ed; filters are AND-ed): "
    "`category`, `colour`, `shop` (id), `network`, `from`/`to` (YYYY-MM-DD, posted date), "
    "`q` (words in captions and product titles), `min_price`/`max_price` (amounts as stored: "
    "no exchange rates) and `currency` (ISO 4217; posts with no known price are left out by "
    "any of the three). `sort`: `newest` (default), `price_asc` or `price_desc` (posts without "
    "a price last). `after`: the cursor of the next page, for the same `sort`."
)


def _amount(item: Item) -> str | None:
    return None if item.price_amount is None else f"{item.price_amount:.2f}"


def _utc(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z (SQLite hands back naive UTC, PostgreSQL aware datetimes)."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat() + "Z"


def item_json(item: Item) -> dict[str, Any]:
    """The same fields as ItemOut, built directly: the hot path skips model validation."""
    return {
        "id": item.id,
        "url": f"/photos/{item.id}",
        "image_url": image_url(item),
        "thumb_url": thumb_url(item),
        "width": item.width,
        "height": item.height,
        "category": item.category,
        "colour": item.colour,
        "states": item.states(),
        "posted_at": _utc(item.posted_at),
        "caption": item.caption,
        "title": item.title,
        "price_amount": _amount(item),
        "price_currency": item.price_currency,
        "permalink": safe_url(item.permalink),
        "network": item.network,
        "shop": {
            "id": item.shop_id,
            "name": item.shop_name or item.shop_handle,
            "handle": item.shop_handle,
            "network": item.network,
            "url": f"/shops/{item.shop_id}",
        },
        "parent_id": item.parent_photo_id,
        "region_box": list(item.region_box) if item.region_box is not None else None,
    }


@router.get("/items", response_model=ItemsOut, description=_FILTER_DOC)
def items(
    request: Request,
    limit: int | None = Query(None, ge=1, le=200),
    # Declared for the docs; read (and checked, 400 on a bad value) with the other filters.
    sort: str = Query("newest", description="newest | price_asc | price_desc"),
    min_price: str | None = Query(None, description="Lowest price, e.g. 20 or 19.90"),
    max_price: str | None = Query(None, description="Highest price"),
    currency: str | None = Query(None, description="ISO 4217 code, e.g. EUR"),
    session: Session = Depends(get_session),
) -> Any:
    filters, cursor = api_filters(request)
    page, facets = browse(request, session, filters, cursor, page_size(request, limit))

    def encode() -> bytes:
        next_url = None
        if page.next_cursor:
            pairs = filters.to_params() + [("after", page.next_cursor)]
            if limit:
                pairs.append(("limit", str(limit)))
            next_url = f"/api/v1/items?{urlencode(pairs)}"
        # Sent as bytes: FastAPI documents ItemsOut but does not re-validate 48 items.
        return _encoded(
            {
                "total": facets.total,
                "items": [item_json(i) for i in page.items],
                "next_cursor": page.next_cursor,
                "next": next_url,
                "facets": {
                    name: [v.__dict__ for v in values] for name, values in facets.values.items()
                },
            }
        )

    # A first page's answer is made once per version of its cached page and counts (like the
    # HTML fragments): most requests send it as it is.
    if cursor is None:
        cache = request.app.state.catalogue_cache
        body = cache.derived(("json", filters, limit), (page, facets), encode)
    else:
        body = encode()
    return Response(body, media_type="application/json")


@router.get("/items/{photo_id}", response_model=ItemDetailOut)
def item(photo_id: str, session: Session = Depends(get_session)) -> ItemDetailOut:
    page = queries.photo_page(session, parse_id(photo_id))
    if page is None:
        raise HTTPException(404, "No such photo in the catalogue.")
    guesses = moderation.head_guesses(session, page.item.id)
    return ItemDetailOut(
        **item_out(page.item).model_dump(),
        post_photos=[item_out(i) for i in page.post_photos],
        reposts=[item_out(i) for i in page.reposts],
        evidence={h: _evidence_out(g) for h, g in guesses.items()},
    )


class SimilarOut(BaseModel):
    items: list[ItemOut]
    distances: list[float] = Field(description="Cosine distance of each item, nearest first")


@router.get(
    "/items/{photo_id}/similar",
    response_model=SimilarOut,
    description="More like this: public photos that look like this one, nearest first, "
    "reposts folded, not from its own post, at most `per_shop` (0: any) per shop. "
    "`other_shops=1`: other shops only. " + _FILTER_DOC.split(" `sort`")[0],
)
def similar(
    photo_id: str,
    request: Request,
    limit: int = Query(12, ge=1, le=60),
    per_shop: int = Query(2, ge=0, le=60),
    other_shops: bool = Query(False),
    session: Session = Depends(get_session),
) -> Any:
    filters, _ = api_filters(request)
    pid = parse_id(photo_id)

    def compute() -> bytes | None:
        found = vectors.similar(
            session, pid, filters, limit, per_shop=per_shop, other_shops=other_shops
        )
        if found is None:
            return None
        # Encoded once per cached answer, like the items API's first pages: most requests
        # send these bytes as they are.
        return _encoded(
            {
                "items": [item_json(s.item) for s in found],
                "distances": [round(s.distance, 4) for s in found],
            }
        )

    # Cached per photo and query like the grid's first pages, and kept up to date the same way
    # (cache.follow): a decision drops these answers at the next request, new photos or
    # predictions empty the cache. (A global sync here emptied every page and count too.)
    cache = request.app.state.catalogue_cache
    cache.follow(session)
    body = cache.get_or_compute(
        ("similar-api", pid, filters, limit, per_shop, other_shops), compute
    )
    if body is None:
        raise HTTPException(404, "No such photo in the catalogue.")
    return Response(body, media_type="application/json")


def _evidence_out(g: moderation.HeadGuess) -> EvidenceOut:
    return EvidenceOut(
        summary=g.summary,
        clues=[
            ClueOut(label=c.label, source=c.source, text=c.text, strength=c.strength)
            for c in g.evidence.clues
        ],
        ambiguous=bool(g.evidence.ambiguous),
    )


def _guess_out(g: moderation.HeadGuess) -> GuessOut:
    return GuessOut(
        label=g.label,
        confidence=g.confidence,
        top=g.top,
        image_top=g.image_top,
        conflict=g.conflict,
        evidence=_evidence_out(g),
        model_version=g.model_version,
    )


def _shop_out(s: queries.ShopSummary) -> ShopSummaryOut:
    return ShopSummaryOut(
        id=s.id,
        name=s.name,
        handle=s.handle,
        network=s.network,
        url=f"/shops/{s.id}",
        photos=s.photos,
        profile_url=safe_url(queries.profile_url(s)),
    )


@router.get("/shops", response_model=list[ShopSummaryOut])
def shops(session: Session = Depends(get_session)) -> list[ShopSummaryOut]:
    return [_shop_out(s) for s in queries.list_shops(session)]


@router.get("/shops/{shop_id}", response_model=ShopSummaryOut)
def shop(shop_id: str, session: Session = Depends(get_session)) -> ShopSummaryOut:
    found = queries.get_shop(session, parse_id(shop_id))
    if found is None:
        raise HTTPException(404, "No such shop.")
    return _shop_out(found)


# ---- moderation --------------------------------------------------------------------------


@router.get("/moderation/queue", response_model=QueueOut, tags=["moderation"])
def moderation_queue(
    limit: int = Query(20, ge=1, le=200),
    name: str = Depends(api_moderator),
    session: Session = Depends(get_session),
) -> QueueOut:
    """Photos with a label waiting for review, least confident first: which labels are asked,
    the model's top 3 per head (with the shop's words, and from the photo alone) and what the
    shop's words say."""
    return QueueOut(
        left=moderation.queue_count(session),
        items=[
            QueueItemOut(
                photo=item_out(q.item),
                status=q.item.status,
                version=q.version,
                asked=q.asked,
                confidence=q.confidence,
                top=q.top,
                guesses={h: _guess_out(g) for h, g in q.guesses.items()},
                conflict=q.conflict,
            )
            for q in moderation.queue(session, limit=limit)
        ],
    )


def _event_out(e: Any) -> EventOut:
    return EventOut(
        id=e.id,
        photo_id=e.photo_id,
        moderator=e.moderator,
        action=e.action,
        at=e.at,
        before=e.before,
        after=e.after,
    )


@router.post(
    "/moderation/photos/{photo_id}",
    response_model=EventOut,
    tags=["moderation"],
    responses={409: {"description": "The photo changed since `version`; nothing was saved"}},
)
def decide(
    photo_id: str,
    decision: DecisionIn,
    request: Request,
    name: str = Depends(api_moderator),
    session: Session = Depends(get_session),
) -> Any:
    """Accept, correct or reject a photo's labels, if it is still at `version`. A label not
    named (correct) or not waiting for review (accept without `heads`) stays as it is."""
    try:
        event = moderation.decide(
            session,
            parse_id(photo_id),
            decision.version,
            name,
            decision.action,
            category=decision.category,
            colour=decision.colour,
            heads=decision.heads,
        )
        session.commit()  # before the answer goes out: the client's next read must see it
    except Conflict as exc:
        return JSONResponse(
            {"detail": str(exc), "current_version": exc.version, "changed_by": exc.by},
            status_code=409,
        )
    except ModerationError as exc:
        raise HTTPException(400, str(exc)) from exc
    return _event_out(event)


@router.post("/moderation/undo", response_model=EventOut, tags=["moderation"])
def undo(
    request: Request, name: str = Depends(api_moderator), session: Session = Depends(get_session)
) -> Any:
    """Revert your latest decision that is not undone yet."""
    try:
        event = moderation.undo_last(session, name)
        session.commit()  # see decide()
    except Conflict as exc:
        return JSONResponse({"detail": str(exc)}, status_code=409)
    except ModerationError as exc:
        raise HTTPException(400, str(exc)) from exc
    return _event_out(event)
