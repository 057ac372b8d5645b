"""The shoppers' pages: the filtered grid, one photo, the shops. All work without JavaScript."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from markupsafe import Markup
from sqlmodel import Session

from catalog import queries, regions, vectors
from catalog.queries import FilterError, Filters
from catalog.taxonomy import COLOUR_SWATCHES
from web.cache import own_session
from web.deps import get_session
from web.routers.common import browse, currencies, page_size, parse_id, read_filters, render

router = APIRouter(include_in_schema=False)

# Page titles name the garments in plural ("Dresses · black — Vitrina").
PLURALS = {"Dress": "Dresses", "Pants": "Pants", "Shoes": "Shoes", "Shorts": "Shorts",
           "Outwear": "Outerwear", "Body": "Bodies"}  # fmt: skip
SITE = "Vitrina"
SIMILAR_ON_PAGE = 8


def plural(category: str) -> str:
    return PLURALS.get(category, f"{category}s")


def view_title(filters: Filters, shop_names: dict[str, str], shop_name: str = "") -> str:
    """What the page shows, most telling first: "Dresses · black · Atelier Lina — Vitrina"."""
    parts = [shop_name] if shop_name else []
    parts += [", ".join(plural(c) for c in filters.category)] if filters.category else []
    parts += [", ".join(filters.colour)] if filters.colour else []
    parts += [shop_names.get(str(s), f"shop {s}") for s in filters.shop]
    parts += [", ".join(filters.network)] if filters.network else []
    if filters.q:
        parts.insert(0, f"“{filters.q}”")
    if not parts:
        return f"{SITE} — clothing from small shops"
    return " · ".join(parts) + f" — {SITE}"


def _grid(request: Request, session: Session, template: str, base: str, **context: Any) -> Response:
    shop = context.get("shop")
    shop_name = shop.name if shop else ""
    try:
        filters, cursor = read_filters(request, fixed_shop=shop.id if shop else None)
    except FilterError as exc:
        context.update(
            filters=Filters(),
            page=None,
            facets=None,
            error=str(exc),
            base=base,
            title=f"Check the filters · {shop_name or 'Catalogue'} — {SITE}",
            sorts=queries.SORTS,
        )
        return render(request, template, context, status=400)
    limit = page_size(request)
    page, facets = browse(request, session, filters, cursor, limit)
    shown = filters.without("shop") if shop else filters
    shop_names = {v.value: v.label for v in facets.values.get("shop", [])}
    priced = currencies(request, session, filters)
    context.update(
        title=view_title(shown, shop_names, shop_name),
        filter_count=_count(shown),
        shop_names=shop_names,
        currencies=priced,
        # Sorting or filtering by price across currencies compares bare amounts: say so.
        mixed_currencies=(filters.sort != "newest" or filters.has_price_filter())
        and not filters.currency
        and len(priced) > 1,
        sorts=queries.SORTS,
        filters=shown,
        all_filters=filters,
        page=page,
        facets=facets,
        first_page=cursor is None,
        error=None,
        base=base,
    )
    # The sidebar and the first page's grid are most of the rendering; they depend only on the
    # (cached) data and the filters, so they are cached with it.
    context["sidebar"] = _fragment(request, "_facets.html", context, (base, filters))
    grid_key = (base, filters, limit) if cursor is None else None
    context["grid"] = _fragment(request, "_grid.html", context, grid_key)
    return render(request, template, context)


def _count(filters: Filters) -> int:
    """Filters set, for the phone's "Filters (3)" button; a price range counts once."""
    values = [filters.category, filters.colour, filters.shop, filters.network]
    return (
        sum(len(v) for v in values)
        + bool(filters.date_from or filters.date_to)
        + bool(filters.q)
        + filters.has_price_filter()
    )


def _fragment(request: Request, name: str, context: dict, key: Hashable | None) -> Markup:
    """An included template rendered once per key and per version of its data: the cached
    page, counts and currencies it is made from (TTLCache.derived)."""
    template = request.app.state.templates.get_template(name)
    if key is None:
        return Markup(template.render(context))
    data = (context["page"], context["facets"], context["currencies"])
    return request.app.state.catalogue_cache.derived(
        ("html", name, key), data, lambda: Markup(template.render(context))
    )


@router.get("/")
def catalogue(request: Request, session: Session = Depends(get_session)) -> Response:
    return _grid(request, session, "catalogue.html", "/")


@router.get("/photos/{photo_id}")
def photo(photo_id: str, request: Request, session: Session = Depends(get_session)) -> Response:
    page = queries.photo_page(session, parse_id(photo_id))
    if page is None:
        raise HTTPException(
            404, "This photo is not in the catalogue: it may have been taken down by the shop."
        )
    # "More like this" from the stored vectors (the web app never loads the model); cached like
    # the grid's first pages, as a 100k-photo SQLite catalogue spends ~0.1 s on it.
    cache = request.app.state.catalogue_cache
    cache.follow(session)  # a moderator's decision shows within web.stale_seconds
    pid = page.item.id
    similar = cache.get_or_compute(
        ("similar", pid),
        own_session(
            request.app.state.cache_engine,
            lambda s: [x.item for x in vectors.similar(s, pid, None, SIMILAR_ON_PAGE) or []],
        ),
        background=True,
    )
    # One garment of a photo showing several: the original and its other entries.
    entries = regions.public_entries(session, page.item.id)
    return render(request, "photo.html", {"p": page, "similar": similar, "entries": entries})


@router.get("/shops")
def shops(request: Request, session: Session = Depends(get_session)) -> Response:
    return render(request, "shops.html", {"shops": queries.list_shops(session)})


@router.get("/shops/{shop_id}")
def shop(shop_id: str, request: Request, session: Session = Depends(get_session)) -> Response:
    found = queries.get_shop(session, parse_id(shop_id))
    if found is None:
        raise HTTPException(404, "There is no such shop.")
    return _grid(
        request,
        session,
        "shop.html",
        f"/shops/{found.id}",
        shop=found,
        profile=queries.profile_url(found),
    )


_SWATCH_CSS = "\n".join(
    f".sw-{name}{{background:{value}}}" for name, value in COLOUR_SWATCHES.items()
).encode()


@router.get("/swatches.css")
def swatches() -> Response:
    """Colour swatches as classes, so pages need no inline styles (strict CSP)."""
    return Response(
        _SWATCH_CSS, media_type="text/css", headers={"Cache-Control": "public, max-age=86400"}
    )
