"""What a crawl recovers from earlier ones: crawl runs left "running" by a killed process, and
photos whose download failed for a passing reason (retried by later crawls, within a bound)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlmodel import Session, select

from catalog.db import make_engine, session_scope
from catalog.models import CrawlRun, Post, utcnow
from crawler.emulator.catalogue import Catalogue
from crawler.emulator.faults import Faults
from crawler.emulator.server import EmulatorServer
from crawler.run import close_dead_runs, crawl_subprocess, pid_alive
from tests.conftest import REPO
from tests.test_crawler_crawl import rows, setup


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
        proc = subprocess.Popen(
            [sys.executable, "-m", "vitrina_cli.main", "--config", str(cfg), "crawl", "--json"],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 60
        while time.time() < deadline and len(rows(db_url, Post)) < 5:
            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)  # no chance to clean up
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
