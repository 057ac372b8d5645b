"""Moderator authentication: signed session cookie, CSRF tokens, API tokens, login throttling.

`require_moderator` is the dependency other routers reuse (e.g. the operator's admin pages).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlmodel import Session

from catalog import moderation
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
    """Every state-changing request must echo the session's token (form field or header)."""
    if request.method in SAFE_METHODS:
        return
    if request.headers.get("authorization", "").lower().startswith("bearer "):
        return  # API tokens are not sent automatically by browsers: no CSRF possible
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


async def api_moderator(
    request: Request,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
) -> str:
    """API moderation: `Authorization: Bearer <token>`, or a moderator session plus CSRF."""
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
    await csrf_protect(request)
    return name


# ---- login throttling --------------------------------------------------------------------


@dataclass
class _Attempts:
    failures: int = 0
    locked_until: float = 0.0


class LoginThrottle:
    """Counts failed logins per client address; locks the address out after too many.

    Kept in process memory: with several workers each keeps its own count (a stricter limit
    per worker, not a looser one overall).
    """

    def __init__(self, max_failures: int, lockout_seconds: int) -> None:
        self.max_failures, self.lockout_seconds = max_failures, lockout_seconds
        self._by_client: dict[str, _Attempts] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int:
        with self._lock:
            entry = self._by_client.get(client)
            if entry and entry.locked_until > time.monotonic():
                return int(entry.locked_until - time.monotonic()) + 1
        return 0

    def failed(self, client: str) -> None:
        with self._lock:
            if len(self._by_client) > 100_000:  # bounded memory under a spray of addresses
                self._by_client.clear()
            entry = self._by_client.setdefault(client, _Attempts())
            entry.failures += 1
            if entry.failures >= self.max_failures:
                entry.locked_until = time.monotonic() + self.lockout_seconds
                entry.failures = 0

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._by_client.pop(client, None)
