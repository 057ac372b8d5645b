"""Moderator authentication: sessions, CSRF tokens, API tokens, login throttling.

The signed cookie holds the key of a server-side session (catalog.access): logging out,
removing the moderator or `vitrina moderators logout` ends it even for a copied cookie.

`require_moderator` is the dependency other routers reuse (e.g. the operator's admin pages).
"""

from __future__ import annotations

import hmac
import secrets
import time

from fastapi import Depends, HTTPException, Request
from sqlmodel import Session

from catalog import access, logins, moderation
from catalog.config import Settings
from catalog.db import session_scope
from web.deps import get_session, get_settings

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


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
    """Start the session `check_login` opened for `name` (its key is on request.state)."""
    key = getattr(request.state, "moderator_session_key", None)
    # A fresh session and CSRF token on login: no fixation of a pre-login session.
    request.session.clear()
    if key is None:
        return
    request.session["moderator"] = name
    request.session["sid"] = key
    request.session["login_at"] = int(time.time())
    request.session["csrf"] = secrets.token_urlsafe(32)


def logout(request: Request) -> None:
    """End this session on the server too: a copy of the cookie stops working."""
    key = request.session.get("sid")
    request.session.clear()
    if isinstance(key, str) and key:
        with session_scope(request.app.state.engine) as session:
            access.close_session(session, key)


def session_moderator(request: Request, session: Session, settings: Settings) -> str | None:
    name = request.session.get("moderator")
    if not name:
        return None
    key = request.session.get("sid")
    too_old = time.time() - request.session.get("login_at", 0) > settings.web.session_hours * 3600
    # Logged out, expired, removed or disabled since login: the cookie alone is not enough.
    if too_old or not isinstance(key, str) or access.session_owner(session, key) != name:
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


def token_moderator(settings: Settings, session: Session, token: str) -> str | None:
    """The moderator an API token belongs to (None: unknown, expired, revoked or removed)."""
    return access.token_owner(session, token)


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
    """Verify a name and password (the attempt was counted already); a success clears it and
    opens a server-side session that `login` then puts in the cookie."""
    mod = moderation.authenticate(session, name, password)
    if mod is None:
        return False
    logins.succeeded(session, client_address(request))
    request.state.moderator_session_key = access.open_session(
        session, mod, settings.web.session_hours
    )
    return True
