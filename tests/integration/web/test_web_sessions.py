"""Ending access: logging out, removing a moderator, revoking API tokens (both engines).

A copied cookie or token must stop working the moment its session or token is ended, and a
moderator removed and added again under the same name must not get the old ones back.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from catalog import moderation
from catalog.db import make_engine, session_scope
from tests.support.web_helpers import PASSWORD, csrf_of, logged_in, make_app, seed
from vitrina_cli.main import app as cli


@pytest.fixture
def site(db_url, settings_for):  # type: ignore[no-untyped-def]
    settings, config = settings_for(db_url)
    seeded = seed(settings)
    app = make_app(settings)
    engine = make_engine(db_url)
    yield app, seeded, settings, config, engine
    engine.dispose()


def _copy(app, client: TestClient) -> TestClient:  # type: ignore[no-untyped-def]
    thief = TestClient(app)
    thief.cookies.update(dict(client.cookies))
    return thief


def _vitrina(config, *args: str, stdin: str = ""):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["--config", str(config), "moderators", *args], input=stdin)


def _api(app, token: str) -> int:  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}"}
    return TestClient(app).get("/api/v1/moderation/queue", headers=headers).status_code


def test_logging_out_ends_a_copied_cookie_too(site) -> None:
    app, *_ = site
    client = logged_in(app)
    other_device = logged_in(app)
    thief = _copy(app, client)
    assert thief.get("/moderate", follow_redirects=False).status_code == 200
    token = csrf_of(client.get("/moderate").text)
    assert client.post("/moderate/logout", data={"csrf_token": token}).status_code == 200
    for c in (client, thief):
        assert c.get("/moderate", follow_redirects=False).status_code == 303
        assert c.get("/api/v1/moderation/queue").status_code == 401
    assert other_device.get("/moderate").status_code == 200  # only that session ended


def test_a_removed_then_re_added_moderator_gets_no_old_access_back(site) -> None:
    app, _, settings, config, engine = site
    client = logged_in(app, "bob")
    copy = _copy(app, client)
    token = _vitrina(config, "token", "bob").stdout.strip()
    assert _api(app, token) == 200
    assert _vitrina(config, "remove", "bob").exit_code == 0
    assert _vitrina(config, "add", "bob", stdin=PASSWORD + "\n").exit_code == 0
    for c in (client, copy):
        assert c.get("/moderate", follow_redirects=False).status_code == 303
    assert _api(app, token) == 401
    assert logged_in(app, "bob").get("/moderate").status_code == 200  # new logins work


def test_api_tokens_are_listed_and_revoked_one_by_one_or_all(site) -> None:
    app, _, _, config, _ = site
    made = [_vitrina(config, "token", "ann", "--label", f"script {i}") for i in range(3)]
    assert all(r.exit_code == 0 for r in made)
    tokens = [r.stdout.strip() for r in made]
    assert all(t.startswith("vt_") and _api(app, t) == 200 for t in tokens)
    listing = _vitrina(config, "token", "ann", "--list")
    assert listing.exit_code == 0 and "script 1" in listing.stdout
    assert not any(t in listing.stdout for t in tokens)  # the secrets are never shown again
    ids = [int(re.search(r"token (\d+) for ann", r.stderr).group(1)) for r in made]
    assert _vitrina(config, "token", "ann", "--revoke", str(ids[0])).exit_code == 0
    assert [_api(app, t) for t in tokens] == [401, 200, 200]
    assert _vitrina(config, "token", "bob", "--revoke", str(ids[1])).exit_code == 1  # not bob's
    assert _api(app, tokens[1]) == 200
    r = _vitrina(config, "token", "ann", "--revoke-all")
    assert r.exit_code == 0 and "2 token(s)" in r.stdout
    assert [_api(app, t) for t in tokens] == [401, 401, 401]
    assert _vitrina(config, "token", "nobody").exit_code == 1


def test_moderators_logout_ends_every_session_of_one_moderator(site) -> None:
    app, _, _, config, engine = site
    ann, ann_too, bob = logged_in(app), logged_in(app), logged_in(app, "bob")
    r = _vitrina(config, "logout", "ann")
    assert r.exit_code == 0 and "2 session(s)" in r.stdout
    for c in (ann, ann_too):
        assert c.get("/moderate", follow_redirects=False).status_code == 303
    assert bob.get("/moderate").status_code == 200


def test_a_disabled_moderator_loses_sessions_and_tokens(site) -> None:
    app, _, settings, config, engine = site
    client = logged_in(app)
    token = _vitrina(config, "token", "ann").stdout.strip()
    with session_scope(engine) as s:
        moderation.active_moderator(s, "ann").active = False
    assert client.get("/moderate", follow_redirects=False).status_code == 303
    assert _api(app, token) == 401
