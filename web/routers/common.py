"""Helpers shared by the HTML and JSON routers: reading filters, cached facets, rendering."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request
from sqlmodel import Session

from catalog import queries
from catalog.queries import Cursor, FilterError, Filters, PriceCursor


def query_lists(request: Request) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    return params


def read_filters(
    request: Request, *, fixed_shop: int | None = None
) -> tuple[Filters, Cursor | PriceCursor | None]:
    """Filters and cursor from the query string; FilterError for values that cannot be right."""
    params = query_lists(request)
    if fixed_shop is not None:
        params["shop"] = [str(fixed_shop)]
    filters = queries.parse_filters(params)
    after = (params.get("after") or [""])[0]
    cursor = queries.decode_cursor(after, filters.sort) if after else None
    return filters, cursor


def browse(
    request: Request,
    session: Session,
    filters: Filters,
    cursor: Cursor | PriceCursor | None,
    limit: int,
) -> tuple[queries.Page, queries.Facets]:
    """One page of the grid and the facet counts, as the HTML page and the API both show them.

    The counts, and the first page of each filter set (what most visitors ask for), come from
    the cache while the catalogue's version stamp is unchanged and for at most
    `web.facet_cache_seconds`; deeper pages are cheap keyset queries and always run.
    """
    cache = request.app.state.catalogue_cache
    if cache.seconds > 0:
        cache.sync(queries.catalogue_version(session))
    if cursor is None:
        page = cache.get_or_compute(
            ("page", filters, limit), lambda: queries.list_items(session, filters, limit=limit)
        )
    else:
        page = queries.list_items(session, filters, cursor=cursor, limit=limit)
    # The order changes no count: every order of one filter set shares its facets.
    facets = cache.get_or_compute(
        ("facets", filters.with_(sort="newest")), lambda: queries.facet_counts(session, filters)
    )
    return page, facets


def currencies(request: Request, session: Session, filters: Filters) -> list[tuple[str, int]]:
    """The price currencies under the filters, for the price form (cached like the facets;
    call after `browse`, which syncs the cache with the catalogue)."""
    return request.app.state.catalogue_cache.get_or_compute(
        ("currencies", filters.with_(sort="newest")),
        lambda: queries.currency_counts(session, filters),
    )


def page_size(request: Request, requested: int | None = None) -> int:
    default = request.app.state.settings.web.page_size
    return max(1, min(requested or default, 200))


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Any:
    from web.auth import csrf_token

    context.setdefault("moderator", request.session.get("moderator"))
    if context["moderator"]:
        context.setdefault("csrf", csrf_token(request))
    return request.app.state.templates.TemplateResponse(request, name, context, status_code=status)


def parse_id(value: str) -> int:
    """Path ids: anything but a plausible id is simply not found (never a database error)."""
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        raise HTTPException(404)
    number = int(value)
    if not 0 < number <= queries.MAX_ID:
        raise HTTPException(404)
    return number


__all__ = ["FilterError", "browse", "parse_id", "read_filters", "render"]
