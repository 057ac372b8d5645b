"""The moderators' pages: login, the review queue (keyboard driven), bulk review, history."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from catalog import moderation, queries
from catalog.config import Settings
from catalog.moderation import Conflict, ModerationError
from catalog.queries import FilterError, Filters
from catalog.taxonomy import CATEGORIES, COLOURS, HEADS, LabelState
from web.auth import (
    check_login,
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
    request: Request, session: Session, name: str, status: int = 200, error: str | None = None
) -> Response:
    skipped = request.session.get("skipped", [])
    items = moderation.queue(session, skip=skipped, limit=6)
    if not items and skipped:  # everything left was skipped: start over
        request.session["skipped"] = skipped = []
        items = moderation.queue(session, limit=6)
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
    }
    return render(request, "moderate/queue.html", context, status)


@router.get("")
def queue(
    request: Request,
    name: str = Depends(require_moderator),
    session: Session = Depends(get_session),
) -> Response:
    return _queue_page(request, session, name)


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
    if action != "decide":
        category = str(form.get("category", ""))[:64] or None
        colour = str(form.get("colour", ""))[:64] or None
        return moderation.decide(
            session, pid, version, name, action, category=category, colour=colour
        )
    chosen = _chosen(form, [str(h) for h in form.getlist("asked")])
    item = queries.get_item(session, pid, public_only=False)
    if item is not None and all(getattr(item, h) == v for h, v in chosen.items()):
        # The moderator kept the model's labels: an approval, audited as one.
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
        return _queue_page(request, session, name, 409, str(exc))
    except ModerationError as exc:
        return _queue_page(request, session, name, 400, str(exc).capitalize() + ".")
    verb = {"accept": "Accepted", "reject": "Rejected", "correct": "Corrected"}.get(
        event.action, event.action
    )
    message = f"{verb} photo {pid}."
    waiting = [h for h in HEADS if event.after.get(f"{h}_state") == LabelState.review]
    if waiting and event.after.get("status") != "rejected":
        message += f" Its {' and '.join(waiting)} still waits for review."
    _flash(request, "ok", message + " Press U to undo.")
    back = str(form.get("back", ""))
    return RedirectResponse("/moderate/grid" if back == "grid" else "/moderate", status_code=303)


@router.post("/skip/{photo_id}")
def skip(photo_id: str, request: Request, name: str = Depends(require_moderator)) -> Response:
    skipped = [i for i in request.session.get("skipped", []) if isinstance(i, int)]
    skipped = (skipped + [parse_id(photo_id)])[-MAX_SKIPPED:]
    request.session["skipped"] = skipped
    return RedirectResponse("/moderate", status_code=303)


@router.post("/undo")
def undo(
    request: Request,
    name: str = Depends(require_moderator),
    session: Session = Depends(get_session),
) -> Response:
    try:
        event = moderation.undo_last(session, name)
        session.commit()  # before the redirect: see decide()
    except Conflict as exc:
        return _queue_page(request, session, name, 409, str(exc))
    except ModerationError as exc:
        _flash(request, "error", str(exc).capitalize() + ".")
        return RedirectResponse("/moderate", status_code=303)
    # The undone photo is back in the queue; show it next even if it had been skipped.
    request.session["skipped"] = [
        i for i in request.session.get("skipped", []) if i != event.photo_id
    ]
    _flash(request, "ok", f"Undid your last decision on photo {event.photo_id}.")
    return RedirectResponse("/moderate", status_code=303)


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
    if action not in ("accept", "reject"):
        raise HTTPException(400, "Choose accept or reject.")
    if not pairs:
        _flash(request, "error", "Select at least one photo.")
    else:
        # Off the event loop: a bulk decision waits on row locks, the loop must keep serving.
        result = await run_in_threadpool(moderation.bulk_decide, session, name, action, pairs)
        await run_in_threadpool(session.commit)  # before the redirect: see decide()
        message = f"{action.capitalize()}ed {len(result.done)} photo(s)."
        if result.conflicts:
            ids = ", ".join(str(c.photo_id) for c in result.conflicts[:10])
            message += (
                f" {len(result.conflicts)} changed meanwhile by someone else, left as is: {ids}."
            )
        _flash(request, "error" if result.conflicts else "ok", message)
    return RedirectResponse("/moderate/grid" + (f"?{query}" if query else ""), status_code=303)


@router.get("/history")
def history(
    request: Request,
    name: str = Depends(require_moderator),
    session: Session = Depends(get_session),
) -> Response:
    return render(
        request, "moderate/history.html", {"events": moderation.recent_events(session, 100)}
    )


@router.get("/photos/{photo_id}")
def photo_detail(
    photo_id: str,
    request: Request,
    name: str = Depends(require_moderator),
    session: Session = Depends(get_session),
) -> Response:
    """Any photo, published or not, with its current labels and its audit trail."""
    item = queries.get_item(session, parse_id(photo_id), public_only=False)
    if item is None:
        raise HTTPException(404, "There is no such photo.")
    context = {
        "item": item,
        "events": moderation.photo_events(session, item.id),
        "guesses": moderation.head_guesses(session, item.id),
    }
    return render(request, "moderate/photo.html", context)
