"""Moderators and their decisions: accounts (argon2), the review queue, audited label changes.

Each label is decided on its own: the queue holds every photo with a label in review, a
decision on one label leaves the other as it is, and the photo's status follows its two
label states (catalog.taxonomy.photo_status).

Every decision is a conditional UPDATE on (id, version): if someone else changed the photo in
the meantime nothing is written and `Conflict` says who and when, so no update is ever lost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import case, func, select
from sqlmodel import Session, col

from catalog import crud
from catalog.evidence import TextEvidence
from catalog.models import ModerationEvent, Moderator, Photo, Post, Prediction, utcnow
from catalog.queries import MAX_ID, Filters, Item, _conditions, get_item
from catalog.taxonomy import (
    CATEGORIES,
    COLOURS,
    DECIDED_STATES,
    HEADS,
    LEGACY_STATES,
    PUBLIC_STATUSES,
    REVIEW_STATUSES,
    LabelState,
    ReviewStatus,
    label_states,
    photo_status,
)

_hasher = PasswordHasher()
# Verified when the name is unknown, so a login takes as long whether or not the name exists.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
MIN_PASSWORD_LENGTH = 8
ACTIONS = ("accept", "correct", "reject")
BULK_ACTIONS = ("accept", "reject", "correct")
REPORTER = ""  # a shopper's report: no moderator name is empty, so none is mistaken for it
# The audit actions that decide a photo's labels, one by one or in bulk (what retraining counts
# as new evidence); an undo takes a decision back and is not one.
DECISIONS = (*ACTIONS, *(f"bulk_{a}" for a in ACTIONS))


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
    if session.execute(select(Moderator).where(col(Moderator.name) == name)).first():
        raise ModerationError(f"moderator {name!r} already exists")
    mod = Moderator(name=name, password_hash=_hasher.hash(password))
    session.add(mod)
    session.flush()
    return mod


def list_moderators(session: Session) -> Sequence[Moderator]:
    return session.execute(select(Moderator).order_by(Moderator.name)).scalars().all()


def remove_moderator(session: Session, name: str) -> bool:
    mod = session.execute(select(Moderator).where(col(Moderator.name) == name)).scalar_one_or_none()
    if mod is None:
        return False
    session.delete(mod)
    session.flush()
    return True


def active_moderator(session: Session, name: str) -> Moderator | None:
    return session.execute(
        select(Moderator).where(col(Moderator.name) == name, col(Moderator.active))
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


@dataclass(frozen=True)
class HeadGuess:
    """The newest model's view of one label, as a moderator sees it."""

    label: str
    confidence: float
    top: list[tuple[str, float]]  # with the shop's words fused in
    image_top: list[tuple[str, float]]  # the photo alone
    evidence: TextEvidence  # this head's clues only
    summary: str  # "shop says: beige (options, title)", or ""
    conflict: bool  # confident words and a confident photo disagree
    model_version: str


@dataclass
class QueueItem:
    item: Item
    version: int
    confidence: dict[str, float | None]
    top: dict[str, list[tuple[str, float]]]
    states: dict[str, str] = field(default_factory=dict)  # head → LabelState
    guesses: dict[str, HeadGuess] = field(default_factory=dict)
    report: dict[str, Any] | None = None  # a shopper's "wrong label" report still open

    @property
    def asked(self) -> list[str]:
        """The labels the moderator is asked: those in review (both, for a legacy row)."""
        return [h for h in HEADS if self.states.get(h) == LabelState.review] or list(HEADS)

    @property
    def conflict(self) -> bool:
        return any(g.conflict for h, g in self.guesses.items() if h in self.asked)


def _review_conditions(filters: Filters | None, dialect: str) -> list[Any]:
    conds: list[Any] = [col(Photo.status).in_(REVIEW_STATUSES)]
    if filters is not None:
        # The shoppers' filters, but on the model's labels whatever their state.
        extra, _ = _conditions(filters, dialect, public=False)
        conds.extend(extra)
    return conds


def queue_count(session: Session) -> int:
    return int(
        session.execute(
            select(func.count()).select_from(Photo).where(col(Photo.status).in_(REVIEW_STATUSES))
        ).scalar_one()
    )


def _sort_key(dialect: str) -> Any:
    """The lowest confidence among the labels in review (a decided label does not count)."""
    least = func.least if dialect == "postgresql" else func.min

    def asked(head: str) -> Any:
        state = col(Photo.category_state) if head == "category" else col(Photo.colour_state)
        conf = Photo.category_confidence if head == "category" else Photo.colour_confidence
        return case((state.in_(DECIDED_STATES), 1.0), else_=func.coalesce(conf, 0.0))

    return least(asked("category"), asked("colour"))


def queue(
    session: Session,
    *,
    skip: Iterable[int] = (),
    filters: Filters | None = None,
    limit: int = 1,
) -> list[QueueItem]:
    """Photos with a label in review, least confident doubtful label first."""
    dialect = session.get_bind().dialect.name
    conds = _review_conditions(filters, dialect)
    skip = [i for i in skip if 0 < i <= MAX_ID]
    if skip:
        conds.append(col(Photo.id).not_in(skip))
    query = (
        select(
            col(Photo.id),
            col(Photo.version),
            col(Photo.category_confidence),
            col(Photo.colour_confidence),
        )
        .join(Post, col(Post.id) == col(Photo.post_id))
        .where(*conds)
        .order_by(_sort_key(dialect), col(Photo.id))
        .limit(limit)
    )
    out = []
    for pid, *_ in session.execute(query).all():
        found = queue_item(session, pid)
        if found is not None:
            out.append(found)
    return out


def queue_item(session: Session, photo_id: int) -> QueueItem | None:
    """Any photo (queued, published or rejected) as the queue page shows it."""
    item = get_item(session, photo_id, public_only=False)
    photo = session.get(Photo, photo_id) if item is not None else None
    if item is None or photo is None:
        return None
    guesses = head_guesses(session, photo_id)
    return QueueItem(
        item,
        photo.version,
        {"category": photo.category_confidence, "colour": photo.colour_confidence},
        {h: g.top for h, g in guesses.items()} | _no_guess(guesses),
        item.states(),
        guesses,
        latest_report(session, photo_id),
    )


def _no_guess(guesses: dict[str, HeadGuess]) -> dict[str, list[tuple[str, float]]]:
    return {h: [] for h in HEADS if h not in guesses}


def _pairs(top: Any, k: int) -> list[tuple[str, float]]:
    return [(str(t[0]), float(t[1])) for t in (top or []) if len(t) == 2][:k]


def head_guesses(session: Session, photo_id: int, k: int = 3) -> dict[str, HeadGuess]:
    """The newest model's guess per head, with the photo-only top and the shop's words."""
    out: dict[str, HeadGuess] = {}
    rows = session.execute(
        select(Prediction)
        .where(col(Prediction.photo_id) == photo_id)
        .order_by(col(Prediction.created_at).desc(), col(Prediction.id).desc())
    ).scalars()
    for pred in rows:
        if pred.head not in HEADS or pred.head in out:
            continue
        top = _pairs(pred.top, k) or [(pred.label, pred.confidence)]
        try:
            evidence = TextEvidence.from_head_json({pred.head: pred.evidence or {}})
        except (TypeError, ValueError):  # a clue a later vocabulary no longer knows
            evidence = TextEvidence()
        out[pred.head] = HeadGuess(
            label=pred.label,
            confidence=pred.confidence,
            top=top,
            image_top=_pairs(pred.image_top, k) or top,
            evidence=evidence,
            summary=evidence.summary(pred.head),
            conflict=bool(pred.conflict),
            model_version=pred.model_version,
        )
    return out


def top_labels(session: Session, photo_id: int, k: int = 3) -> dict[str, list[tuple[str, float]]]:
    """The newest model's top-k per head, as (label, probability)."""
    guesses = head_guesses(session, photo_id, k)
    return {h: guesses[h].top if h in guesses else [] for h in HEADS}


# ---- decisions ---------------------------------------------------------------------------


def _snapshot(photo: Photo) -> dict[str, Any]:
    return {
        "status": photo.status,
        "category": photo.category,
        "colour": photo.colour,
        "category_confidence": photo.category_confidence,
        "colour_confidence": photo.colour_confidence,
        "category_state": photo.category_state,
        "colour_state": photo.colour_state,
        "version": photo.version,
    }


def _latest_event(session: Session, photo_id: int) -> ModerationEvent | None:
    """The photo's newest audit event (a decision, an undo, a shopper's report), or None."""
    return session.execute(
        select(ModerationEvent)
        .where(col(ModerationEvent.photo_id) == photo_id)
        .order_by(col(ModerationEvent.id).desc())
        .limit(1)
    ).scalar_one_or_none()


def _conflict(session: Session, photo_id: int) -> Conflict:
    photo = session.get(Photo, photo_id, populate_existing=True)
    last = _latest_event(session, photo_id)
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
    changes: dict[str, Any] | Callable[[Photo], dict[str, Any]],
    extra_after: dict[str, Any] | None = None,
) -> ModerationEvent:
    """Apply `changes` (or `changes(photo)`, computed from the photo as it is now) if the
    photo is still at `version`, and record the audit event."""
    photo = session.get(Photo, photo_id, populate_existing=True) if 0 < photo_id <= MAX_ID else None
    if photo is None:
        raise ModerationError(f"no photo {photo_id}")
    if photo.version != version:
        raise _conflict(session, photo_id)
    before = _snapshot(photo)
    if callable(changes):
        changes = changes(photo)
    # A region's box and crop, when this decision changes them: an undo puts them back.
    before.update({k: _plain(getattr(photo, k)) for k in _REGION_RESTORED if k in changes})
    now = utcnow()
    values = {**changes, "reviewed_at": now, "reviewed_by": moderator}
    if not crud.write_photo_labels(session, photo_id, version, values):
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


def _model_labels(session: Session, photo: Photo) -> dict[str, str]:
    """head → the label the photo's current model gave it (none for photos never labelled)."""
    rows = session.execute(
        select(col(Prediction.head), col(Prediction.label)).where(
            col(Prediction.photo_id) == photo.id,
            col(Prediction.model_version) == photo.model_version,
        )
    ).all()
    return dict(rows)


def _label_changes(
    session: Session, photo: Photo, decided: dict[str, str | None], accept_all: bool
) -> dict[str, Any]:
    """The new columns when a moderator decides the labels in `decided` (head → the label
    chosen, None: keep the current one); every other label stays as it is."""
    states = label_states(photo.status, photo.category_state, photo.colour_state)
    if accept_all:
        # "accept" on a photo with no label in review confirms what it shows.
        decided = {h: None for h in HEADS if states[h] != LabelState.human} or dict.fromkeys(HEADS)
    changes: dict[str, Any] = {}
    for head, label in decided.items():
        states[head] = LabelState.human
        changes[f"{head}_state"] = LabelState.human
        if label is not None and label != getattr(photo, head):
            changes.update({head: label, f"{head}_confidence": 1.0})
    guesses = _model_labels(session, photo)
    corrected = False
    for head in HEADS:
        if states[head] != LabelState.human:
            continue
        label = changes.get(head, getattr(photo, head))
        if head in guesses:
            corrected |= label != guesses[head]
        elif head in decided:  # never labelled by a model: a change is a correction
            corrected |= label != getattr(photo, head)
        else:
            corrected |= photo.status == ReviewStatus.corrected
    changes["status"] = photo_status(states, corrected=corrected)
    return changes


def decide(
    session: Session,
    photo_id: int,
    version: int,
    moderator: str,
    action: str,
    *,
    category: str | None = None,
    colour: str | None = None,
    heads: Iterable[str] | None = None,
    audit_action: str | None = None,
) -> ModerationEvent:
    """Decide labels of a photo still at `version`.

    - accept: the labels in `heads` (default: those in review) are confirmed as they are;
    - correct: `category` and/or `colour` are set to the labels given (a label equal to the
      model's is a confirmation);
    - reject: not a product photo; its labels stay as they are, the photo leaves the catalogue.

    A label not decided here keeps its state: the photo leaves the queue only when no label is
    in review any more, and is public meanwhile under its decided label.
    """
    if action == "reject":
        changes: Any = {"status": ReviewStatus.rejected}
    elif action == "accept":
        chosen = list(dict.fromkeys(heads)) if heads is not None else None
        if chosen is not None and any(h not in HEADS for h in chosen):
            raise ModerationError(f"unknown label {next(h for h in chosen if h not in HEADS)!r}")

        def changes(photo: Photo) -> dict[str, Any]:
            states = label_states(photo.status, photo.category_state, photo.colour_state)
            asked = (
                chosen
                if chosen is not None
                else [h for h in HEADS if states[h] == LabelState.review]
            )
            return _label_changes(session, photo, dict.fromkeys(asked), accept_all=not asked)

    elif action == "correct":
        decided: dict[str, str | None] = {}
        if category:
            if category not in CATEGORIES:
                raise ModerationError(f"unknown category {category!r}")
            decided["category"] = category
        if colour:
            if colour not in COLOURS:
                raise ModerationError(f"unknown colour {colour!r}")
            decided["colour"] = colour
        if not decided:
            raise ModerationError("a correction needs a category or a colour")

        def changes(photo: Photo) -> dict[str, Any]:
            return _label_changes(session, photo, decided, accept_all=False)

    else:
        raise ModerationError(f"unknown action {action!r}")
    return _write(session, photo_id, version, moderator, audit_action or action, changes)


_RESTORED = (
    "status",
    "category",
    "colour",
    "category_confidence",
    "colour_confidence",
    "category_state",
    "colour_state",
)
# What a merge of regions changes besides its labels (catalog.regions.merge_regions).
_REGION_RESTORED = ("region_box", "sha256", "stored_path", "thumb_path", "width", "height")


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple | list) else value


def undo_last(session: Session, moderator: str) -> ModerationEvent:
    """Revert this moderator's latest decision that is not undone yet (if nobody changed since)."""
    events = session.execute(
        select(ModerationEvent)
        .where(col(ModerationEvent.moderator) == moderator)
        .order_by(col(ModerationEvent.id).desc())
        .limit(200)
    ).scalars()
    undone: set[int] = set()
    for event in events:
        if event.action == "undo":
            undone.add(int(event.after.get("undoes", 0)))
            continue
        if event.id in undone:
            continue
        restore = {k: event.before[k] for k in (*_RESTORED, *_REGION_RESTORED) if k in event.before}
        legacy = LEGACY_STATES.get(str(event.before.get("status", "")))
        if "category_state" not in event.before and legacy:
            # An event from before per-label states: its status said what both labels were.
            restore.update(category_state=legacy, colour_state=legacy)
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
    session: Session,
    moderator: str,
    action: str,
    photos: Iterable[tuple[int, int]],
    *,
    category: str | None = None,
    colour: str | None = None,
) -> BulkResult:
    """Accept, reject or correct (set `category` and/or `colour` on) many photos, each under
    its own version check."""
    if action not in BULK_ACTIONS:
        raise ModerationError("bulk actions are accept, reject and correct")
    if action == "correct" and not (category or colour):
        raise ModerationError("choose the category or the colour to set")
    result = BulkResult([], [])
    for photo_id, version in photos:
        try:
            # A conflict or a bad id is detected before anything is written for that photo.
            decide(
                session,
                photo_id,
                version,
                moderator,
                action,
                category=category,
                colour=colour,
                audit_action=f"bulk_{action}",
            )
            result.done.append(photo_id)
        except Conflict as exc:
            result.conflicts.append(exc)
        except ModerationError:
            if action == "correct":  # an unknown label fails every photo alike: say so
                raise
            continue
    return result


@dataclass(frozen=True)
class EventFilter:
    """What the history page shows: one moderator, one action, a UTC date range."""

    moderator: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None  # exclusive

    def conditions(self) -> list[Any]:
        conds: list[Any] = []
        if self.moderator is not None:
            conds.append(ModerationEvent.moderator == self.moderator)
        if self.action:
            conds.append(ModerationEvent.action == self.action)
        if self.since:
            conds.append(ModerationEvent.at >= self.since)
        if self.until:
            conds.append(ModerationEvent.at < self.until)
        return conds


def recent_events(
    session: Session, limit: int = 20, where: EventFilter | None = None
) -> Sequence[ModerationEvent]:
    conds = where.conditions() if where else []
    return (
        session.execute(
            select(ModerationEvent)
            .where(*conds)
            .order_by(col(ModerationEvent.id).desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )


def event_counts(session: Session, where: EventFilter | None = None) -> list[tuple[str, int]]:
    """(moderator, decisions) under the filter, busiest first; reports count as REPORTER."""
    conds = where.conditions() if where else []
    rows = session.execute(
        select(col(ModerationEvent.moderator), func.count())
        .where(*conds)
        .group_by(ModerationEvent.moderator)
        .order_by(func.count().desc(), ModerationEvent.moderator)
    ).all()
    return [(str(m), int(n)) for m, n in rows]


def event_actions(session: Session) -> list[str]:
    rows = session.execute(select(col(ModerationEvent.action)).distinct()).scalars()
    return sorted(str(a) for a in rows)


def requeue(
    session: Session,
    photo_id: int,
    version: int,
    moderator: str,
    heads: Iterable[str],
    *,
    action: str = "requeue",
    extra_after: dict[str, Any] | None = None,
) -> ModerationEvent:
    """Send labels of any photo (published or rejected included) back to the review queue."""
    chosen = list(dict.fromkeys(heads))
    if not chosen or any(h not in HEADS for h in chosen):
        raise ModerationError("choose the category, the colour or both to send back")

    def changes(photo: Photo) -> dict[str, Any]:
        states = label_states(photo.status, photo.category_state, photo.colour_state)
        for head in chosen:
            states[head] = LabelState.review
        out: dict[str, Any] = {f"{h}_state": LabelState.review for h in chosen}
        out["status"] = photo_status(states, corrected=photo.status == ReviewStatus.corrected)
        return out

    return _write(session, photo_id, version, moderator, action, changes, extra_after)


MAX_NOTE = 500


def report(
    session: Session,
    photo_id: int,
    heads: Iterable[str],
    *,
    suggested: dict[str, str] | None = None,
    note: str = "",
) -> ModerationEvent:
    """A shopper says a public photo's label is wrong: the label goes back to the queue, and
    the report (which label, what it should be, a note) is shown to the moderator."""
    photo = session.get(Photo, photo_id) if 0 < photo_id <= MAX_ID else None
    if photo is None or photo.status not in PUBLIC_STATUSES:
        raise ModerationError("this photo is not in the catalogue")
    chosen = [h for h in dict.fromkeys(heads) if h in HEADS]
    if not chosen:
        raise ModerationError("say which label is wrong: the category, the colour or both")
    vocab = {"category": CATEGORIES, "colour": COLOURS}
    hints = {h: v for h, v in (suggested or {}).items() if h in chosen and v in vocab[h]}
    clean_note = " ".join(note.split())[:MAX_NOTE]
    body = {"heads": chosen, "suggested": hints, "note": clean_note}
    return requeue(
        session, photo_id, photo.version, REPORTER, chosen, action="report",
        extra_after={"report": body},
    )  # fmt: skip


def latest_report(session: Session, photo_id: int) -> dict[str, Any] | None:
    """The shopper's report if it is the photo's newest event (no decision since)."""
    last = _latest_event(session, photo_id)
    if last is None or last.action != "report":
        return None
    body = last.after.get("report")
    return {**body, "at": last.at} if isinstance(body, dict) else None


def model_labels(session: Session, photo_id: int) -> dict[str, str]:
    """head → the label the photo's current model gave it."""
    photo = session.get(Photo, photo_id)
    return _model_labels(session, photo) if photo is not None else {}


def photo_events(session: Session, photo_id: int) -> Sequence[ModerationEvent]:
    """One photo's audit trail, newest first."""
    return (
        session.execute(
            select(ModerationEvent)
            .where(col(ModerationEvent.photo_id) == photo_id)
            .order_by(col(ModerationEvent.id).desc())
        )
        .scalars()
        .all()
    )
