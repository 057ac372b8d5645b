"""What a crawl recovers from earlier ones: crawl runs left "running" by a killed process, and
photos whose download failed for a passing reason (retried by later crawls, within a bound)."""

from __future__ import annotations

import importlib
import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from catalog import crud
from catalog.db import make_engine, session_scope
from catalog.models import CrawlRun, Photo, Post, RejectedMedia, utcnow
from catalog.records import PhotoFailure
from crawler.emulator.catalogue import Catalogue
from crawler.emulator.faults import Faults
from crawler.emulator.server import EmulatorServer
from crawler.run import close_dead_runs, crawl_subprocess, pid_alive
from tests.support.crawl import crawl_until, rows, setup

r001 = importlib.import_module("catalog.migrations.versions.0008_r001_rejected_media_kind")


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


# ---- crawl runs left "running" ----------------------------------------------------------------


def test_pid_alive_tells_running_finished_and_zombie_processes():
    sleeper = subprocess.Popen(["sleep", "30"])
    zombie = subprocess.Popen(["true"])
    try:
        assert pid_alive(sleeper.pid)
        deadline = time.time() + 10
        while time.time() < deadline and pid_alive(zombie.pid):
            time.sleep(0.05)
        assert not pid_alive(zombie.pid)  # exited, not yet reaped: still in the process table
    finally:
        sleeper.kill()
        sleeper.wait()
        zombie.wait()
    assert not pid_alive(sleeper.pid)


def test_close_dead_runs_marks_only_runs_that_cannot_be_alive(engine):
    sibling = subprocess.Popen(["sleep", "30"])  # a live crawl process beside ours
    old = utcnow() - timedelta(minutes=20)
    recent = utcnow() - timedelta(minutes=2)
    runs = {
        "dead pid here": CrawlRun(host="here", pid=_dead_pid(), heartbeat_at=recent),
        "my pid, not me": CrawlRun(host="here", pid=4242, heartbeat_at=recent),
        "live sibling here": CrawlRun(host="here", pid=sibling.pid, heartbeat_at=recent),
        "live pid, silent": CrawlRun(host="here", pid=sibling.pid, heartbeat_at=old),
        "other host, beating": CrawlRun(host="there", pid=1, heartbeat_at=recent),
        "other host, silent": CrawlRun(host="there", pid=1, heartbeat_at=old),
        "before heartbeats, old": CrawlRun(started_at=old),
        "before heartbeats, recent": CrawlRun(started_at=recent),
        "finished": CrawlRun(status="ok", host="here", pid=_dead_pid(), heartbeat_at=old),
    }
    try:
        with session_scope(engine) as s:
            for run in runs.values():
                s.add(run)
        with session_scope(engine) as s:
            closed = close_dead_runs(s, host="here", pid=4242)
        with session_scope(engine) as s:  # a second look (or a sibling's) changes nothing
            assert close_dead_runs(s, host="here", pid=4242) == []
    finally:
        sibling.kill()
        sibling.wait()
    with session_scope(engine) as s:
        status = {name: s.get(CrawlRun, run.id).status for name, run in runs.items()}
        dead = s.get(CrawlRun, runs["dead pid here"].id)
    assert status == {
        "dead pid here": "interrupted",
        "my pid, not me": "interrupted",
        "live sibling here": "running",
        "live pid, silent": "interrupted",  # the pid was reused by another process since
        "other host, beating": "running",
        "other host, silent": "interrupted",
        "before heartbeats, old": "interrupted",
        "before heartbeats, recent": "running",
        "finished": "ok",
    }
    assert sorted(closed) == sorted(runs[n].id for n, st in status.items() if st == "interrupted")
    assert dead.finished_at is not None and "is gone" in dead.errors[-1]


def test_sigkilled_crawl_is_marked_interrupted_by_the_next_one(tmp_path: Path, db_url: str):
    cat = Catalogue(seed=3)
    cat.add_shop("mastodon", "big_shop")
    cat.add_posts("mastodon", "big_shop", 40, 1)
    # Slow answers: the crawl is still going when it is killed (a page takes ~0.5 s).
    with EmulatorServer(cat, Faults(latency_ms=250), image_size=(200, 250)) as emu:
        cfg = setup(tmp_path, db_url, emu, shops=[("mastodon", "big_shop")])
        # SIGKILL: no chance to clean up
        proc = crawl_until(cfg, lambda: len(rows(db_url, Post)) >= 5, signal.SIGKILL)
        proc.wait()
        [killed] = rows(db_url, CrawlRun)
        assert killed.status == "running" and killed.pid == proc.pid and killed.host
        assert killed.heartbeat_at is not None
        emu.faults.latency_ms = 0
        second = crawl_subprocess(cfg)
    assert second.status == "ok", second.errors
    runs = {r.id: r for r in rows(db_url, CrawlRun)}
    assert runs[killed.id].status == "interrupted"
    assert runs[killed.id].finished_at is not None
    assert f"process ({proc.pid} on" in runs[killed.id].errors[-1]
    assert runs[second.run_id].status == "ok" and runs[second.run_id].finished_at is not None
    assert len(rows(db_url, Post)) == 40  # and the second crawl resumed where the first stopped
    engine = make_engine(db_url)
    with Session(engine) as s:
        assert s.exec(select(CrawlRun).where(CrawlRun.status == "running")).all() == []
    engine.dispose()


# ---- photos that failed to download ---------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "again"),
    [
        ("download failed: HTTP 503", True),
        ("download failed: HTTP 500", True),
        ("download failed: HTTP 429 (asked to wait 900s, over crawler.max_retry_after)", True),
        ("download failed: HTTP 408", True),
        (
            "download failed: DownloadTimeoutError: Getting http://x/a.jpg took longer than 30s",
            True,
        ),
        ("download failed: DownloadConnectionRefusedError: Connection was refused", True),
        ("download failed: ResponseDataLossError: ", True),
        ("download failed: CannotResolveHostError: DNS lookup failed: cdn.example", True),
        ("download failed: empty body", True),
        ("truncated or corrupt JPEG image: image file is truncated (41 bytes not processed)", True),
        ("not downloaded", True),
        ("download failed: HTTP 404", False),
        ("download failed: HTTP 403", False),
        ("download failed: HTTP 410", False),
        (
            "download failed: DownloadCancelledError: Expected to receive 70000000 bytes which "
            "is larger than download max size (67108864) in request <GET http://x/a.jpg>.",
            False,
        ),
        ("download failed: UnsupportedURLSchemeError: Unsupported URL scheme 'ftp'", False),
        ("not an image: 1280 bytes starting b'<html><body>Ima'", False),
        ("too small: 48×48, shorter side under 120 px (storage.min_image_side)", False),
        ("decompression bomb: 30000×30000 = 900,000,000 pixels, over the limit", False),
        ("refused by the SSRF guard: localhost resolves to 127.0.0.1, a loopback address", False),
        ("refused", False),
        ("failed: KeyError('sha256')", False),
    ],
)
def test_which_failures_are_worth_another_download(reason: str, again: bool):
    # How r001 reads the reasons stored before rejected_media had kinds; the crawl tests
    # below check the kinds the crawler records now.
    assert PhotoFailure(r001.kind_of(reason)).retryable is again


def test_claims_are_exclusive_to_a_live_run_and_place_unknown_positions_last(engine):
    with session_scope(engine) as s:
        shop = crud.upsert_shop(s, "mastodon", "m", base_url="https://m.example").id
        other = crud.upsert_shop(s, "bluesky", "b.bsky.social").id
        post = crud.upsert_post(s, shop, "mastodon", "1").id
        elsewhere = crud.upsert_post(s, other, "bluesky", "2").id
        crud.add_photo(s, post, "a" * 64, position=0)
        crud.add_photo(s, post, "b" * 64, position=2)
        crud.record_rejected_media(
            s, "http://x/1.jpg", "download failed: HTTP 503", post, 1, kind="http_passing"
        )
        crud.record_rejected_media(
            s, "http://x/2.jpg", "download failed: HTTP 502", post, kind="http_passing"
        )
        crud.record_rejected_media(
            s, "http://x/3.jpg", "download failed: empty body", post, kind="network"
        )
        crud.record_rejected_media(s, "http://x/4.jpg", "not an image: …", post, 4, kind="invalid")
        crud.record_rejected_media(
            s, "http://x/5.jpg", "download failed: HTTP 503", elsewhere, kind="http_passing"
        )
        for _ in range(3):  # failed on three pages/crawls: past a bound of 2 retries
            crud.record_rejected_media(
                s, "http://x/6.jpg", "download failed: HTTP 503", post, kind="http_passing"
            )
        first, second = CrawlRun(), CrawlRun()
        s.add_all([first, second])
    claim = {"max_attempts": 2}
    with session_scope(engine) as s:
        got = crud.claim_rejected_media(s, first.id, [shop], **claim)
    assert [(c.source_url, c.position, c.shop_id) for c in got] == [
        ("http://x/1.jpg", 1, shop),  # recorded
        ("http://x/2.jpg", 3, shop),  # not recorded: after the stored photos (0 and 2)
        ("http://x/3.jpg", 4, shop),
    ]
    with session_scope(engine) as s:  # a sibling crawl while the first one runs
        assert crud.claim_rejected_media(s, second.id, [shop], **claim) == []
        assert crud.retry_failed(
            s, got[0].id, first.id, "download failed: HTTP 504", "http_passing"
        )
        assert not crud.retry_failed(s, got[1].id, second.id, "not its claim", "network")
    with session_scope(engine) as s:  # the first run died: its claims are free again
        s.get(CrawlRun, first.id).status = "interrupted"
    with session_scope(engine) as s:
        again = crud.claim_rejected_media(s, second.id, [shop], **claim)
        crud.forget_rejected_media(s, [c.id for c in again[1:]])
    assert [c.source_url for c in again] == ["http://x/1.jpg", "http://x/2.jpg", "http://x/3.jpg"]
    with session_scope(engine) as s:
        crud.release_rejected_media(s, second.id)
        left = {r.source_url: r for r in s.exec(select(RejectedMedia)).all()}
        assert crud.claim_rejected_media(s, first.id, [shop], **{**claim, "max_attempts": 1}) == []
    assert sorted(left) == ["http://x/1.jpg", "http://x/4.jpg", "http://x/5.jpg", "http://x/6.jpg"]
    assert left["http://x/1.jpg"].attempts == 2 and left["http://x/1.jpg"].retry_run_id is None
    assert left["http://x/1.jpg"].reason == "download failed: HTTP 504"
    assert left["http://x/4.jpg"].kind == "invalid"  # never claimed: not a passing kind
    assert left["http://x/6.jpg"].attempts == 3


def _media_asked(emu: EmulatorServer) -> set[str]:
    return {
        path.rsplit("/", 1)[-1].split(".")[0] for kind, path, _ in emu.requests if kind == "media"
    }


def test_photos_that_failed_for_a_passing_reason_are_fetched_by_later_crawls(
    tmp_path: Path, db_url: str
):
    cat = Catalogue(seed=9)
    cat.add_shop("mastodon", "masto_shop")
    cat.add_posts("mastodon", "masto_shop", 2, 1)
    cover = cat.new_photo()
    flaky = cat.new_photo()  # answers 503 all through the first crawl, then comes
    broken = cat.new_photo("truncated")  # always cut short: retried, but not for ever
    junk = cat.new_photo("corrupt")  # not an image at all: never asked for again
    cat.add_posts("mastodon", "masto_shop", 1, photos=[cover, flaky, broken])
    cat.add_posts("mastodon", "masto_shop", 1, photos=[junk])
    cat.add_posts("mastodon", "masto_shop", 2, 1)
    faults = Faults(failing_photos={flaky.key: 2})  # retry_times = 1: two requests per crawl
    with EmulatorServer(cat, faults, image_size=(200, 250)) as emu:
        cfg = setup(tmp_path, db_url, emu, shops=[("mastodon", "masto_shop")])
        cfg.write_text(
            cfg.read_text().replace(
                "[crawler]\n", "[crawler]\nretry_times = 1\nphoto_retry_crawls = 2\n", 1
            )
        )
        url = {p.key: emu.photo_url("mastodon", p.key) for p in (flaky, broken, junk)}
        first = crawl_subprocess(cfg)
        rejected = {r.source_url: r for r in rows(db_url, RejectedMedia)}
        summaries, asked = [], []
        for _ in range(3):
            emu.reset_counts()
            summaries.append(crawl_subprocess(cfg))
            asked.append(_media_asked(emu))
        final = {r.source_url: r for r in rows(db_url, RejectedMedia)}
    shop = "mastodon:masto_shop"
    assert first.status == "ok" and first.shops[shop].rejected == 3, first
    assert first.totals["retried"] == 0 and first.totals["new_photos"] == 5
    assert set(rejected) == set(url.values())
    assert rejected[url[flaky.key]].reason.startswith("download failed: HTTP 503")
    # the kind the crawler recorded is what later crawls choose retries by
    assert {k: rejected[u].kind for k, u in url.items()} == {
        flaky.key: "http_passing",
        broken.key: "corrupt",
        junk.key: "invalid",
    }
    assert rejected[url[flaky.key]].position == 1 and rejected[url[broken.key]].position == 2
    second, third, fourth = summaries
    assert all(s.status == "ok" and s.totals["new_posts"] == 0 for s in summaries)
    # second crawl: the flaky photo is stored, the truncated one fails again; junk is not asked
    assert (second.shops[shop].retried, second.shops[shop].recovered) == (2, 1)
    assert second.totals["new_photos"] == 1 and asked[0] == {flaky.key, broken.key}
    # third: only the truncated one, which fails a third time (its second retry: the bound)
    assert (third.totals["retried"], third.totals["recovered"]) == (1, 0)
    assert asked[1] == {broken.key}
    # fourth: nothing is retried any more
    assert fourth.totals["retried"] == 0 and asked[2] == set()
    assert set(final) == {url[broken.key], url[junk.key]}
    assert final[url[broken.key]].attempts == 3 and final[url[junk.key]].attempts == 1
    assert final[url[broken.key]].retry_run_id is None
    assert final[url[broken.key]].reason.startswith("truncated or corrupt JPEG image")
    photos = rows(db_url, Photo)
    assert len(photos) == 6 == len({p.sha256 for p in photos})  # nothing stored twice
    recovered = next(p for p in photos if p.source_url == url[flaky.key])
    with_cover = next(p for p in photos if p.position == 0 and p.post_id == recovered.post_id)
    assert recovered.position == 1 and with_cover.source_url.endswith(f"/{cover.key}.jpg")
    assert recovered.status == "pending" and recovered.phash and recovered.width == 200
    assert (tmp_path / "media" / recovered.stored_path).is_file()
    assert (tmp_path / "media" / recovered.thumb_path).is_file()
    assert len(rows(db_url, Post)) == 6


def test_a_killed_retry_pass_loses_and_duplicates_nothing(tmp_path: Path, db_url: str):
    cat = Catalogue(seed=12)
    cat.add_shop("mastodon", "masto_shop")
    cat.add_posts("mastodon", "masto_shop", 3, 1)
    flaky = cat.new_photo()
    cat.add_posts("mastodon", "masto_shop", 1, photos=[cat.new_photo(), flaky])
    faults = Faults(failing_photos={flaky.key: 10**6})
    with EmulatorServer(cat, faults, image_size=(200, 250)) as emu:
        cfg = setup(tmp_path, db_url, emu, shops=[("mastodon", "masto_shop")])
        quick = cfg.read_text().replace("[crawler]\n", "[crawler]\nretry_times = 1\n", 1)
        cfg.write_text(quick)
        first = crawl_subprocess(cfg)
        assert first.totals["rejected"] == 1 and first.totals["new_photos"] == 4
        # The next crawl retries the photo, which still fails, with long waits between tries:
        # it is killed while the retry pass waits.
        cfg.write_text(
            quick.replace("retry_backoff = 0.05", "retry_backoff = 3.0").replace(
                "retry_times = 1", "retry_times = 5"
            )
        )
        emu.reset_counts()
        proc = crawl_until(cfg, lambda: flaky.key in _media_asked(emu), signal.SIGKILL)
        proc.wait()
        [row] = rows(db_url, RejectedMedia)
        killed = max(r.id for r in rows(db_url, CrawlRun))
        assert row.retry_run_id == killed and row.attempts == 1  # claimed; no attempt counted
        faults.failing_photos[flaky.key] = 0  # the server is well again
        cfg.write_text(quick)
        third = crawl_subprocess(cfg)
    assert third.status == "ok" and (third.totals["retried"], third.totals["recovered"]) == (1, 1)
    assert rows(db_url, RejectedMedia) == []
    photos = rows(db_url, Photo)
    assert len(photos) == 5 == len({p.sha256 for p in photos})
    assert sum(p.source_url.endswith(f"/{flaky.key}.jpg") for p in photos) == 1
    runs = {r.id: r.status for r in rows(db_url, CrawlRun)}
    assert runs == {first.run_id: "ok", killed: "interrupted", third.run_id: "ok"}


def test_migration_r001_gives_stored_failures_their_kind(db_url: str) -> None:
    """r001 on a catalogue with failures recorded by reason alone (SQLite and PostgreSQL),
    then the crawler's claim picks the passing ones in SQL; and back down."""
    from alembic import command
    from sqlalchemy import text

    from catalog.db import alembic_config, migrate

    engine = make_engine(db_url)
    command.downgrade(alembic_config(engine), "s001")
    reasons = {
        "http://x/a.jpg": "download failed: HTTP 503",
        "http://x/b.jpg": "download failed: HTTP 404",
        "http://x/c.jpg": "truncated or corrupt JPEG image: image file is truncated",
        "http://x/d.jpg": "refused by the SSRF guard: localhost is a loopback address",
    }
    with engine.begin() as conn:
        for url, reason in reasons.items():
            conn.execute(
                text(
                    "INSERT INTO rejected_media (source_url, reason, created_at, attempts)"
                    " VALUES (:u, :r, '2026-01-01', 1)"
                ),
                {"u": url, "r": reason},
            )
    migrate(engine)
    with engine.connect() as conn:
        kinds = dict(conn.execute(text("SELECT source_url, kind FROM rejected_media")).all())
    assert kinds == {
        "http://x/a.jpg": "http_passing",
        "http://x/b.jpg": "http_lasting",
        "http://x/c.jpg": "corrupt",
        "http://x/d.jpg": "refused",
    }
    command.downgrade(alembic_config(engine), "s001")
    migrate(engine)
    engine.dispose()
