"""Helpers shared by the HTML and JSON routers: reading filters, cached facets, rendering."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request
from sqlmodel import Session

from catalog import queries
from catalog.queries import Cursor, FilterError, Filters, PriceCursor
from web.cache import Counted, counted, own_session


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
    the cache for at most `web.facet_cache_seconds`, kept up to date with other processes'
    writes (web.cache.CatalogueCache); deeper pages are cheap keyset queries and always run.
    """
    cache = request.app.state.catalogue_cache
    engine = request.app.state.cache_engine
    cache.follow(session)
    session.commit()  # a read: hand its connection back while the cache computes (cache_engine)
    if cursor is None:
        page = cache.get_or_compute(
            ("page", filters, limit),
            own_session(engine, lambda s: queries.list_items(s, filters, limit=limit)),
            background=True,
        )
    else:
        page = queries.list_items(session, filters, cursor=cursor, limit=limit)
    # The order changes no count: every order of one filter set shares its facets.
    facets = cache.get_or_compute(
        ("facets", filters.with_(sort="newest")),
        lambda: counted(cache, engine, lambda s: queries.facet_counts(s, filters)),
        background=True,
    )
    return page, _value(facets)


def _value(cached: Any) -> Any:
    return cached.value if isinstance(cached, Counted) else cached


def currencies(request: Request, session: Session, filters: Filters) -> list[tuple[str, int]]:
    """The price currencies under the filters, for the price form (cached like the facets;
    call after `browse`, which brings the cache up to date)."""
    cache = request.app.state.catalogue_cache
    engine = request.app.state.cache_engine
    return _value(
        cache.get_or_compute(
            ("currencies", filters.with_(sort="newest")),
            lambda: counted(cache, engine, lambda s: queries.currency_counts(s, filters)),
            background=True,
        )
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
