"""Login throttling: failed moderator logins per client address, kept in the catalogue so that
every web process (and a restarted one) sees the same count.

After `max_failures` failed attempts an address is locked out for `lockout_seconds`; a
successful login clears its count, and failures a day old are forgotten.

`attempt` counts an attempt *before* the password is checked, in one atomic
INSERT … ON CONFLICT DO UPDATE … RETURNING: of many attempts sent at once, only the first
`max_failures` get a password check, whichever worker they reach.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import case, delete, null, or_, select
from sqlmodel import Session, col

from catalog.crud import _insert
from catalog.models import LoginFailure, utcnow

FORGET_AFTER = timedelta(days=1)


def _key(client: str) -> str:
    return client[:255]


def retry_after(session: Session, client: str) -> int:
    """Seconds this address must still wait before it may try to log in again (0: now)."""
    until = session.execute(
        select(col(LoginFailure.locked_until)).where(col(LoginFailure.client) == _key(client))
    ).scalar_one_or_none()
    return _seconds_left(until, utcnow())


def _seconds_left(until: datetime | None, now: datetime) -> int:
    if until is None:
        return 0
    left = (until if until.tzinfo else until.replace(tzinfo=UTC)) - now  # SQLite: naive
    return int(left.total_seconds()) + 1 if left > timedelta(0) else 0


def attempt(session: Session, client: str, max_failures: int, lockout_seconds: int) -> int:
    """Count one login attempt; 0 if its password may be checked, else the seconds to wait.

    The attempt stays counted unless `succeeded` clears it, so a failure needs no second
    write. The attempt after `max_failures` uncleared ones starts a lockout.
    """
    now = utcnow()
    lock_end = now + timedelta(seconds=lockout_seconds)
    row = LoginFailure.__table__.c  # type: ignore[attr-defined]  # set by SQLModel, undeclared
    locked = row.locked_until.is_not(None) & (row.locked_until > now)
    # A forgotten count, or a lockout that has run out, starts over.
    fresh = (row.last_at < now - FORGET_AFTER) | row.locked_until.is_not(None)
    count = case((fresh, 0), else_=row.failures) + 1
    over = count > max_failures
    stmt = (
        _insert(session, LoginFailure)
        .values(client=_key(client), failures=1, first_at=now, last_at=now, locked_until=None)
        .on_conflict_do_update(
            index_elements=["client"],
            set_={
                "failures": case((locked, row.failures), (over, 0), else_=count),
                "locked_until": case((locked, row.locked_until), (over, lock_end), else_=null()),
                "first_at": case((fresh, now), else_=row.first_at),
                "last_at": now,
            },
        )
        .returning(LoginFailure.locked_until)
    )
    return _seconds_left(session.execute(stmt).scalar_one(), now)


def failed(session: Session, client: str, max_failures: int, lockout_seconds: int) -> None:
    """Count one failed login checked without `attempt`; the `max_failures`-th locks the address
    out. The web counts with `attempt` instead (before checking, so that a burst cannot race)."""
    now = utcnow()
    lock_end = now + timedelta(seconds=lockout_seconds)
    row = LoginFailure.__table__.c  # type: ignore[attr-defined]  # set by SQLModel, undeclared
    stale = row.last_at < now - FORGET_AFTER
    count = case((stale, 0), else_=row.failures) + 1
    locks = count >= max_failures
    first = max_failures <= 1
    stmt = (
        _insert(session, LoginFailure)
        .values(
            client=_key(client),
            failures=0 if first else 1,
            first_at=now,
            last_at=now,
            locked_until=lock_end if first else None,
        )
        .on_conflict_do_update(
            index_elements=["client"],
            set_={
                "failures": case((locks, 0), else_=count),
                "locked_until": case((locks, lock_end), else_=row.locked_until),
                "first_at": case((stale, now), else_=row.first_at),
                "last_at": now,
            },
        )
    )
    session.execute(stmt)


def succeeded(session: Session, client: str) -> None:
    """Clear this address's count (and drop other addresses' counts that are forgotten anyway)."""
    now = utcnow()
    session.execute(
        delete(LoginFailure).where(
            or_(
                col(LoginFailure.client) == _key(client),
                (col(LoginFailure.last_at) < now - FORGET_AFTER)
                & or_(
                    col(LoginFailure.locked_until).is_(None), col(LoginFailure.locked_until) < now
                ),
            )
        )
    )
