"""Moderators change any photo (published ones too), see the photo a conflict names, set labels
in bulk and read the history; shoppers report a wrong label without logging in."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlmodel import Session

from catalog.db import make_engine
from catalog.models import ModerationEvent, Photo
from tests.support.web_helpers import csrf_of, logged_in, make_app, seed
from web.routers.moderate import MAX_REPORTS


@pytest.fixture
def mod_site(db_url, settings_for):
    settings, _ = settings_for(db_url)
    seeded = seed(settings)
    engine = make_engine(settings.database_url)
    yield make_app(settings), seeded, engine
    engine.dispose()


def _photo(engine, pid: int) -> Photo:
    with Session(engine) as s:
        return s.get(Photo, pid)


def _actions(engine, pid: int) -> list[str]:
    with Session(engine) as s:
        rows = s.execute(
            select(ModerationEvent.action)
            .where(ModerationEvent.photo_id == pid)
            .order_by(ModerationEvent.id)
        )
        return list(rows.scalars())


def _current(html: str) -> tuple[int, int]:
    m = re.search(r'data-photo="(\d+)" data-version="(\d+)"', html)
    assert m, "no photo shown"
    return int(m.group(1)), int(m.group(2))


def test_choosing_the_models_own_guesses_is_logged_as_accept(mod_site) -> None:
    app, seeded, engine = mod_site
    client = logged_in(app)
    html = client.get("/moderate").text
    pid, version = _current(html)
    assert pid == seeded.photos["review_dress"]
    form = {"csrf_token": csrf_of(html), "version": str(version), "action": "decide"}
    form |= {"asked": ["category", "colour"], "category": "Dress", "colour": "red"}
    r = client.post(f"/moderate/photos/{pid}", data=form)
    assert "Accepted photo" in r.text
    assert _actions(engine, pid) == ["accept"] and _photo(engine, pid).status == "approved"


def test_a_conflict_shows_the_photo_it_names_as_it_is_now(mod_site) -> None:
    app, seeded, engine = mod_site
    ann, bob = logged_in(app, "ann"), logged_in(app, "bob")
    bob_page = bob.get("/moderate").text
    pid, version = _current(bob_page)
    html = ann.get("/moderate").text
    ann.post(
        f"/moderate/photos/{pid}",
        data={"csrf_token": csrf_of(html), "version": str(version), "action": "accept"},
    )
    r = bob.post(
        f"/moderate/photos/{pid}",
        data={"csrf_token": csrf_of(bob_page), "version": str(version), "action": "reject"},
    )
    assert r.status_code == 409 and "changed by ann" in r.text
    # bob sees that very photo, already approved, at its new version: he can decide again
    assert _current(r.text) == (pid, version + 1)
    assert 'id="not-queued"' in r.text and "approved" in r.text


def test_a_published_photo_is_changed_and_requeued_from_its_pages(mod_site) -> None:
    app, seeded, engine = mod_site
    shopper, client = TestClient(app), logged_in(app)
    pid = seeded.photos["red_dress"]  # auto-accepted: public, never seen by a moderator
    public = shopper.get(f"/photos/{pid}").text
    assert 'id="report-label"' in public and 'id="fix-labels"' not in public
    public = client.get(f"/photos/{pid}").text
    assert f'id="fix-labels" href="/moderate?photo={pid}"' in public
    # "Fix the labels" opens the keyboard page on this photo, both labels asked
    html = client.get(f"/moderate?photo={pid}").text
    assert _current(html)[0] == pid and 'id="ask-colour"' in html and 'id="ask-category"' in html
    page = client.get(f"/moderate/photos/{pid}").text
    _, version = _current(page)
    form = {"csrf_token": csrf_of(page), "version": str(version), "back": "photo"}
    r = client.post(
        f"/moderate/photos/{pid}",
        data=form | {"action": "decide", "asked": ["category", "colour"],
                     "category": "Dress", "colour": "blue"},
    )  # fmt: skip
    assert r.url.path == f"/moderate/photos/{pid}" and "Corrected photo" in r.text
    assert (_photo(engine, pid).colour, _photo(engine, pid).status) == ("blue", "corrected")
    assert 'id="label-colour">blue<' in shopper.get(f"/photos/{pid}").text
    # send the colour back to the queue: public under its category only, and queued
    r = client.post(
        f"/moderate/photos/{pid}",
        data=form | {"version": str(version + 1), "action": "requeue", "head": "colour"},
    )
    photo = _photo(engine, pid)
    assert (photo.status, photo.category_state, photo.colour_state) == (
        "partly_accepted", "human", "review",
    )  # fmt: skip
    assert 'id="label-colour"' not in shopper.get(f"/photos/{pid}").text
    assert _actions(engine, pid) == ["correct", "requeue"]
    # nothing chosen to re-queue: a clear error, nothing written
    r = client.post(
        f"/moderate/photos/{pid}", data=form | {"version": str(version + 2), "action": "requeue"}
    )
    assert r.status_code == 400 and "choose the category, the colour or both" in r.text.lower()
    assert _actions(engine, pid) == ["correct", "requeue"]


def test_a_rejected_photo_can_be_brought_back(mod_site) -> None:
    app, seeded, engine = mod_site
    client = logged_in(app)
    pid = seeded.photos["rejected"]
    page = client.get(f"/moderate/photos/{pid}").text
    _, version = _current(page)
    client.post(
        f"/moderate/photos/{pid}",
        data={"csrf_token": csrf_of(page), "version": str(version), "action": "accept"},
    )
    assert _photo(engine, pid).status == "approved"
    assert TestClient(app).get(f"/photos/{pid}").status_code == 200


def test_a_shopper_reports_a_wrong_label(mod_site) -> None:
    app, seeded, engine = mod_site
    shopper = TestClient(app)
    pid = seeded.photos["blue_pants"]
    form_page = shopper.get(f"/moderate/report/{pid}")
    assert form_page.status_code == 200
    data = {"head": "colour", "colour": "black", "note": "These are  black\njeans"}
    # no CSRF token: refused, nothing written
    assert shopper.post(f"/moderate/report/{pid}", data=data).status_code == 403
    assert _actions(engine, pid) == []
    r = shopper.post(f"/moderate/report/{pid}", data=data | {"csrf_token": csrf_of(form_page.text)})
    assert r.status_code == 200 and "a moderator will look" in r.text
    photo = _photo(engine, pid)
    assert (photo.status, photo.colour_state) == ("partly_accepted", "review")
    assert _actions(engine, pid) == ["report"]
    # the moderator is asked the colour, with the report in view
    client = logged_in(app)
    html = client.get(f"/moderate?photo={pid}").text
    assert 'id="ask-colour"' in html and 'id="ask-category"' not in html
    report = re.search(r'id="report"[^>]*>(.*?)</p>', html).group(1)
    assert "reported the colour wrong" in report and "black" in report
    assert "These are black jeans" in report
    # nothing to say which label: a clear error; a photo not in the catalogue: not found
    r = shopper.post(f"/moderate/report/{pid}", data={"csrf_token": csrf_of(form_page.text)})
    assert r.status_code == 400 and "which label is wrong" in r.text
    rejected = seeded.photos["rejected"]
    assert shopper.get(f"/moderate/report/{rejected}").status_code == 404


def test_reports_are_rate_limited_per_address(mod_site) -> None:
    app, seeded, engine = mod_site
    shopper = TestClient(app)
    pid = seeded.photos["evil_shirt"]
    token = csrf_of(shopper.get(f"/moderate/report/{pid}").text)
    for _ in range(MAX_REPORTS):
        r = shopper.post(f"/moderate/report/{pid}", data={"head": "category", "csrf_token": token})
        assert r.status_code == 200
    r = shopper.post(f"/moderate/report/{pid}", data={"head": "category", "csrf_token": token})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 3000
    assert _actions(engine, pid).count("report") == MAX_REPORTS


def test_bulk_sets_a_colour_on_the_selection(mod_site) -> None:
    app, seeded, engine = mod_site
    client = logged_in(app)
    html = client.get("/moderate/grid").text
    boxes = re.findall(r'name="photo" value="(\d+:\d+)"', html)
    assert len(boxes) == 2
    base = {"csrf_token": csrf_of(html), "photo": boxes, "action": "correct"}
    r = client.post("/moderate/bulk", data=base | {"colour": "mauve"})
    assert "Unknown colour" in r.text  # nothing changed
    assert {_photo(engine, int(b.split(":")[0])).colour for b in boxes} == {"red", "black"}
    r = client.post("/moderate/bulk", data=base | {"colour": "green"})
    assert "Set green on 2 photo(s)" in r.text
    for b in boxes:
        photo = _photo(engine, int(b.split(":")[0]))
        assert (photo.colour, photo.colour_state) == ("green", "human")
        assert photo.category_state == "review"  # the category was not decided
        assert _actions(engine, photo.id) == ["bulk_correct"]


def test_history_filters_counts_and_thumbnails(mod_site) -> None:
    app, seeded, engine = mod_site
    ann, bob = logged_in(app, "ann"), logged_in(app, "bob")
    for client, action in ((ann, "accept"), (bob, "reject")):
        html = client.get("/moderate").text
        pid, version = _current(html)
        client.post(
            f"/moderate/photos/{pid}",
            data={"csrf_token": csrf_of(html), "version": str(version), "action": action},
        )
    html = ann.get("/moderate/history").text
    assert re.search(r"<strong>ann</strong> 1", html) and re.search(r"<strong>bob</strong> 1", html)
    assert html.count('class="thumb"') == 2
    html = ann.get("/moderate/history?moderator=bob").text
    rows = re.findall(r"<tr><td>[^<]+</td><td>(\w+)</td>", html)
    assert rows == ["bob"]
    html = ann.get("/moderate/history?action=accept").text
    assert re.findall(r"<tr><td>[^<]+</td><td>(\w+)</td>", html) == ["ann"]
    assert "No decisions yet" in ann.get("/moderate/history?until=2000-01-01").text
    assert "<td>ann</td>" in ann.get("/moderate/history?since=2000-01-01").text
    r = ann.get("/moderate/history?since=yesterday")
    assert r.status_code == 400 and "From is a date like" in r.text
