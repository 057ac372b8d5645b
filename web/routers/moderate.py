"""The moderators' pages: login, the review queue (keyboard driven), bulk review, history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from catalog import logins, moderation, queries, regions
from catalog.config import Settings
from catalog.moderation import Conflict, ModerationError
from catalog.queries import FilterError, Filters
from catalog.taxonomy import CATEGORIES, COLOURS, HEADS, LabelState
from web.auth import (
    check_login,
    client_address,
    csrf_protect,
    csrf_token,
    login,
    login_retry_after,
    logout,
    require_moderator,
)
from web.deps import get_session, get_settings
from web.routers.common import parse_id, query_lists, render

router = APIRouter(
    prefix="/moderate", include_in_schema=False, dependencies=[Depends(csrf_protect)]
)
MAX_SKIPPED = 100  # kept in the signed cookie: bounded well under 4 KB
GRID_SIZE = 60


def _safe_next(target: str) -> str:
    # Only local paths: an open redirect after login would be a phishing aid.
    if target.startswith("/moderate") and "//" not in target and "\\" not in target:
        return target
    return "/moderate"


@router.get("/login")
def login_form(request: Request, next: str = "/moderate") -> Response:
    if request.session.get("moderator"):
        return RedirectResponse(_safe_next(next), status_code=303)
    return render(
        request, "moderate/login.html", {"next": _safe_next(next), "csrf": csrf_token(request)}
    )


@router.post("/login")
def login_submit(
    request: Request,
    name: str = Form(..., max_length=255),
    password: str = Form(..., max_length=1024),
    next: str = Form("/moderate"),
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
) -> Response:
    wait = login_retry_after(request, session)
    context = {"next": _safe_next(next), "name": name}
    if wait:
        context.update(error=f"Too many failed logins. Try again in {wait} seconds.")
        response = render(
            request, "moderate/login.html", {**context, "csrf": csrf_token(request)}, 429
        )
        response.headers["Retry-After"] = str(wait)
        return response
    if not check_login(request, session, settings, name, password):
        context.update(error="Wrong name or password.")
        return render(request, "moderate/login.html", {**context, "csrf": csrf_token(request)}, 401)
    login(request, name)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout")
def logout_submit(request: Request) -> Response:
    logout(request)
    return RedirectResponse("/", status_code=303)


def _flash(request: Request, kind: str, message: str) -> None:
    request.session["flash"] = [kind, message]


def _queue_page(
    request: Request,
    session: Session,
    name: str,
    status: int = 200,
    error: str | None = None,
    focus: int | None = None,
) -> Response:
    """The queue; `focus`: show that photo first (the one an error or a conflict names, with
    its labels as they are now), queued or not."""
    skipped = request.session.get("skipped", [])
    items = moderation.queue(session, skip=skipped, limit=6)
    if not items and skipped:  # everything left was skipped: start over
        request.session["skipped"] = skipped = []
        items = moderation.queue(session, limit=6)
    if focus is not None:
        named = moderation.queue_item(session, focus)
        if named is not None:
            items = [named] + [q for q in items if q.item.id != focus][:5]
    flash = request.session.pop("flash", None)
    if error:
        flash = ["error", error]
    context: dict[str, Any] = {
        "current": items[0] if items else None,
        "upcoming": items[1:],
        "left": moderation.queue_count(session),
        "skipped": len(skipped),
        "flash": flash,
        "categories": CATEGORIES,
        "colours": COLOURS,
        "moderator": name,
        "regions": regions.region_view(session, items[0].item.id) if items else None,
    }
    return render(request, "moderate/queue.html", context, status)


@router.get("")
def queue(
    request: Request,
    name: str = Depends(require_moderator),
    session: Session = Depends(get_session),
    photo: str = "",
) -> Response:
    # ?photo=N shows that photo first (after an undo, or "Fix the labels" on a public page).
    focus = parse_id(photo) if photo else None
    return _queue_page(request, session, name, focus=focus)


OTHER = "__other__"  # the "Other" radio: the label comes from the head's full list


def _chosen(form: Any, asked: list[str]) -> dict[str, str]:
    """head → the label the moderator chose for each doubtful label on the queue page."""
    chosen: dict[str, str] = {}
    for head in dict.fromkeys(asked):
        if head not in HEADS:
            raise ModerationError(f"unknown label {head[:20]!r}")
        value = str(form.get(head, ""))[:64]
        if value == OTHER:
            value = str(form.get(f"{head}_other", ""))[:64]
        if not value:
            raise ModerationError(f"choose a {head}")
        chosen[head] = value
    if not chosen:
        raise ModerationError("nothing was asked: reload the queue")
    return chosen


def _apply(
    session: Session, pid: int, version: int, name: str, action: str, form: Any
) -> moderation.ModerationEvent:
    """Carry out one decision from the queue page, the photo page or an older client."""
    if action not in ("decide", "requeue"):
        category = str(form.get("category", ""))[:64] or None
        colour = str(form.get("colour", ""))[:64] or None
        return moderation.decide(
            session, pid, version, name, action, category=category, colour=colour
        )
    if action == "requeue":
        heads = [str(h) for h in form.getlist("head")]
        return moderation.requeue(session, pid, version, name, heads)
    chosen = _chosen(form, [str(h) for h in form.getlist("asked")])
    item = queries.get_item(session, pid, public_only=False)
    guess = moderation.model_labels(session, pid)
    if item is not None and all(guess.get(h, getattr(item, h)) == v for h, v in chosen.items()):
        # The moderator chose the model's own guesses: an approval, audited as one.
        return moderation.decide(session, pid, version, name, "accept", heads=list(chosen))
    return moderation.decide(
        session,
        pid,
        version,
        name,
        "correct",
        category=chosen.get("category"),
        colour=chosen.get("colour"),
    )


@router.post("/photos/{photo_id}")
async def decide(
    photo_id: str,
    request: Request,
    name: str = Depends(require_moderator),
    session: Session = Depends(get_session),
) -> Response:
    pid = parse_id(photo_id)
    form = await request.form()
    action = str(form.get("action", ""))[:16]
    raw_version = str(form.get("version", ""))
    if not raw_version.isdigit() or len(raw_version) > 10 or int(raw_version) > 2**31 - 1:
        return _queue_page(request, session, name, 400, "The form lacks the photo's version.")
    try:
        event = _apply(session, pid, int(raw_version), name, action, form)
        # Committed before the redirect goes out: a dependency's exit code runs after the
        # response is sent, and the browser's next GET must already see this decision.
        session.commit()
    except Conflict as exc:
        return _queue_page(request, session, name, 409, str(exc), focus=exc.photo_id)
    except ModerationError as exc:
        return _queue_page(request, session, name, 400, str(exc).capitalize() + ".", focus=pid)
    _push_action(request, "decide", pid)
    verb = {
        "accept": "Accepted",
        "reject": "Rejected",
        "correct": "Corrected",
        "requeue": "Sent back to the queue:",
    }.get(event.action, event.action)
    message = f"{verb} photo {pid}."
    waiting = [h for h in HEADS if event.after.get(f"{h}_state") == LabelState.review]
    if waiting and event.after.get("status") != "rejected":
        message += f" Its {' and '.join(waiting)} still waits for review."
    _flash(request, "ok", message + " Press U to undo.")
    back = str(form.get("back", ""))
    target = {"grid": "/moderate/grid", "photo": f"/moderate/photos/{pid}"}.get(back, "/moderate")
    return RedirectResponse(target, status_code=303)


MAX_ACTIONS = 20  # the undo stack in the signed cookie


def _push_action(request: Request, kind: str, pid: int) -> None:
    """Remember this moderator's actions in order, so that U undoes the last one, a skip too."""
    actions = [a for a in request.session.get("actions", []) if isinstance(a, list)]
    request.session["actions"] = (actions + [[kind, pid]])[-MAX_ACTIONS:]


@router.post("/skip/{photo_id}")
def skip(photo_id: str, request: Request, name: str = Depends(require_moderator)) -> Response:
    skipped = [i for i in request.session.get("skipped", []) if isinstance(i, int)]
    pid = parse_id(photo_id)
    skipped = (skipped + [pid])[-MAX_SKIPPED:]
    request.session["skipped"] = skipped
    _push_action(request, "skip", pid)
    return RedirectResponse("/moderate", status_code=303)


@router.post("/undo")
def undo(
    request: Request,
    name: str = Depends(require_moderator),
    session: Session = Depends(get_session),
) -> Response:
    actions = [a for a in request.session.get("actions", []) if isinstance(a, list)]
    last = actions.pop() if actions else None
    request.session["actions"] = actions
    if last and last[0] == "skip":  # a skip is an action too: undoing it brings the photo back
        request.session["skipped"] = [i for i in request.session.get("skipped", []) if i != last[1]]
        _flash(request, "ok", f"Undid the skip: photo {last[1]} is back.")
        return RedirectResponse("/moderate", status_code=303)
    try:
        event = moderation.undo_last(session, name)
        session.commit()  # before the redirect: see decide()
    except Conflict as exc:
        return _queue_page(request, session, name, 409, str(exc), focus=exc.photo_id)
    except ModerationError as exc:
        _flash(request, "error", str(exc).capitalize() + ".")
        return RedirectResponse("/moderate", status_code=303)
    # The undone photo is back in the queue; show it next even if it had been skipped.
    request.session["skipped"] = [
        i for i in request.session.get("skipped", []) if i != event.photo_id
    ]
    _flash(request, "ok", f"Undid your last decision on photo {event.photo_id}.")
    return RedirectResponse(f"/moderate?photo={event.photo_id}", status_code=303)


@router.get("/grid")
def grid(
    request: Request,
    name: str = Depends(require_moderator),
    session: Session = Depends(get_session),
) -> Response:
    error = None
    try:
        filters = queries.parse_filters(query_lists(request))
    except FilterError as exc:
        filters, error = Filters(), str(exc)
    items = [] if error else moderation.queue(session, filters=filters, limit=GRID_SIZE)
    context = {
        "items": items,
        "filters": filters,
        "left": moderation.queue_count(session),
        "flash": request.session.pop("flash", None) or (["error", error] if error else None),
        "categories": CATEGORIES,
        "colours": COLOURS,
        "query": urlencode(filters.to_params()),
        "shops": queries.list_shops(session),
    }
    return render(request, "moderate/grid.html", context, 400 if error else 200)


@router.post("/bulk")
async def bulk(
    request: Request,
    name: str = Depends(require_moderator),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    action = str(form.get("action", ""))
    query = str(form.get("query", ""))[:2000]
    pairs: list[tuple[int, int]] = []
    for raw in form.getlist("photo")[:1000]:
        pid, _, version = str(raw).partition(":")
        if pid.isdigit() and version.isdigit() and len(pid) <= 10 and len(version) <= 10:
            pairs.append((parse_id(pid), int(version)))
    if action not in moderation.BULK_ACTIONS:
        raise HTTPException(400, "Choose accept, reject or set a label.")
    category = str(form.get("category", ""))[:64] or None
    colour = str(form.get("colour", ""))[:64] or None
    if not pairs:
        _flash(request, "error", "Select at least one photo.")
    else:
        try:
            # Off the event loop: a bulk decision waits on row locks, the loop must keep serving.
            result = await run_in_threadpool(
                partial(moderation.bulk_decide, category=category, colour=colour),
                session,
                name,
                action,
                pairs,
            )
        except ModerationError as exc:
            _flash(request, "error", str(exc).capitalize() + ".")
            return RedirectResponse("/moderate/grid" + (f"?{query}" if query else ""), 303)
        await run_in_threadpool(session.commit)  # before the redirect: see decide()
        verb = {"accept": "Accepted", "reject": "Rejected"}.get(action) or "Set " + " ".join(
            x for x in (colour, category) if x
        ) + " on"
        message = f"{verb} {len(result.done)} photo(s)."
        if result.conflicts:
            ids = ", ".join(str(c.photo_id) for c in result.conflicts[:10])
            message += (
                f" {len(result.conflicts)} changed meanwhile by someone else, left as is: {ids}."
            )
        _flash(request, "error" if result.conflicts else "ok", message)
    return RedirectResponse("/moderate/grid" + (f"?{query}" if query else ""), status_code=303)


def _day(value: str, field: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value[:10], "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise ModerationError(f"{field} is a date like 2026-12-31, not {value[:20]!r}") from None


HISTORY_SIZE = 200


@router.get("/history")
def history(
    request: Request,
    name: str = Depends(require_moderator),
    session: Session = Depends(get_session),
    moderator: str = "",
    action: str = "",
    since: str = "",
    until: str = "",
) -> Response:
    """Every decision, newest first, by moderator, action and UTC day (both days included)."""
    error, status = None, 200
    try:
        start, end = _day(since, "From"), _day(until, "To")
        where = moderation.EventFilter(
            moderator=(moderation.REPORTER if moderator == REPORTS else moderator[:255]) or None,
            action=action[:32] or None,
            since=start,
            until=end + timedelta(days=1) if end else None,
        )
    except ModerationError as exc:
        where, error, status = moderation.EventFilter(), str(exc), 400
    events = moderation.recent_events(session, HISTORY_SIZE, where)
    thumbs = {}
    for pid in {e.photo_id for e in events}:
        item = queries.get_item(session, pid, public_only=False)
        if item is not None:
            thumbs[pid] = item
    context = {
        "events": events,
        "thumbs": thumbs,
        "counts": moderation.event_counts(session, where),
        "moderators": [m.name for m in moderation.list_moderators(session)],
        "actions": moderation.event_actions(session),
        "chosen": {"moderator": moderator, "action": action, "since": since, "until": until},
        "flash": ["error", error] if error else None,
        "left": moderation.queue_count(session),
        "reports": REPORTS,
        "limit": HISTORY_SIZE,
    }
    return render(request, "moderate/history.html", context, status)


REPORTS = "(shoppers)"  # the history filter value for shoppers' reports


@router.get("/photos/{photo_id}")
def photo_detail(
    photo_id: str,
    request: Request,
    name: str = Depends(require_moderator),
    session: Session = Depends(get_session),
) -> Response:
    """Any photo, published or not: its labels, its audit trail, and the forms to change any
    label, send labels back to the queue or reject it."""
    found = moderation.queue_item(session, parse_id(photo_id))
    if found is None:
        raise HTTPException(404, "There is no such photo.")
    context = {
        "q": found,
        "item": found.item,
        "events": moderation.photo_events(session, found.item.id),
        "guesses": found.guesses,
        "categories": CATEGORIES,
        "colours": COLOURS,
        "flash": request.session.pop("flash", None),
        "left": moderation.queue_count(session),
        "regions": regions.region_view(session, found.item.id),
    }
    return render(request, "moderate/photo.html", context)


# ---- several garments in one photo (catalog.regions) --------------------------------------


def _region_pairs(values: list[Any]) -> list[tuple[int, int]]:
    pairs = []
    for raw in values[:50]:
        pid, _, version = str(raw).partition(":")
        if pid.isdigit() and version.isdigit() and len(pid) <= 10 and len(version) <= 10:
            pairs.append((parse_id(pid), int(version)))
    return pairs


@router.get("/regions/{photo_id}")
def regions_page(
    photo_id: str,
    request: Request,
    name: str = Depends(require_moderator),
    session: Session = Depends(get_session),
) -> Response:
    """A split photo (or one of its regions): the boxes over the photo, and per region its
    labels, a link to fix them, merge and drop."""
    view = regions.region_view(session, parse_id(photo_id))
    if view is None:
        raise HTTPException(404, "This photo is not split into regions.")
    context = {
        "regions": view,
        "flash": request.session.pop("flash", None),
        "left": moderation.queue_count(session),
    }
    return render(request, "moderate/regions.html", context)


@router.post("/regions/{photo_id}/{action}")
async def regions_decide(
    photo_id: str,
    action: str,
    request: Request,
    name: str = Depends(require_moderator),
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
) -> Response:
    parent = parse_id(photo_id)
    form = await request.form()
    try:
        if action == "drop":
            pairs = _region_pairs(form.getlist("drop"))
            if len(pairs) != 1:
                raise ModerationError("choose one region to drop")
            regions.drop_region(session, *pairs[0], name)
            message = f"Dropped region {pairs[0][0]}."
        elif action == "merge":
            pairs = _region_pairs(form.getlist("region"))
            event = regions.merge_regions(
                session, pairs, name, settings.media_dir, settings.storage.thumbnail_size
            )
            message = f"Merged {len(pairs)} regions into {event.photo_id}."
        else:
            raise HTTPException(404)
        session.commit()  # before the redirect: see decide()
        _flash(request, "ok", message)
    except Conflict as exc:
        session.rollback()
        _flash(request, "error", str(exc))
    except ModerationError as exc:
        session.rollback()
        _flash(request, "error", str(exc).capitalize() + ".")
    return RedirectResponse(f"/moderate/regions/{parent}", status_code=303)


# ---- shoppers' reports: no login ---------------------------------------------------------
MAX_REPORTS = 10  # per client address and day, then it waits REPORT_LOCKOUT (catalog.logins)
REPORT_LOCKOUT = 3600


def _report_key(request: Request) -> str:
    return "report:" + client_address(request)


def _report_page(
    request: Request, session: Session, pid: int, status: int = 200, **extra: Any
) -> Response:
    page = queries.photo_page(session, pid)
    if page is None:
        raise HTTPException(404, "This photo is not in the catalogue.")
    context = {
        "item": page.item,
        "categories": CATEGORIES,
        "colours": COLOURS,
        "csrf": csrf_token(request),
        **extra,
    }
    return render(request, "moderate/report.html", context, status)


@router.get("/report/{photo_id}")
def report_form(
    photo_id: str, request: Request, session: Session = Depends(get_session)
) -> Response:
    return _report_page(request, session, parse_id(photo_id))


@router.post("/report/{photo_id}")
def report_submit(
    photo_id: str,
    request: Request,
    head: list[str] = Form(default=[]),
    category: str = Form("", max_length=64),
    colour: str = Form("", max_length=64),
    note: str = Form("", max_length=2000),
    session: Session = Depends(get_session),
) -> Response:
    pid = parse_id(photo_id)
    # Counted and committed first (as logins are): a burst of reports sent at once is counted
    # whole, and a refused one counts too.
    wait = logins.attempt(session, _report_key(request), MAX_REPORTS, REPORT_LOCKOUT)
    session.commit()
    if wait:
        response = _report_page(
            request, session, pid, 429,
            error=f"Thank you, but this address sent many reports: try again in {wait} seconds.",
        )  # fmt: skip
        response.headers["Retry-After"] = str(wait)
        return response
    try:
        moderation.report(
            session, pid, head, suggested={"category": category, "colour": colour}, note=note
        )
    except ModerationError as exc:
        return _report_page(request, session, pid, 400, error=str(exc).capitalize() + ".")
    except Conflict:  # a moderator changed it this very moment: they are on it
        pass
    session.commit()
    return _report_page(request, session, pid, sent=True)
