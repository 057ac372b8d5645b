"""The moderators' queue: decisions, audit trail, undo, conflicts, bulk review, API tokens, CLI."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlmodel import Session
from typer.testing import CliRunner

from catalog.db import make_engine
from catalog.models import ModerationEvent, Moderator, Photo
from tests.web_helpers import csrf_of, logged_in, make_app, seed


@pytest.fixture
def mod_site(db_url, settings_for):
    settings, path = settings_for(db_url)
    seeded = seed(settings)
    app = make_app(settings)
    engine = make_engine(settings.database_url)
    yield app, seeded, engine, settings, path
    engine.dispose()


def _photo(engine, pid: int) -> Photo:
    with Session(engine) as s:
        return s.get(Photo, pid)


def _events(engine, pid: int) -> list[ModerationEvent]:
    with Session(engine) as s:
        return list(
            s.execute(
                select(ModerationEvent)
                .where(ModerationEvent.photo_id == pid)
                .order_by(ModerationEvent.id)
            ).scalars()
        )


def _current(html: str) -> tuple[int, int]:
    m = re.search(r'data-photo="(\d+)" data-version="(\d+)"', html)
    assert m, "no photo under review"
    return int(m.group(1)), int(m.group(2))


def _left(html: str) -> int:
    return int(re.search(r'id="left"><strong>(\d+)</strong>', html).group(1))


def _act(client: TestClient, html: str, **data: str):
    pid, version = _current(html)
    payload = {"csrf_token": csrf_of(html), "version": str(version), **data}
    return client.post(f"/moderate/photos/{pid}", data=payload)


def test_queue_least_confident_first_with_top3_and_counter(mod_site) -> None:
    app, seeded, *_ = mod_site
    client = logged_in(app)
    html = client.get("/moderate").text
    # review_dress has min confidence .41, review_tee .62
    assert _current(html)[0] == seeded.photos["review_dress"]
    assert _left(html) == 2
    # the model's top 3 per head, with keys and confidences
    assert html.count('class="choice"') == 6
    assert "41%" in html and "55%" in html
    assert 'data-key="1"' in html and 'data-key="7"' in html


def test_accept_correct_reject_publish_and_audit(mod_site) -> None:
    app, seeded, engine, *_ = mod_site
    client = logged_in(app)
    shopper = TestClient(app)
    dress, tee = seeded.photos["review_dress"], seeded.photos["review_tee"]
    html = client.get("/moderate").text
    r = _act(client, html, action="correct", colour="blue")
    assert r.status_code == 200 and "Corrected photo" in r.text
    photo = _photo(engine, dress)
    assert (photo.status, photo.colour, photo.category, photo.version) == (
        "corrected",
        "blue",
        "Dress",
        2,
    )
    assert photo.reviewed_by == "ann"
    # published under the new colour, not the old one
    blue = {i["id"] for i in shopper.get("/api/v1/items?colour=blue&limit=50").json()["items"]}
    red = {i["id"] for i in shopper.get("/api/v1/items?colour=red&limit=50").json()["items"]}
    assert dress in blue and dress not in red
    (event,) = _events(engine, dress)
    assert event.moderator == "ann" and event.action == "correct"
    assert event.before["colour"] == "red" and event.after["colour"] == "blue"
    assert event.before["status"] == "needs_review" and event.after["version"] == 2
    assert event.at is not None
    html = r.text
    assert _left(html) == 1 and _current(html)[0] == tee
    r = _act(client, html, action="reject")
    assert _photo(engine, tee).status == "rejected"
    assert shopper.get(f"/photos/{tee}").status_code == 404
    assert "The queue is empty" in r.text and _left(r.text) == 0


def test_skip_then_undo(mod_site) -> None:
    app, seeded, engine, *_ = mod_site
    client = logged_in(app)
    dress, tee = seeded.photos["review_dress"], seeded.photos["review_tee"]
    html = client.get("/moderate").text
    r = client.post(f"/moderate/skip/{dress}", data={"csrf_token": csrf_of(html)})
    assert _current(r.text)[0] == tee  # skipped: the next one is shown
    r = _act(client, r.text, action="accept")
    assert _photo(engine, tee).status == "approved"
    r = client.post("/moderate/undo", data={"csrf_token": csrf_of(r.text)})
    assert "Undid your last decision" in r.text
    photo = _photo(engine, tee)
    assert photo.status == "needs_review" and photo.version == 3
    assert [e.action for e in _events(engine, tee)] == ["accept", "undo"]
    r = client.post("/moderate/undo", data={"csrf_token": csrf_of(r.text)})
    assert "Nothing to undo" in r.text


def test_two_moderators_conflict_and_no_update_is_lost(mod_site) -> None:
    app, seeded, engine, *_ = mod_site
    ann, bob = logged_in(app, "ann"), logged_in(app, "bob")
    ann_page, bob_page = ann.get("/moderate").text, bob.get("/moderate").text
    assert _current(ann_page) == _current(bob_page)
    assert _act(ann, ann_page, action="correct", category="Skirt").status_code == 200
    r = _act(bob, bob_page, action="accept")
    assert r.status_code == 409
    assert "was changed by ann" in r.text and "nothing was saved" in r.text
    photo = _photo(engine, seeded.photos["review_dress"])
    assert (photo.status, photo.category, photo.version) == ("corrected", "Skirt", 2)
    assert [e.moderator for e in _events(engine, photo.id)] == ["ann"]


def test_bulk_accept_and_reject_on_a_filtered_grid(mod_site) -> None:
    app, seeded, engine, *_ = mod_site
    client = logged_in(app)
    html = client.get("/moderate/grid?colour=black").text
    boxes = re.findall(r'name="photo" value="(\d+:\d+)"', html)
    assert boxes == [f"{seeded.photos['review_tee']}:1"]
    html = client.get("/moderate/grid").text
    boxes = re.findall(r'name="photo" value="(\d+:\d+)"', html)
    assert len(boxes) == 2
    stale = f"{seeded.photos['review_dress']}:7"  # a version nobody has: a conflict
    r = client.post(
        "/moderate/bulk",
        data={"csrf_token": csrf_of(html), "action": "accept", "photo": [boxes[1], stale]},
    )
    assert r.status_code == 200 and "Accepted 1 photo(s)" in r.text and "1 changed" in r.text
    accepted = int(boxes[1].split(":")[0])
    assert _photo(engine, accepted).status == "approved"
    assert [e.action for e in _events(engine, accepted)] == ["bulk_accept"]
    html = r.text
    r = client.post(
        "/moderate/bulk",
        data={"csrf_token": csrf_of(html), "action": "reject", "photo": [boxes[0]]},
    )
    assert _photo(engine, int(boxes[0].split(":")[0])).status == "rejected"
    assert _left(r.text) == 0


def test_history_lists_the_audit_trail(mod_site) -> None:
    app, seeded, *_ = mod_site
    client = logged_in(app)
    _act(client, client.get("/moderate").text, action="accept")
    html = client.get("/moderate/history").text
    assert "ann" in html and "accept" in html and "needs_review" in html and "approved" in html
    # a photo's own page, published or not, shows its trail; shoppers cannot open it
    rejected = seeded.photos["rejected"]
    page = client.get(f"/moderate/photos/{rejected}")
    assert page.status_code == 200 and 'id="status">rejected<' in page.text
    detail = client.get(f"/moderate/photos/{seeded.photos['review_dress']}").text
    assert "approved" in detail and "ann" in detail
    anonymous = TestClient(app).get(f"/moderate/photos/{rejected}", follow_redirects=False)
    assert anonymous.status_code == 303


def test_api_moderation_with_token_and_with_session(mod_site) -> None:
    app, seeded, engine, settings, _ = mod_site
    from catalog.access import issue_token
    from catalog.db import session_scope

    with session_scope(engine) as s:
        _, token = issue_token(s, "ann", settings.web.api_token_days)
    api = TestClient(app)
    headers = {"Authorization": f"Bearer {token}"}
    queue = api.get("/api/v1/moderation/queue", headers=headers).json()
    assert queue["left"] == 2
    first = queue["items"][0]
    assert first["photo"]["id"] == seeded.photos["review_dress"]
    assert [t[0] for t in first["top"]["category"]][0] == "Dress"
    assert len(first["top"]["colour"]) == 3
    url = f"/api/v1/moderation/photos/{first['photo']['id']}"
    r = api.post(url, json={"action": "correct", "version": 1, "colour": "mauve"}, headers=headers)
    assert r.status_code == 400
    r = api.post(url, json={"action": "accept", "version": first["version"]}, headers=headers)
    assert r.status_code == 200 and r.json()["after"]["status"] == "approved"
    r = api.post(url, json={"action": "reject", "version": first["version"]}, headers=headers)
    assert r.status_code == 409 and r.json()["changed_by"] == "ann"
    # a browser session works too, with the CSRF token in a header
    client = logged_in(app, "bob")
    token = csrf_of(client.get("/moderate").text)
    r = client.post("/api/v1/moderation/undo", headers={"X-CSRF-Token": token})
    assert r.status_code == 400  # bob has nothing to undo
    r = api.post("/api/v1/moderation/undo", headers=headers)
    assert r.status_code == 200 and _photo(engine, first["photo"]["id"]).status == "needs_review"


def test_moderators_cli_add_list_remove(mod_site) -> None:
    _, _, engine, _, path = mod_site
    from vitrina_cli.main import app as cli

    runner = CliRunner()
    r = runner.invoke(
        cli, ["--config", str(path), "moderators", "add", "cleo"], input="s3cret-pass\n"
    )
    assert r.exit_code == 0, r.output
    with Session(engine) as s:
        mod = s.execute(select(Moderator).where(Moderator.name == "cleo")).scalar_one()
        assert mod.password_hash.startswith("$argon2") and "s3cret" not in mod.password_hash
    r = runner.invoke(
        cli, ["--config", str(path), "moderators", "add", "cleo"], input="another-pass\n"
    )
    assert r.exit_code == 1 and "already exists" in r.output
    r = runner.invoke(cli, ["--config", str(path), "moderators", "add", "dan"], input="short\n")
    assert r.exit_code == 1 and "at least 8" in r.output
    r = runner.invoke(cli, ["--config", str(path), "moderators", "list"])
    assert r.exit_code == 0 and "cleo" in r.output and "3 moderator(s)" in r.output
    r = runner.invoke(cli, ["--config", str(path), "moderators", "token", "cleo"])
    assert r.exit_code == 0 and len(r.output.strip()) > 20
    r = runner.invoke(cli, ["--config", str(path), "moderators", "remove", "cleo"])
    assert r.exit_code == 0
    r = runner.invoke(cli, ["--config", str(path), "moderators", "remove", "cleo"])
    assert r.exit_code == 1


def test_cli_added_moderator_can_log_in(mod_site) -> None:
    app, _, _, _, path = mod_site
    from vitrina_cli.main import app as cli

    r = CliRunner().invoke(
        cli, ["--config", str(path), "moderators", "add", "eve"], input="pass-for-eve\n"
    )
    assert r.exit_code == 0
    client = TestClient(app)
    token = csrf_of(client.get("/moderate/login").text)
    r = client.post(
        "/moderate/login", data={"name": "eve", "password": "pass-for-eve", "csrf_token": token}
    )
    assert r.status_code == 200 and "left to review" in r.text


def test_choosing_the_models_own_label_counts_as_approval(mod_site) -> None:
    app, seeded, engine, *_ = mod_site
    client = logged_in(app)
    html = client.get("/moderate").text
    r = _act(client, html, action="correct", category="Dress")  # what the model said
    assert r.status_code == 200
    photo = _photo(engine, seeded.photos["review_dress"])
    assert (photo.status, photo.category, photo.version) == ("approved", "Dress", 2)


def test_serve_refuses_a_public_address_with_the_default_secret(tmp_path, sqlite_url) -> None:
    from tests.conftest import write_config
    from vitrina_cli.main import app as cli

    config = write_config(tmp_path, sqlite_url)
    r = CliRunner().invoke(cli, ["--config", str(config), "serve", "--host", "0.0.0.0"])
    assert r.exit_code == 2 and "default web.secret_key" in r.output
