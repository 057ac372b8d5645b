"""Moderators and their decisions: accounts (argon2), the review queue, audited label changes.

Every decision is a conditional UPDATE on (id, version): if someone else changed the photo in
the meantime nothing is written and `Conflict` says who and when, so no update is ever lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlmodel import Session

from catalog.models import ModerationEvent, Moderator, Photo, Post, Prediction, utcnow
from catalog.queries import MAX_ID, Filters, Item, _conditions, get_item
from catalog.taxonomy import CATEGORIES, COLOURS, HEADS, ReviewStatus

_hasher = PasswordHasher()
# Verified when the name is unknown, so a login takes as long whether or not the name exists.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
MIN_PASSWORD_LENGTH = 8
ACTIONS = ("accept", "correct", "reject")


class ModerationError(ValueError):
    """A request that cannot be carried out (unknown label, photo gone, nothing to undo)."""


class Conflict(Exception):
    """The photo changed since the moderator loaded it."""

    def __init__(self, photo_id: int, version: int, by: str = "", at: datetime | None = None):
        self.photo_id, self.version, self.by, self.at = photo_id, version, by, at
        who = f" by {by}" if by else ""
        when = f" at {at:%H:%M:%S} UTC" if at else ""
        super().__init__(
            f"Photo {photo_id} was changed{who}{when} after you opened it; "
            "nothing was saved. Look at its current labels and decide again."
        )


# ---- accounts ----------------------------------------------------------------------------


def add_moderator(session: Session, name: str, password: str) -> Moderator:
    name = name.strip()
    if not name or len(name) > 255 or not name.isprintable() or any(c.isspace() for c in name):
        raise ModerationError("a moderator name is 1–255 printable characters without spaces")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ModerationError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    if session.execute(select(Moderator).where(Moderator.name == name)).first():
        raise ModerationError(f"moderator {name!r} already exists")
    mod = Moderator(name=name, password_hash=_hasher.hash(password))
    session.add(mod)
    session.flush()
    return mod


def list_moderators(session: Session) -> Sequence[Moderator]:
    return session.execute(select(Moderator).order_by(Moderator.name)).scalars().all()


def remove_moderator(session: Session, name: str) -> bool:
    mod = session.execute(select(Moderator).where(Moderator.name == name)).scalar_one_or_none()
    if mod is None:
        return False
    session.delete(mod)
    session.flush()
    return True


def active_moderator(session: Session, name: str) -> Moderator | None:
    return session.execute(
        select(Moderator).where(Moderator.name == name, Moderator.active)
    ).scalar_one_or_none()


def authenticate(session: Session, name: str, password: str) -> Moderator | None:
    # A NUL cannot be in a stored name and PostgreSQL refuses it in a query: no lookup.
    mod = None if "\x00" in name else active_moderator(session, name[:255])
    try:
        _hasher.verify(mod.password_hash if mod else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if mod is None:
        return None
    mod.last_login_at = utcnow()
    session.add(mod)
    return mod


# ---- the queue ---------------------------------------------------------------------------


@dataclass
class QueueItem:
    item: Item
    version: int
    confidence: dict[str, float | None]
    top: dict[str, list[tuple[str, float]]]


def _review_conditions(filters: Filters | None, dialect: str) -> list[Any]:
    conds: list[Any] = [Photo.status == ReviewStatus.needs_review]
    if filters is not None:
        # Reuse the shoppers' filters but swap "public" for "needs review".
        extra, _ = _conditions(filters, dialect)
        conds.extend(extra[1:])
    return conds


def queue_count(session: Session) -> int:
    return int(
        session.execute(
            select(func.count()).select_from(Photo).where(Photo.status == ReviewStatus.needs_review)
        ).scalar_one()
    )


def _sort_key(dialect: str) -> Any:
    least = func.least if dialect == "postgresql" else func.min
    return least(
        func.coalesce(Photo.category_confidence, 0.0), func.coalesce(Photo.colour_confidence, 0.0)
    )


def queue(
    session: Session,
    *,
    skip: Iterable[int] = (),
    filters: Filters | None = None,
    limit: int = 1,
) -> list[QueueItem]:
    """Photos needing review, least confident first (the lower of the two heads' confidences)."""
    dialect = session.get_bind().dialect.name
    conds = _review_conditions(filters, dialect)
    skip = [i for i in skip if 0 < i <= MAX_ID]
    if skip:
        conds.append(Photo.id.not_in(skip))
    query = (
        select(Photo.id, Photo.version, Photo.category_confidence, Photo.colour_confidence)
        .join(Post, Post.id == Photo.post_id)
        .where(*conds)
        .order_by(_sort_key(dialect), Photo.id)
        .limit(limit)
    )
    out = []
    for pid, version, cat_conf, col_conf in session.execute(query).all():
        item = get_item(session, pid, public_only=False)
        if item is not None:
            out.append(
                QueueItem(
                    item,
                    version,
                    {"category": cat_conf, "colour": col_conf},
                    top_labels(session, pid),
                )
            )
    return out


def top_labels(session: Session, photo_id: int, k: int = 3) -> dict[str, list[tuple[str, float]]]:
    """The newest model's top-k per head, as (label, probability)."""
    out: dict[str, list[tuple[str, float]]] = {head: [] for head in HEADS}
    rows = session.execute(
        select(Prediction.head, Prediction.top, Prediction.label, Prediction.confidence)
        .where(Prediction.photo_id == photo_id)
        .order_by(Prediction.created_at.desc(), Prediction.id.desc())
    ).all()
    for head, top, label, confidence in rows:
        if head in out and not out[head]:
            pairs = [(str(t[0]), float(t[1])) for t in (top or []) if len(t) == 2]
            out[head] = (pairs or [(label, confidence)])[:k]
    return out


# ---- decisions ---------------------------------------------------------------------------


def _snapshot(photo: Photo) -> dict[str, Any]:
    return {
        "status": photo.status,
        "category": photo.category,
        "colour": photo.colour,
        "category_confidence": photo.category_confidence,
        "colour_confidence": photo.colour_confidence,
        "version": photo.version,
    }


def _conflict(session: Session, photo_id: int) -> Conflict:
    photo = session.get(Photo, photo_id, populate_existing=True)
    last = session.execute(
        select(ModerationEvent)
        .where(ModerationEvent.photo_id == photo_id)
        .order_by(ModerationEvent.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return Conflict(
        photo_id,
        photo.version if photo else 0,
        last.moderator if last else "",
        last.at if last else None,
    )


def _write(
    session: Session,
    photo_id: int,
    version: int,
    moderator: str,
    action: str,
    changes: dict[str, Any],
    extra_after: dict[str, Any] | None = None,
) -> ModerationEvent:
    photo = session.get(Photo, photo_id, populate_existing=True) if 0 < photo_id <= MAX_ID else None
    if photo is None:
        raise ModerationError(f"no photo {photo_id}")
    before = _snapshot(photo)
    now = utcnow()
    result = session.execute(
        update(Photo)
        .where(Photo.id == photo_id, Photo.version == version)
        .values(**changes, version=Photo.version + 1, reviewed_at=now, reviewed_by=moderator)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise _conflict(session, photo_id)
    photo = session.get(Photo, photo_id, populate_existing=True)
    assert photo is not None
    event = ModerationEvent(
        photo_id=photo_id,
        moderator=moderator,
        action=action,
        before=before,
        after={**_snapshot(photo), **(extra_after or {})},
        at=now,
    )
    session.add(event)
    session.flush()
    return event


def decide(
    session: Session,
    photo_id: int,
    version: int,
    moderator: str,
    action: str,
    *,
    category: str | None = None,
    colour: str | None = None,
    audit_action: str | None = None,
) -> ModerationEvent:
    """accept | correct (category and/or colour) | reject, if the photo is still at `version`."""
    if action == "accept":
        changes: dict[str, Any] = {"status": ReviewStatus.approved}
    elif action == "reject":
        changes = {"status": ReviewStatus.rejected}
    elif action == "correct":
        changes = {"status": ReviewStatus.corrected}
        if category:
            if category not in CATEGORIES:
                raise ModerationError(f"unknown category {category!r}")
            changes.update(category=category, category_confidence=1.0)
        if colour:
            if colour not in COLOURS:
                raise ModerationError(f"unknown colour {colour!r}")
            changes.update(colour=colour, colour_confidence=1.0)
        if len(changes) == 1:
            raise ModerationError("a correction needs a category or a colour")
        photo = session.get(Photo, photo_id) if 0 < photo_id <= MAX_ID else None
        if photo is not None and all(
            getattr(photo, k) == changes[k] for k in ("category", "colour") if k in changes
        ):
            # Choosing the label the model already gave is a confirmation, not a correction.
            changes["status"] = ReviewStatus.approved
    else:
        raise ModerationError(f"unknown action {action!r}")
    return _write(session, photo_id, version, moderator, audit_action or action, changes)


def undo_last(session: Session, moderator: str) -> ModerationEvent:
    """Revert this moderator's latest decision that is not undone yet (if nobody changed since)."""
    events = session.execute(
        select(ModerationEvent)
        .where(ModerationEvent.moderator == moderator)
        .order_by(ModerationEvent.id.desc())
        .limit(200)
    ).scalars()
    undone: set[int] = set()
    for event in events:
        if event.action == "undo":
            undone.add(int(event.after.get("undoes", 0)))
            continue
        if event.id in undone:
            continue
        keys = ("status", "category", "colour", "category_confidence", "colour_confidence")
        restore = {k: event.before[k] for k in keys if k in event.before}
        return _write(
            session,
            event.photo_id,
            int(event.after["version"]),
            moderator,
            "undo",
            restore,
            {"undoes": event.id},
        )
    raise ModerationError("nothing to undo")


@dataclass
class BulkResult:
    done: list[int]
    conflicts: list[Conflict]


def bulk_decide(
    session: Session, moderator: str, action: str, photos: Iterable[tuple[int, int]]
) -> BulkResult:
    """Accept or reject many photos, each under its own version check."""
    if action not in ("accept", "reject"):
        raise ModerationError("bulk actions are accept and reject")
    result = BulkResult([], [])
    for photo_id, version in photos:
        try:
            # A conflict or a bad id is detected before anything is written for that photo.
            decide(session, photo_id, version, moderator, action, audit_action=f"bulk_{action}")
            result.done.append(photo_id)
        except Conflict as exc:
            result.conflicts.append(exc)
        except ModerationError:
            continue
    return result


def recent_events(session: Session, limit: int = 20) -> Sequence[ModerationEvent]:
    return (
        session.execute(select(ModerationEvent).order_by(ModerationEvent.id.desc()).limit(limit))
        .scalars()
        .all()
    )


def photo_events(session: Session, photo_id: int) -> Sequence[ModerationEvent]:
    """One photo's audit trail, newest first."""
    return (
        session.execute(
            select(ModerationEvent)
            .where(ModerationEvent.photo_id == photo_id)
            .order_by(ModerationEvent.id.desc())
        )
        .scalars()
        .all()
    )
