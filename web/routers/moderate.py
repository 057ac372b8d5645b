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
from catalog.taxonomy import CATEGORIES, COLOURS
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


@router.post("/photos/{photo_id}")
def decide(
    photo_id: str,
    request: Request,
    action: str = Form(..., max_length=16),
    version: int = Form(..., ge=0, le=2**31 - 1),
    category: str = Form("", max_length=64),
    colour: str = Form("", max_length=64),
    back: str = Form("", max_length=16),
    name: str = Depends(require_moderator),
    session: Session = Depends(get_session),
) -> Response:
    pid = parse_id(photo_id)
    try:
        moderation.decide(
            session, pid, version, name, action, category=category or None, colour=colour or None
        )
    except Conflict as exc:
        return _queue_page(request, session, name, 409, str(exc))
    except ModerationError as exc:
        return _queue_page(request, session, name, 400, str(exc))
    verb = {"accept": "Accepted", "reject": "Rejected", "correct": "Corrected"}.get(action, action)
    _flash(request, "ok", f"{verb} photo {pid}. Press U to undo.")
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
        "top": moderation.top_labels(session, item.id),
    }
    return render(request, "moderate/photo.html", context)
