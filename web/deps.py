"""Request-scoped dependencies: settings, a database session, the templates."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlmodel import Session

from catalog.config import Settings
from catalog.db import session_scope


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    """A session per request; committed when the handler returns without raising."""
    with session_scope(request.app.state.engine) as session:
        yield session
