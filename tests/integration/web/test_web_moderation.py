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
from tests.support.web_helpers import add_doubtful_colour, csrf_of, logged_in, make_app, seed


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


def _act(client: TestClient, html: str, **data: str | list[str]):
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
    # both labels are doubtful: both asked in one form, saved at once
    assert 'id="ask-category"' in html and 'id="ask-colour"' in html
    r = _act(
        client, html, action="decide", asked=["category", "colour"], category="Dress",
        colour="__other__", colour_other="blue",
    )  # fmt: skip
    assert r.status_code == 200 and "Corrected photo" in r.text
    photo = _photo(engine, dress)
    assert (photo.status, photo.colour, photo.category, photo.version) == (
        "corrected",
        "blue",
        "Dress",
        2,
    )
    assert (photo.category_state, photo.colour_state) == ("human", "human")
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
    assert _current(r.text)[0] == tee  # the undone photo is shown first
    # a skip is an action too: the next undo brings the skipped dress back
    r = client.post("/moderate/undo", data={"csrf_token": csrf_of(r.text)})
    assert f"Undid the skip: photo {dress} is back" in r.text
    assert _current(r.text)[0] == dress
    r = client.post("/moderate/undo", data={"csrf_token": csrf_of(r.text)})
    assert "Nothing to undo" in r.text


def test_undo_right_after_a_skip_undoes_the_skip_not_the_decision(mod_site) -> None:
    app, seeded, engine, *_ = mod_site
    client = logged_in(app)
    dress, tee = seeded.photos["review_dress"], seeded.photos["review_tee"]
    html = client.get("/moderate").text
    r = _act(client, html, action="accept")  # the dress
    r = client.post(f"/moderate/skip/{tee}", data={"csrf_token": csrf_of(r.text)})
    r = client.post("/moderate/undo", data={"csrf_token": csrf_of(r.text)})
    assert "Undid the skip" in r.text and _current(r.text)[0] == tee
    assert _photo(engine, dress).status == "approved"  # the decision stands
    assert [e.action for e in _events(engine, dress)] == ["accept"]


def test_two_moderators_conflict_and_no_update_is_lost(mod_site) -> None:
    app, seeded, engine, *_ = mod_site
    ann, bob = logged_in(app, "ann"), logged_in(app, "bob")
    ann_page, bob_page = ann.get("/moderate").text, bob.get("/moderate").text
    assert _current(ann_page) == _current(bob_page)
    r = _act(ann, ann_page, action="correct", category="Skirt")
    assert r.status_code == 200 and "Its colour still waits for review" in r.text
    r = _act(bob, bob_page, action="accept")
    assert r.status_code == 409
    assert "was changed by ann" in r.text and "nothing was saved" in r.text
    photo = _photo(engine, seeded.photos["review_dress"])
    # ann decided the category only: public under it, the colour still queued
    assert (photo.status, photo.category, photo.version) == ("partly_accepted", "Skirt", 2)
    assert (photo.category_state, photo.colour_state) == ("human", "review")
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
    # what the model said, for both labels
    r = _act(client, html, action="decide", asked=["category", "colour"], category="Dress",
             colour="red")  # fmt: skip
    assert r.status_code == 200 and "Accepted photo" in r.text
    photo = _photo(engine, seeded.photos["review_dress"])
    assert (photo.status, photo.category, photo.version) == ("approved", "Dress", 2)
    assert [e.action for e in _events(engine, photo.id)] == ["accept"]
    # a decision that chose nothing for an asked label is refused, nothing is written
    html = r.text
    r = _act(client, html, action="decide", asked=["category", "colour"], category="Top")
    assert r.status_code == 400 and "Choose a colour" in r.text


def test_serve_refuses_a_public_address_with_the_default_secret(tmp_path, sqlite_url) -> None:
    from tests.support.common import write_config
    from vitrina_cli.main import app as cli

    config = write_config(tmp_path, sqlite_url, default_secret=True)
    r = CliRunner().invoke(cli, ["--config", str(config), "serve", "--host", "0.0.0.0"])
    assert r.exit_code == 2 and "default web.secret_key" in r.output


def test_queue_page_asks_only_the_doubtful_colour_with_the_shops_words(mod_site) -> None:
    app, seeded, engine, settings, _ = mod_site
    pid = add_doubtful_colour(settings)
    shopper = TestClient(app)
    # public at once under its category; its colour is not shown nor counted yet
    body = shopper.get("/api/v1/items?category=Shirt&limit=50").json()
    item = next(i for i in body["items"] if i["id"] == pid)
    assert (item["category"], item["colour"]) == ("Shirt", None)
    assert item["states"] == {"category": "auto", "colour": "review"}
    assert "beige" not in {v["value"] for v in body["facets"]["colour"]}
    page = shopper.get(f"/photos/{pid}").text
    assert 'id="label-category">Shirt' in page and "beige" not in page
    assert shopper.get(f"/api/v1/items/{pid}").json()["evidence"]["colour"]["summary"] == (
        "shop says: beige (options, title)"
    )

    client = logged_in(app)
    html = client.get("/moderate").text
    assert _current(html)[0] == pid and _left(html) == 3
    assert 'id="ask-colour"' in html and 'id="ask-category"' not in html
    assert 'id="decided-category"' in html and "decided by the model" in html
    assert "shop says: beige (options, title)" in html
    assert 'id="conflict-colour"' in html and "words and photo disagree" in html
    assert "Photo alone: white 80%" in html
    assert 'value="colour"' in html and 'name="category"' not in html
    # the moderator's answer to the one question publishes the photo fully
    r = _act(client, html, action="decide", asked="colour", colour="beige")
    assert r.status_code == 200 and "Accepted photo" in r.text and _left(r.text) == 2
    photo = _photo(engine, pid)
    assert (photo.status, photo.category_state, photo.colour_state) == ("approved", "auto", "human")
    body = shopper.get("/api/v1/items?colour=beige").json()
    assert [i["id"] for i in body["items"]] == [pid]
    assert body["items"][0]["states"] == {"category": "auto", "colour": "human"}


def test_api_queue_shows_asked_labels_guesses_and_evidence(mod_site) -> None:
    app, seeded, engine, settings, _ = mod_site
    from catalog.access import issue_token
    from catalog.db import session_scope

    pid = add_doubtful_colour(settings)
    with session_scope(engine) as s:
        _, token = issue_token(s, "ann", settings.web.api_token_days)
    headers = {"Authorization": f"Bearer {token}"}
    api = TestClient(app)
    first = api.get("/api/v1/moderation/queue", headers=headers).json()["items"][0]
    assert first["photo"]["id"] == pid and first["asked"] == ["colour"] and first["conflict"]
    colour = first["guesses"]["colour"]
    assert colour["evidence"]["summary"] == "shop says: beige (options, title)"
    assert colour["image_top"][0] == ["white", 0.8] and colour["top"][0][0] == "beige"
    assert {c["source"] for c in colour["evidence"]["clues"]} == {"options", "title"}
    assert first["photo"]["colour"] == "beige"  # moderators see the model's guess
    # correcting the colour leaves the category as the model decided it
    url = f"/api/v1/moderation/photos/{pid}"
    r = api.post(
        url, json={"action": "correct", "version": first["version"], "colour": "white"},
        headers=headers,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    after = r.json()["after"]
    assert (after["status"], after["category_state"], after["colour"]) == (
        "corrected",
        "auto",
        "white",
    )
    r = api.post(url, json={"action": "accept", "version": 9, "heads": ["size"]}, headers=headers)
    assert r.status_code == 422
