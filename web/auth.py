"""Moderator authentication: signed session cookie, CSRF tokens, API tokens, login throttling.

`require_moderator` is the dependency other routers reuse (e.g. the operator's admin pages).
"""

from __future__ import annotations

import hmac
import secrets
import time

from fastapi import Depends, HTTPException, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlmodel import Session

from catalog import logins, moderation
from catalog.config import Settings
from web.deps import get_session, get_settings

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
TOKEN_SALT = "vitrina-api-token"


class LoginRequired(Exception):
    """Raised for anonymous requests to moderator pages; turned into a redirect or a 401."""


def csrf_token(request: Request) -> str:
    """This browser session's CSRF token (created on first use)."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def csrf_protect(request: Request) -> None:
    """Every state-changing request must echo the session's token (form field or header).

    No exception for an `Authorization` header: the /moderate forms authenticate by cookie
    only, so a header (valid or junk) must not switch the check off.
    """
    if request.method in SAFE_METHODS:
        return
    expected = request.session.get("csrf", "")
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent and "form" in request.headers.get("content-type", ""):
        form = await request.form()
        value = form.get(CSRF_FIELD, "")
        sent = value if isinstance(value, str) else ""
    if not expected or not sent or not hmac.compare_digest(expected, sent):
        raise HTTPException(403, "Missing or invalid CSRF token: reload the page and try again.")


def login(request: Request, name: str) -> None:
    # A fresh session and CSRF token on login: no fixation of a pre-login session.
    request.session.clear()
    request.session["moderator"] = name
    request.session["login_at"] = int(time.time())
    request.session["csrf"] = secrets.token_urlsafe(32)


def logout(request: Request) -> None:
    request.session.clear()


def session_moderator(request: Request, session: Session, settings: Settings) -> str | None:
    name = request.session.get("moderator")
    if not name:
        return None
    if time.time() - request.session.get("login_at", 0) > settings.web.session_hours * 3600:
        request.session.clear()
        return None
    if moderation.active_moderator(session, name) is None:  # removed or disabled since login
        request.session.clear()
        return None
    return name


def require_moderator(
    request: Request,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
) -> str:
    """The logged-in moderator's name; anonymous requests are refused (HTML: sent to login)."""
    name = session_moderator(request, session, settings)
    if name is None:
        raise LoginRequired()
    return name


def optional_moderator(
    request: Request,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
) -> str | None:
    return session_moderator(request, session, settings)


# ---- API tokens --------------------------------------------------------------------------


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.web.secret_key, salt=TOKEN_SALT)


def issue_token(settings: Settings, name: str) -> str:
    return _serializer(settings).dumps({"m": name})


def token_moderator(settings: Settings, session: Session, token: str) -> str | None:
    try:
        data = _serializer(settings).loads(token, max_age=settings.web.api_token_days * 86400)
    except BadSignature:
        return None
    name = data.get("m") if isinstance(data, dict) else None
    if not isinstance(name, str) or moderation.active_moderator(session, name) is None:
        return None
    return name


def api_moderator(
    request: Request,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
) -> str:
    """API moderation: `Authorization: Bearer <token>`, or a moderator session plus CSRF header.

    Synchronous on purpose: FastAPI runs it in the thread pool, so its database reads never
    block the event loop.
    """
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        name = token_moderator(settings, session, auth[7:].strip())
        if name is None:
            raise HTTPException(401, "Invalid or expired API token.")
        return name
    name = session_moderator(request, session, settings)
    if name is None:
        raise HTTPException(
            401, "Moderator session or API token required.", {"WWW-Authenticate": "Bearer"}
        )
    if request.method not in SAFE_METHODS:
        expected = request.session.get("csrf", "")
        sent = request.headers.get(CSRF_HEADER, "")
        if not expected or not sent or not hmac.compare_digest(expected, sent):
            raise HTTPException(403, "Missing or invalid CSRF token: send it as X-CSRF-Token.")
    return name


# ---- login throttling --------------------------------------------------------------------
# Failures are counted per client address in the catalogue (catalog.logins): every web worker,
# and a restarted server, sees the same count.


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def login_retry_after(request: Request, session: Session) -> int:
    """Count this login attempt; seconds the client must wait (0: its password may be checked).

    Counted and committed before any password check, so that many attempts sent at once see
    each other: at most `web.login_max_failures` of them reach argon2.
    """
    web = request.app.state.settings.web
    wait = logins.attempt(
        session, client_address(request), web.login_max_failures, web.login_lockout_seconds
    )
    session.commit()
    return wait


def check_login(
    request: Request, session: Session, settings: Settings, name: str, password: str
) -> bool:
    """Verify a name and password (the attempt was counted already); a success clears it."""
    if moderation.authenticate(session, name, password) is None:
        return False
    logins.succeeded(session, client_address(request))
    return True
