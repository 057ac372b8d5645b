"""Request-scoped dependencies: settings, a database session, the templates."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Depends, Request
from sqlmodel import Session

from catalog.config import Settings
from catalog.db import session_scope

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def _request_session(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.engine) as session:
        if request.method not in SAFE_METHODS and session.get_bind().dialect.name == "sqlite":
            # Take SQLite's write lock up front: a deferred transaction that read first and
            # then writes fails at once ("database is locked") if another writer got in between.
            session.connection().exec_driver_sql("BEGIN IMMEDIATE")
        yield session


def get_session(session: Session = Depends(_request_session, scope="function")) -> Session:
    """A session per request, committed when the handler returns without raising.

    Function scope: the commit happens before the response is sent, so a client that was told
    "done" reads its change at once (a request-scoped `yield` would commit after the reply).
    """
    return session
