"""web.security's headers on every response, and web.routers.common's reading of ids and
filters from a request: on a bare Starlette app and real ASGI requests, no catalogue."""

from __future__ import annotations

import pytest
from fastapi import HTTPException
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from catalog.queries import MAX_ID, FilterError
from web.routers.common import parse_id, query_lists, read_filters
from web.security import CSP, DOCS_CSP, SecurityHeaders


def _page(request: Request) -> PlainTextResponse:
    cached = request.query_params.get("cache")
    headers = {"cache-control": cached} if cached else {}
    if request.query_params.get("frames"):
        headers["x-frame-options"] = "SAMEORIGIN"
    return PlainTextResponse("ok", headers=headers)


def client(https: bool = False) -> TestClient:
    app = Starlette(routes=[Route("/{path:path}", _page)])
    return TestClient(SecurityHeaders(app, https=https))


def test_every_page_gets_the_security_headers() -> None:
    r = client().get("/photo/1")
    assert r.headers["content-security-policy"] == CSP
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "same-origin"
    assert "strict-transport-security" not in r.headers
    assert "max-age=31536000" in client(https=True).get("/").headers["strict-transport-security"]


def test_only_the_api_docs_may_use_inline_styles() -> None:
    assert client().get("/api/v1/docs").headers["content-security-policy"] == DOCS_CSP
    assert "unsafe-inline" not in CSP


def test_a_header_the_page_set_itself_is_kept() -> None:
    r = client().get("/", params={"frames": "1", "cache": "public, max-age=60"})
    assert r.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    assert r.headers["cache-control"] == "public, max-age=60"


@pytest.mark.parametrize("path", ["/moderate/queue", "/api/v1/moderation/photos", "/admin/runs"])
def test_private_pages_are_never_cached(path: str) -> None:
    r = client().get(path, params={"cache": "public, max-age=60"})
    assert r.headers.get_list("cache-control") == ["no-store"]


def test_plausible_ids_only() -> None:
    assert parse_id("1") == 1 and parse_id(str(MAX_ID)) == MAX_ID
    for bad in ("0", "-1", "1.0", "abc", "١٢", "²", "", str(MAX_ID + 1), "1" * 11):
        with pytest.raises(HTTPException) as caught:
            parse_id(bad)
        assert caught.value.status_code == 404, bad


def request(query: str) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "query_string": query.encode(),
                    "headers": []})  # fmt: skip


def test_repeated_parameters_are_kept_in_order() -> None:
    assert query_lists(request("colour=red&colour=blue&q=linen")) == {
        "colour": ["red", "blue"],
        "q": ["linen"],
    }


def test_filters_from_the_query_string_and_a_shop_page_fixes_its_shop() -> None:
    filters, cursor = read_filters(request("colour=red&colour=blue&shop=9"))
    assert set(filters.colour) == {"red", "blue"} and cursor is None
    filters, _ = read_filters(request("shop=9&colour=red"), fixed_shop=3)
    assert filters.shop == (3,)
    with pytest.raises(FilterError, match="colour"):
        read_filters(request("colour=plaid"))
    with pytest.raises(FilterError):
        read_filters(request("after=not-a-cursor"))
