"""The app factory: `create_app(settings)` wires settings, database, middleware and routers.

Routers live in web/routers/, one per area; another package adds its own with
`app.include_router(...)` and can protect it with `Depends(web.auth.require_moderator)`.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

import fastapi_offline
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from catalog.config import DEFAULT_SECRET_KEY, Settings
from catalog.db import make_engine
from web import ops
from web.auth import LoginRequired
from web.cache import CatalogueCache
from web.routers import api, catalogue, media, moderate
from web.security import SecurityHeaders
from web.templating import make_templates

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).parent / "static"
# A web request never waits long on the database: a lock held by a stuck writer, a runaway
# query or a transaction left open (e.g. a client that went away) ends in a 503, not a frozen
# worker. The nightly job uses its own engine without these limits.
WEB_SQLITE_BUSY_S = 5
WEB_PG_OPTIONS = (
    "-c statement_timeout=15000 -c lock_timeout=5000 -c idle_in_transaction_session_timeout=30000"
)
SESSION_COOKIE = "vitrina_session"


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error(request: Request, status: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": message}, status_code=status)
    return request.app.state.templates.TemplateResponse(
        request, "error.html", {"status": status, "message": message}, status_code=status
    )


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _exc: LoginRequired) -> Response:
        if request.method == "GET" and not _wants_json(request):
            target = quote(request.url.path, safe="/")
            return RedirectResponse(f"/moderate/login?next={target}", status_code=303)
        return _error(request, 401, "Log in as a moderator first.")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else "Error"
        if exc.status_code == 404 and message == "Not Found":
            message = "There is nothing at this address."
        response = _error(request, exc.status_code, message)
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        if _wants_json(request):
            errors = [
                {"loc": e.get("loc"), "msg": e.get("msg"), "type": e.get("type")}
                for e in exc.errors()
            ]
            return JSONResponse({"detail": errors}, status_code=422)
        return _error(request, 400, "This request has a value that is not valid.")

    @app.exception_handler(OperationalError)
    async def busy(request: Request, exc: OperationalError) -> Response:
        # A lock or statement timeout (DB_TIMEOUTS): say so instead of hanging or a bare 500.
        log.warning("database busy on %s %s: %s", request.method, request.url.path, exc.orig)
        response = _error(request, 503, "The catalogue is busy; try again in a moment.")
        response.headers["Retry-After"] = "2"
        return response

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error(request, 500, "Something went wrong on our side.")


DOCS_URL = "/api/v1/docs"
# Swagger UI's own files, from the fastapi-offline distribution: the docs work offline.
DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"
DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} API — Swagger UI</title>
<link rel="icon" href="/static-docs/favicon.png">
<link rel="stylesheet" href="/static-docs/swagger-ui.css">
</head><body data-openapi="{openapi}"><div id="swagger-ui"></div>
<script src="/static-docs/swagger-ui-bundle.js"></script>
<script src="/static/docs.js"></script>
</body></html>
"""


def _api_docs(app: FastAPI) -> None:
    app.mount("/static-docs", StaticFiles(directory=DOCS_ASSETS), name="static-docs")
    openapi = html.escape(app.openapi_url or "")
    page = DOCS_PAGE.format(title=html.escape(app.title), openapi=openapi)

    @app.get(DOCS_URL, include_in_schema=False)
    def api_docs() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/docs", include_in_schema=False)
    def docs() -> RedirectResponse:
        return RedirectResponse(DOCS_URL, status_code=308)


def create_app(
    settings: Settings, *, engine: Engine | None = None, routers: Sequence[APIRouter] = ()
) -> FastAPI:
    """The whole site. `routers` are included after the built-in ones (e.g. health, admin)."""
    app = FastAPI(
        title="Vitrina",
        summary="Clothing from small shops' social accounts, labelled by category and colour.",
        version="1",
        docs_url=None,  # served by _api_docs from local files, not FastAPI's CDN page
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    app.state.settings = settings
    app.state.engine = engine or make_engine(
        settings.database_url,
        echo=settings.database.echo,
        busy_timeout_s=WEB_SQLITE_BUSY_S,
        pg_options=WEB_PG_OPTIONS,
    )
    # The cache computes with connections of its own: a request holding one of the main pool's
    # while its computation waits for another would, 15 such at once, wait on itself.
    app.state.cache_engine = engine or make_engine(
        settings.database_url,
        echo=settings.database.echo,
        busy_timeout_s=WEB_SQLITE_BUSY_S,
        pg_options=WEB_PG_OPTIONS,
    )
    app.state.templates = make_templates()
    app.state.catalogue_cache = CatalogueCache(
        settings.web.facet_cache_seconds,
        stale_seconds=settings.web.stale_seconds,
        everything=settings.web.invalidation == "global",
    )
    if settings.web.secret_key == DEFAULT_SECRET_KEY:
        log.warning("web.secret_key is the default: set VITRINA_WEB__SECRET_KEY in production")

    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.web.secret_key,
        session_cookie=SESSION_COOKIE,
        max_age=settings.web.session_hours * 3600,
        same_site="lax",
        https_only=settings.web.base_url.startswith("https://"),  # Secure cookie under https
    )
    app.add_middleware(SecurityHeaders, https=settings.web.base_url.startswith("https://"))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    _api_docs(app)
    for router in (catalogue.router, media.router, moderate.router, api.router, *routers):
        app.include_router(router)
    app.include_router(ops.router)  # /healthz, /metrics, /admin/runs (pipeline, issue 6)
    _install_error_handlers(app)

    @app.get("/robots.txt", include_in_schema=False)
    def robots() -> HTMLResponse:
        return HTMLResponse("User-agent: *\nDisallow: /moderate\n", media_type="text/plain")

    return app


__all__ = ["HTTPException", "create_app"]
