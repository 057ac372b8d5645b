"""Moderators racing each other against a real uvicorn server, on SQLite and PostgreSQL.

Two bulk reviews and API decisions on the same photos at once must neither freeze the worker
(the event loop keeps answering /healthz) nor fail with a 500, and every photo ends up decided
exactly once: the others get a conflict, never a lost update.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from catalog.db import make_engine, session_scope
from catalog.models import ModerationEvent, Photo
from demo.seed import add_photo, add_post
from tests.support.live_server import browser_login, live_server
from tests.support.web_helpers import seed

BOUND_S = 20  # no request may take longer than this, however the others interleave
PHOTOS = 40


def api_token(settings, name: str) -> str:  # type: ignore[no-untyped-def]
    from catalog.access import issue_token

    engine = make_engine(settings.database_url)
    with session_scope(engine) as s:
        _, token = issue_token(s, name, settings.web.api_token_days)
    engine.dispose()
    return token


@pytest.fixture
def site(db_url, settings_for):  # type: ignore[no-untyped-def]
    settings, config = settings_for(db_url, '[web]\nsecret_key = "concurrency-test-key"\n')
    seeded = seed(settings)
    engine = make_engine(db_url)
    with session_scope(engine) as s:
        post = add_post(s, seeded.shops["lina"], "mastodon", "race", caption="Racing", days_ago=0)
        for i in range(PHOTOS):
            add_photo(
                s, settings.media_dir, post, "Dress", "red", seed=100 + i, position=i,
                status="needs_review", category_confidence=0.3, colour_confidence=0.3,
            )  # fmt: skip
    with session_scope(engine) as s:
        queued = s.execute(
            select(Photo.id, Photo.version).where(Photo.status == "needs_review")
        ).all()
    yield settings, config, [(int(i), int(v)) for i, v in queued], engine
    engine.dispose()


def test_bulk_reviews_racing_api_decisions_neither_freeze_nor_fail(site, tmp_path: Path) -> None:
    settings, config, queued, engine = site
    results: list[tuple[str, int, float]] = []
    health: list[float] = []
    done = threading.Event()

    with live_server(config, tmp_path / "server.log") as base:
        ann, ann_csrf = browser_login(base, "ann")
        bob, bob_csrf = browser_login(base, "bob")
        tokens = {n: api_token(settings, n) for n in ("ann", "bob")}

        def timed(kind: str, call) -> None:  # type: ignore[no-untyped-def]
            t0 = time.monotonic()
            try:
                status = call().status_code
            except httpx.TimeoutException:
                status = -1
            results.append((kind, status, time.monotonic() - t0))

        def bulk(client: httpx.Client, csrf: str, action: str) -> None:
            photos = [f"{pid}:{version}" for pid, version in queued]
            for _ in range(3):
                timed(
                    "bulk",
                    lambda: client.post(
                        "/moderate/bulk",
                        data={"action": action, "photo": photos, "csrf_token": csrf},
                    ),
                )

        def api(name: str, order: list[tuple[int, int]]) -> None:
            with httpx.Client(base_url=base, timeout=60) as c:
                auth = {"Authorization": f"Bearer {tokens[name]}"}
                for pid, version in order:
                    timed(
                        "api",
                        lambda pid=pid, version=version: c.post(
                            f"/api/v1/moderation/photos/{pid}",
                            json={"action": "reject", "version": version},
                            headers=auth,
                        ),
                    )

        def healthz() -> None:
            with httpx.Client(base_url=base, timeout=10) as c:
                while not done.is_set():
                    t0 = time.monotonic()
                    try:
                        ok = c.get("/healthz").status_code == 200
                    except httpx.TimeoutException:
                        ok = False
                    health.append(time.monotonic() - t0 if ok else float("inf"))
                    time.sleep(0.1)

        poller = threading.Thread(target=healthz)
        poller.start()
        workers = [
            threading.Thread(target=bulk, args=(ann, ann_csrf, "accept")),
            threading.Thread(target=bulk, args=(bob, bob_csrf, "reject")),
            threading.Thread(target=api, args=("ann", queued[::-1])),
            threading.Thread(target=api, args=("bob", queued[len(queued) // 2 :] + queued)),
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=180)
        done.set()
        poller.join(timeout=60)
        assert not any(w.is_alive() for w in workers), "a request never came back"

    errors = [r for r in results if r[1] not in (200, 303, 409)]
    assert not errors, errors
    slowest = max(r[2] for r in results)
    assert slowest < BOUND_S, sorted(results, key=lambda r: -r[2])[:5]
    assert health and max(health) < 5, f"/healthz took up to {max(health):.1f} s"
    with session_scope(engine) as s:
        for pid, version in queued:
            photo = s.get(Photo, pid)
            events = s.execute(
                select(func.count()).where(ModerationEvent.photo_id == pid)
            ).scalar_one()
            # decided once: one version step and one audit event, whoever won
            assert (photo.version, events) == (version + 1, 1), pid
            assert photo.status in ("approved", "rejected")


def test_a_decision_is_committed_before_it_is_acknowledged(site, tmp_path: Path) -> None:
    """Read straight after the answer, 30 times: the change is always there."""
    settings, config, queued, _ = site
    with live_server(config, tmp_path / "server.log") as base:
        auth = {"Authorization": f"Bearer {api_token(settings, 'ann')}"}
        ann, csrf = browser_login(base, "ann")
        with httpx.Client(base_url=base, timeout=30) as c:
            missed = []
            for n, (pid, version) in enumerate(queued[:30]):
                if n % 2:  # the form, as a browser posts it
                    r = ann.post(
                        f"/moderate/photos/{pid}",
                        data={"action": "accept", "version": version, "csrf_token": csrf},
                    )
                    assert r.status_code == 303, r.text[:300]
                else:
                    r = c.post(
                        f"/api/v1/moderation/photos/{pid}",
                        json={"action": "accept", "version": version},
                        headers=auth,
                    )
                    assert r.status_code == 200, r.text[:300]
                if c.get(f"/api/v1/items/{pid}").status_code != 200:  # accepted: now public
                    missed.append(pid)
    assert not missed, f"{len(missed)}/30 decisions were not visible right after the reply"


@pytest.fixture
def plain_site(db_url, settings_for):  # type: ignore[no-untyped-def]
    settings, config = settings_for(db_url, '[web]\nsecret_key = "concurrency-test-key"\n')
    seed(settings)
    return settings, config


def test_a_burst_of_wrong_passwords_gets_at_most_the_limit_checked(plain_site, tmp_path) -> None:
    """30 wrong passwords at once, limit 5: 5 are checked (401), the rest refused (429)."""
    import re
    from concurrent.futures import ThreadPoolExecutor

    settings, config = plain_site
    assert settings.web.login_max_failures == 5
    with live_server(config, tmp_path / "server.log") as base:
        first = httpx.Client(base_url=base, timeout=60)
        html = first.get("/moderate/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
        cookies = dict(first.cookies)
        barrier = threading.Barrier(30)

        def wrong(_: int) -> int:
            with httpx.Client(base_url=base, timeout=60, cookies=cookies) as c:
                barrier.wait()
                data = {"name": "ann", "password": "wrong-password", "csrf_token": token}
                return c.post("/moderate/login", data=data).status_code

        with ThreadPoolExecutor(30) as pool:
            codes = list(pool.map(wrong, range(30)))
        assert sorted(set(codes)) <= [401, 429], codes
        assert codes.count(401) <= 5, f"{codes.count(401)} of 30 passwords were checked"
        data = {"name": "ann", "password": "correct horse battery", "csrf_token": token}
        assert first.post("/moderate/login", data=data).status_code == 429  # still locked


def test_a_decision_blocked_by_a_stuck_writer_fails_fast_with_503(db_url, settings_for) -> None:
    """A lock held elsewhere (a stuck job, a forgotten psql) costs a bounded wait, then a 503."""
    from sqlalchemy import text

    from tests.support.web_helpers import logged_in, make_app

    settings, _ = settings_for(db_url)
    seeded = seed(settings)
    app = make_app(settings)
    engine = app.state.engine
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            names = ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout")
            shown = {k: conn.execute(text(f"SHOW {k}")).scalar() for k in names}
            assert shown == {
                "statement_timeout": "15s",
                "lock_timeout": "5s",
                "idle_in_transaction_session_timeout": "30s",
            }
        else:
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 5000
    client = logged_in(app)
    csrf = client.get("/moderate").text.split('name="csrf_token" value="')[1].split('"')[0]
    pid = seeded.photos["review_dress"]
    other = make_engine(db_url)
    with other.connect() as stuck:
        if other.dialect.name == "postgresql":
            stuck.execute(text("SELECT id FROM photos WHERE id = :i FOR UPDATE"), {"i": pid})
        else:
            stuck.exec_driver_sql("BEGIN IMMEDIATE")
        t0 = time.monotonic()
        r = client.post(
            f"/api/v1/moderation/photos/{pid}",
            json={"action": "accept", "version": 1},
            headers={"X-CSRF-Token": csrf},
        )
        waited = time.monotonic() - t0
        stuck.rollback()
    other.dispose()
    assert r.status_code == 503 and r.headers["retry-after"], r.text
    assert waited < 10, f"waited {waited:.1f} s"
    r = client.post(  # the lock gone, the same decision goes through
        f"/api/v1/moderation/photos/{pid}",
        json={"action": "accept", "version": 1},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 200, r.text
