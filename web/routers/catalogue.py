"""The shoppers' pages: the filtered grid, one photo, the shops. All work without JavaScript."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from sqlmodel import Session

from catalog import queries
from catalog.queries import FilterError, Filters
from catalog.taxonomy import COLOUR_SWATCHES
from web.deps import get_session
from web.routers.common import cached_facets, page_size, parse_id, read_filters, render

router = APIRouter(include_in_schema=False)


def _grid(request: Request, session: Session, template: str, base: str, **context) -> Response:
    shop = context.get("shop")
    try:
        filters, cursor = read_filters(request, fixed_shop=shop.id if shop else None)
    except FilterError as exc:
        context.update(filters=Filters(), page=None, facets=None, error=str(exc), base=base)
        return render(request, template, context, status=400)
    page = queries.list_items(session, filters, cursor=cursor, limit=page_size(request))
    facets = cached_facets(request, session, filters)
    shown = filters.without("shop") if shop else filters
    context.update(
        filters=shown,
        all_filters=filters,
        page=page,
        facets=facets,
        first_page=cursor is None,
        error=None,
        base=base,
    )
    return render(request, template, context)


@router.get("/")
def catalogue(request: Request, session: Session = Depends(get_session)) -> Response:
    return _grid(request, session, "catalogue.html", "/")


@router.get("/photos/{photo_id}")
def photo(photo_id: str, request: Request, session: Session = Depends(get_session)) -> Response:
    page = queries.photo_page(session, parse_id(photo_id))
    if page is None:
        raise HTTPException(404, "This photo is not in the catalogue.")
    return render(request, "photo.html", {"p": page})


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
