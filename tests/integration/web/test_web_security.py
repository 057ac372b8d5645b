"""Hostile input and anonymous access: refused, escaped or empty — never a 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.support.web_helpers import (
    EVIL,
    PASSWORD,
    csrf_of,
    logged_in,
    make_app,
    seed,
    seeded_sqlite_site,
)


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One seeded site for the read-only tests (most of this file)."""
    settings, seeded = seeded_sqlite_site(tmp_path_factory.mktemp("web"))
    app = make_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, seeded, app, settings


@pytest.fixture
def site(shared):
    shared[0].cookies.clear()
    return shared


@pytest.fixture
def fresh(sqlite_url, settings_for):
    """A site of its own, for tests that change data or the login throttle."""
    settings, _ = settings_for(sqlite_url, "[web]\nlogin_max_failures = 3\n")
    seeded = seed(settings)
    app = make_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, seeded, app, settings


@pytest.fixture
def both(db_url, settings_for):
    """Like `fresh`, once on SQLite and once on PostgreSQL."""
    settings, _ = settings_for(db_url, "[web]\nlogin_max_failures = 3\n")
    seeded = seed(settings)
    app = make_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, seeded, app, settings


@pytest.mark.parametrize(
    "path",
    ["/moderate", "/moderate/grid", "/moderate/history", "/api/v1/moderation/queue"],
)
def test_anonymous_cannot_see_moderator_pages(site, path) -> None:
    client, *_ = site
    r = client.get(path, follow_redirects=False)
    assert r.status_code in (303, 401)
    if r.status_code == 303:
        assert r.headers["location"].startswith("/moderate/login")


def test_anonymous_actions_are_refused_and_change_nothing(fresh) -> None:
    client, seeded, *_ = fresh
    pid = seeded.photos["review_dress"]
    token = csrf_of(client.get("/moderate/login").text)  # even with a valid CSRF token
    for path, data in (
        (f"/moderate/photos/{pid}", {"action": "accept", "version": "1"}),
        ("/moderate/undo", {}),
        (f"/moderate/skip/{pid}", {}),
        ("/moderate/bulk", {"action": "accept", "photo": f"{pid}:1"}),
    ):
        r = client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)
        assert r.status_code == 401, path
    r = client.post(f"/api/v1/moderation/photos/{pid}", json={"action": "accept", "version": 1})
    assert r.status_code == 401
    r = client.post(
        f"/api/v1/moderation/photos/{pid}",
        json={"action": "accept", "version": 1},
        headers={"Authorization": "Bearer forged.token.value"},
    )
    assert r.status_code == 401
    assert client.get(f"/api/v1/items/{pid}").status_code == 404  # still unpublished


def test_post_without_valid_csrf_is_forbidden(fresh) -> None:
    _, seeded, app, _ = fresh
    client = logged_in(app)
    pid = seeded.photos["review_dress"]
    for token in (None, "", "wrong-token"):
        data = {"action": "accept", "version": "1"}
        if token is not None:
            data["csrf_token"] = token
        r = client.post(f"/moderate/photos/{pid}", data=data, follow_redirects=False)
        assert r.status_code == 403
    r = client.post("/moderate/logout", follow_redirects=False)
    assert r.status_code == 403
    # the API with a session cookie needs the header too
    r = client.post(f"/api/v1/moderation/photos/{pid}", json={"action": "accept", "version": 1})
    assert r.status_code == 403
    assert client.get("/moderate").status_code == 200  # still logged in, nothing changed
    anon = TestClient(app)
    r = anon.post("/moderate/login", data={"name": "ann", "password": PASSWORD})
    assert r.status_code == 403  # login CSRF too


def test_session_cookie_flags(site, sqlite_url, settings_for) -> None:
    _, _, app, _ = site
    client = TestClient(app)
    r = client.get("/moderate/login")
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    settings, _ = settings_for(sqlite_url, '[web]\nbase_url = "https://shop.example"\n')
    secure = TestClient(make_app(settings), base_url="https://testserver")
    r = secure.get("/moderate/login")
    assert "secure" in r.headers["set-cookie"].lower()
    assert r.headers["strict-transport-security"].startswith("max-age=")


def test_script_in_caption_and_shop_name_is_escaped(site) -> None:
    client, seeded, *_ = site
    for url in (
        "/",
        f"/photos/{seeded.photos['evil_shirt']}",
        f"/shops/{seeded.shops['evil']}",
        "/shops",
        "/?q=%3Cscript%3Ealert(1)%3C/script%3E",
    ):
        html = client.get(url).text
        assert EVIL not in html and "<script>alert" not in html, url
    html = client.get(f"/photos/{seeded.photos['evil_shirt']}").text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "default-src 'self'" in client.get("/").headers["content-security-policy"]


def test_javascript_links_from_crawled_data_are_dropped(fresh) -> None:
    client, seeded, _, settings = fresh
    from sqlalchemy import text

    from catalog.db import make_engine

    engine = make_engine(settings.database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE posts SET permalink = 'javascript:alert(1)'"))
    engine.dispose()
    html = client.get(f"/photos/{seeded.photos['blue_pants']}").text
    assert "javascript:" not in html


HOSTILE = [
    "colour=%27%20OR%201%3D1--",
    "colour=mauve",
    "category=Robe",
    "category=Dress%27%3B%20DROP%20TABLE%20photos%3B--",
    "shop=1%20OR%201%3D1",
    "shop=99999999999999999999999999",
    "shop=-1",
    "shop=2147483648",
    "network=myspace",
    "from=2026-13-45",
    "from=not-a-date",
    "to=99999-01-01",
    "from=0001-01-01",
    "after=%%%",
    "after=AAAA",
    "after=" + "A" * 5000,
    "q=%22%20OR%20%22",
    "q=*",
    "q=NEAR(a%20b)",
    "q=%27%3B%20DROP%20TABLE%20posts%3B--",
    "q=" + "x" * 5000,
    "q=title%3A%20foo%20%5E%20-bar",
    "limit=100000",
    "limit=-5",
    "colour=" + "&colour=".join(["red"] * 50),
]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_filter_values_give_4xx_or_empty_never_500(site, query) -> None:
    client, *_ = site
    for base in ("/", "/api/v1/items", "/moderate/grid"):
        r = client.get(f"{base}?{query}")
        assert r.status_code < 500, (base, query, r.text[:300])
        if r.status_code == 200 and base == "/api/v1/items":
            # a search that matches nothing (or is ignored) may return 200: never extra rows
            assert r.json()["total"] <= 5


@pytest.mark.parametrize(
    "path",
    [
        "/photos/99999999999999999999",
        "/photos/-1",
        "/photos/abc",
        "/photos/1%27%20OR%201=1",
        "/api/v1/items/99999999999",
        "/shops/2147483648",
    ],
)
def test_hostile_ids_are_not_found(site, path) -> None:
    client, *_ = site
    assert client.get(path).status_code in (404, 422)


@pytest.mark.parametrize(
    "path",
    [
        "/media/full/1/../../../../etc/passwd",
        "/media/full/1/..%2F..%2F..%2Fetc%2Fpasswd",
        "/media/full/1/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/media/..%2f..%2fconfig.toml",
        "/media/full/..%2F1/x.jpg",
        "/media/thumb/1/%252e%252e%252fconfig.toml",
        "/media/full/1/....//....//config.toml",
        "/media/full/1/0000000000000000.jpg",
        "/media/full/1/..\\..\\config.toml",
        "/media/full/1/%00.jpg",
        "/static/../config.toml",
        "/static/..%2f..%2fconfig.toml",
        "/static/%2e%2e/%2e%2e/catalog/config.py",
    ],
)
def test_path_traversal_in_media_gives_404(site, path) -> None:
    client, *_ = site
    r = client.get(path)
    assert r.status_code == 404, (path, r.status_code)
    assert b"[database]" not in r.content and b"root:" not in r.content


def test_media_of_unpublished_photos_is_not_served_to_shoppers(site) -> None:
    client, seeded, app, settings = site
    from sqlmodel import Session

    from catalog.db import make_engine
    from catalog.queries import get_item
    from web.templating import image_url

    engine = make_engine(settings.database_url)
    with Session(engine) as s:
        item = get_item(s, seeded.photos["rejected"], public_only=False)
    engine.dispose()
    assert client.get(image_url(item)).status_code == 404
    moderator = logged_in(app)
    r = moderator.get(image_url(item))
    assert r.status_code == 200 and "no-store" in r.headers["cache-control"]


def test_login_is_throttled_after_repeated_failures(fresh) -> None:
    _, _, app, _ = fresh
    client = TestClient(app)
    token = csrf_of(client.get("/moderate/login").text)
    for _ in range(3):
        r = client.post(
            "/moderate/login", data={"name": "ann", "password": "nope", "csrf_token": token}
        )
        assert r.status_code == 401 and "Wrong name or password" in r.text
    r = client.post(
        "/moderate/login", data={"name": "ann", "password": PASSWORD, "csrf_token": token}
    )
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert "Too many failed logins" in r.text


def _try_login(app, password: str) -> int:
    client = TestClient(app)
    token = csrf_of(client.get("/moderate/login").text)
    data = {"name": "ann", "password": password, "csrf_token": token}
    return client.post("/moderate/login", data=data, follow_redirects=False).status_code


def test_login_throttle_is_shared_by_every_worker(db_url, settings_for) -> None:
    """Two apps on one catalogue stand for two worker processes: they count failures together."""
    from catalog import moderation
    from catalog.db import make_engine, session_scope

    settings, _ = settings_for(db_url, "[web]\nlogin_max_failures = 3\n")
    engine = make_engine(db_url)
    with session_scope(engine) as s:
        moderation.add_moderator(s, "ann", PASSWORD)
    engine.dispose()
    one, two = make_app(settings), make_app(settings)
    assert [_try_login(one, "nope"), _try_login(two, "nope")] == [401, 401]
    assert _try_login(one, PASSWORD) == 303  # a success clears the count for both
    assert [_try_login(two, "nope"), _try_login(one, "nope"), _try_login(two, "nope")] == [401] * 3
    assert _try_login(one, PASSWORD) == 429  # locked out by failures made through both
    client = TestClient(make_app(settings))  # and a restarted server still knows
    token = csrf_of(client.get("/moderate/login").text)
    data = {"name": "ann", "password": PASSWORD, "csrf_token": token}
    r = client.post("/moderate/login", data=data)
    assert r.status_code == 429 and 0 < int(r.headers["retry-after"]) <= 300
    assert "Too many failed logins" in r.text


def test_login_redirect_stays_on_this_site(site) -> None:
    _, _, app, _ = site
    client = TestClient(app)
    token = csrf_of(client.get("/moderate/login").text)
    r = client.post(
        "/moderate/login",
        data={
            "name": "ann",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "https://evil.example/",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/moderate"


def test_logout_ends_the_session(site) -> None:
    _, _, app, _ = site
    client = logged_in(app)
    token = csrf_of(client.get("/moderate").text)
    r = client.post("/moderate/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/moderate", follow_redirects=False).status_code == 303


def test_removed_moderator_loses_access_at_once(fresh) -> None:
    _, _, app, settings = fresh
    client = logged_in(app, "bob")
    assert client.get("/moderate").status_code == 200
    from catalog import moderation
    from catalog.db import make_engine, session_scope

    engine = make_engine(settings.database_url)
    with session_scope(engine) as s:
        moderation.remove_moderator(s, "bob")
    engine.dispose()
    assert client.get("/moderate", follow_redirects=False).status_code == 303


def test_hostile_filter_values_on_both_databases(db_url, settings_for) -> None:
    """The same hostile values against SQLite and PostgreSQL (types and FTS syntax differ)."""
    settings, _ = settings_for(db_url)
    seed(settings)
    client = TestClient(make_app(settings), raise_server_exceptions=False)
    for query in [*HOSTILE, "q=_", "q=%C7%85%CC%81", "q=a%3A*%20%26%20!b", "q=%00"]:
        for base in ("/", "/api/v1/items"):
            r = client.get(f"{base}?{query}")
            assert r.status_code < 500, (db_url, base, query, r.text[:300])
    r = client.get("/api/v1/items?colour=mauve")
    assert r.status_code == 400 and "unknown colour" in r.json()["detail"]
    assert client.get("/api/v1/items?q=%27%3B%20DROP%20TABLE%20posts%3B--").json()["total"] == 0
    assert client.get("/api/v1/items").json()["total"] == 5  # nothing was dropped


def test_hostile_login_names_on_both_databases(db_url, settings_for) -> None:
    settings, _ = settings_for(db_url)
    seed(settings)
    client = TestClient(make_app(settings), raise_server_exceptions=False)
    token = csrf_of(client.get("/moderate/login").text)
    for name in ("ann\x00", "' OR '1'='1", "ann'--", "x" * 300, "<script>"):
        r = client.post(
            "/moderate/login", data={"name": name, "password": PASSWORD, "csrf_token": token}
        )
        assert r.status_code in (401, 400, 422), (name, r.status_code)
        assert "<script>" not in r.text.split("<footer")[0].split("</header>")[1]


@pytest.mark.parametrize("header", ["Bearer junk", "Bearer ", "bearer x.y.z"])
def test_an_authorization_header_does_not_switch_off_csrf(both, header) -> None:
    _, seeded, app, settings = both
    client = logged_in(app)
    pid = seeded.photos["review_dress"]
    r = client.post(
        f"/moderate/photos/{pid}",
        data={"action": "accept", "version": "1"},
        headers={"Authorization": header},
        follow_redirects=False,
    )
    assert r.status_code == 403
    r = client.post(
        "/moderate/bulk",
        data={"action": "accept", "photo": f"{pid}:1"},
        headers={"Authorization": header},
        follow_redirects=False,
    )
    assert r.status_code == 403
    assert client.get(f"/api/v1/items/{pid}").status_code == 404  # still unpublished


def test_a_photo_rejected_after_publication_leaves_caches(both) -> None:
    client, seeded, app, settings = both
    from catalog.db import make_engine, session_scope
    from catalog.models import Photo

    pid = seeded.photos["blue_pants"]
    item = client.get(f"/api/v1/items/{pid}").json()
    etags = {}
    for url in (item["image_url"], item["thumb_url"]):
        r = client.get(url)
        cache = r.headers["cache-control"]
        assert r.status_code == 200 and "immutable" not in cache and "public" in cache
        max_age = int(cache.split("max-age=")[1].split(",")[0])
        assert 0 < max_age <= 300 and "must-revalidate" in cache
        etags[url] = r.headers["etag"]
        assert client.get(url, headers={"If-None-Match": etags[url]}).status_code == 304
    moderator = logged_in(app)
    engine = make_engine(settings.database_url)
    with session_scope(engine) as s:
        version = s.get(Photo, pid).version
    engine.dispose()
    r = moderator.post(
        f"/api/v1/moderation/photos/{pid}",
        json={"action": "reject", "version": version},
        headers={"X-CSRF-Token": csrf_of(moderator.get("/moderate").text)},
    )
    assert r.status_code == 200, r.text
    for url, etag in etags.items():  # a cache revalidating is told the photo is gone
        assert client.get(url, headers={"If-None-Match": etag}).status_code == 404


def test_moderator_pages_are_never_cached(both) -> None:
    _, seeded, app, _ = both
    anon = TestClient(app)
    assert anon.get("/moderate/login").headers["cache-control"] == "no-store"
    client = logged_in(app)
    for path in (
        "/moderate",
        "/moderate/grid",
        "/moderate/history",
        f"/moderate/photos/{seeded.photos['review_dress']}",
        "/api/v1/moderation/queue",
    ):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store", path
    assert "no-store" not in TestClient(app).get("/").headers.get("cache-control", "")
