"""Moderators' access: server-side browser sessions and revocable API tokens.

Both are random secrets of which only a SHA-256 is stored, tied to the moderator's row: logging
out deletes a session, revoking deletes a token, and removing a moderator deletes all of theirs
(ON DELETE CASCADE), so a moderator added again under the same name starts with none.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select
from sqlmodel import Session, col

from catalog.models import ApiToken, Moderator, ModeratorSession, utcnow

TOKEN_PREFIX = "vt_"
TOUCH_EVERY = timedelta(minutes=5)  # last_used_at is written at most this often per token


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite hands back naive UTC


def _active(session: Session, name: str) -> Moderator | None:
    return session.execute(
        select(Moderator).where(col(Moderator.name) == name, col(Moderator.active))
    ).scalar_one_or_none()


# ---- browser sessions --------------------------------------------------------------------


def open_session(session: Session, moderator: Moderator, hours: int) -> str:
    """A new session for `moderator`; returns the key the cookie keeps."""
    now = utcnow()
    assert moderator.id is not None  # a stored moderator
    session.execute(delete(ModeratorSession).where(col(ModeratorSession.expires_at) < now))
    key = secrets.token_urlsafe(32)
    session.add(
        ModeratorSession(
            moderator_id=moderator.id,
            key_hash=_hash(key),
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    session.flush()
    return key


def session_owner(session: Session, key: str) -> str | None:
    """The active moderator whose unexpired session has this key, if any."""
    if not key or len(key) > 128:
        return None
    return session.execute(
        select(col(Moderator.name))
        .join(ModeratorSession, col(ModeratorSession.moderator_id) == col(Moderator.id))
        .where(
            col(ModeratorSession.key_hash) == _hash(key),
            col(ModeratorSession.expires_at) > utcnow(),
            col(Moderator.active),
        )
    ).scalar_one_or_none()


def close_session(session: Session, key: str) -> None:
    session.execute(delete(ModeratorSession).where(col(ModeratorSession.key_hash) == _hash(key)))


def close_all_sessions(session: Session, name: str) -> int:
    """Log `name` out everywhere; returns how many sessions were open."""
    ids = select(col(Moderator.id)).where(col(Moderator.name) == name).scalar_subquery()
    result = session.execute(
        delete(ModeratorSession).where(col(ModeratorSession.moderator_id) == ids)
    )
    return int(cast(CursorResult[Any], result).rowcount or 0)


# ---- API tokens --------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenInfo:
    id: int
    label: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None


def issue_token(session: Session, name: str, days: int, label: str = "") -> tuple[int, str]:
    """A new token for the active moderator `name`: (its id, the secret, shown only now)."""
    mod = _active(session, name)
    if mod is None:
        raise LookupError(f"no active moderator {name}")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    assert mod.id is not None  # a stored moderator
    row = ApiToken(
        moderator_id=mod.id,
        token_hash=_hash(secret),
        label=label[:255],
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    session.add(row)
    session.flush()
    assert row.id is not None  # the flush gave it one
    return row.id, secret


def token_owner(session: Session, secret: str) -> str | None:
    """The active moderator this unexpired, unrevoked token belongs to, if any."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 128:
        return None
    now = utcnow()
    row = session.execute(
        select(ApiToken, col(Moderator.name))
        .join(Moderator, col(ApiToken.moderator_id) == col(Moderator.id))
        .where(
            col(ApiToken.token_hash) == _hash(secret),
            col(ApiToken.expires_at) > now,
            col(Moderator.active),
        )
    ).first()
    if row is None:
        return None
    token, name = row
    if token.last_used_at is None or _aware(token.last_used_at) < now - TOUCH_EVERY:
        token.last_used_at = now
        session.add(token)
    return name


def list_tokens(session: Session, name: str) -> Sequence[TokenInfo]:
    rows = session.execute(
        select(ApiToken)
        .join(Moderator, col(ApiToken.moderator_id) == col(Moderator.id))
        .where(col(Moderator.name) == name)
        .order_by(col(ApiToken.id))
    ).scalars()
    return [TokenInfo(t.id, t.label, t.created_at, t.expires_at, t.last_used_at) for t in rows]


def revoke_token(session: Session, name: str, token_id: int) -> bool:
    ids = select(col(Moderator.id)).where(col(Moderator.name) == name).scalar_subquery()
    result = session.execute(
        delete(ApiToken).where(col(ApiToken.id) == token_id, col(ApiToken.moderator_id) == ids)
    )
    return bool(cast(CursorResult[Any], result).rowcount)


def revoke_all_tokens(session: Session, name: str) -> int:
    ids = select(col(Moderator.id)).where(col(Moderator.name) == name).scalar_subquery()
    result = session.execute(delete(ApiToken).where(col(ApiToken.moderator_id) == ids))
    return int(cast(CursorResult[Any], result).rowcount or 0)
