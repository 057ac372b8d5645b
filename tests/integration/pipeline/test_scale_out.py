"""The scale-out setup, as separate processes on this machine: PostgreSQL catalogue and job
store, Redis crawl frontier, two crawl processes, one classify process, two web processes and
the scheduler, against the emulator. Runs (never skips) in CI: .ci/run starts both services."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from catalog.config import load_settings
from pipeline.frontier import reset_frontier
from tests.support.common import REDIS_URL, _unavailable, fresh_postgres_url, write_config
from tests.support.pipeline_support import pipeline_toml, rows, scalar

pytest_plugins = ["tests.support.pipeline_fixtures"]

LABELLED = "('auto_accepted', 'partly_accepted', 'needs_review')"


@pytest.fixture
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001
        _unavailable("Redis", exc)
    return REDIS_URL


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VITRINA_")}
    env.update(COLUMNS="200", NO_COLOR="1", TF_CPP_MIN_LOG_LEVEL="2")
    return env


def _start(cfg: Path, *args: str, log: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "vitrina_cli.main", "--config", str(cfg), *args]
    with log.open("wb") as fh:
        return subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, env=_env())


def _run(cfg: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "vitrina_cli.main", "--config", str(cfg), *args]
    return subprocess.run(argv, capture_output=True, text=True, env=_env(), timeout=timeout)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer: {log.read_text()}")


def _api_fetches(emu) -> Counter[str]:  # type: ignore[no-untyped-def]
    return Counter(path for kind, path, status in emu.requests if kind == "api" and status == 200)


def test_scale_out_as_separate_processes(
    pg_template: str, redis_url: str, tmp_path: Path, emulator, model_dir: str
) -> None:
    db_url, drop = fresh_postgres_url(pg_template)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for network, handle in list(emulator.catalogue.shops):
            emulator.add_posts(network, handle, 2)
        emulator.faults.latency_ms = 40  # enough for both crawl processes to take work
        extra = pipeline_toml(
            emulator,
            model_dir,
            tmp_path,
            schedule="crawl_processes = 2\n",
            crawler=f'frontier = "{redis_url}"\n',
        )
        cfg = write_config(tmp_path, db_url, extra)
        expected = emulator.catalogue.post_count()

        # 1. Separate processes, as on separate machines: two crawlers sharing the Redis
        # frontier, then one classifier, all on the PostgreSQL catalogue.
        reset_frontier(load_settings(cfg, environ={}))  # as each pipeline run starts with
        crawlers = [_start(cfg, "crawl", log=tmp_path / f"crawl{i}.log") for i in range(2)]
        for i, c in enumerate(crawlers):
            assert c.wait(timeout=300) == 0, (tmp_path / f"crawl{i}.log").read_text()
        classify = _run(cfg, "classify")
        assert classify.returncode == 0, classify.stdout + classify.stderr
        assert scalar(db_url, "SELECT count(*) FROM posts") == expected
        assert scalar(db_url, "SELECT count(DISTINCT network_post_id) FROM posts") == expected
        assert scalar(db_url, "SELECT count(*) FROM photos") == expected
        assert scalar(db_url, f"SELECT count(*) FROM photos WHERE status NOT IN {LABELLED}") == 0
        # The shared frontier: no API page was fetched by both crawl processes.
        assert max(_api_fetches(emulator).values()) == 1
        assert scalar(db_url, "SELECT count(*) FROM crawl_runs") == 2

        # 2. Two web processes and the scheduler (its job store in the same PostgreSQL).
        ports = [_free_port(), _free_port()]
        for i, port in enumerate(ports):
            log = tmp_path / f"web{i}.log"
            procs.append(_start(cfg, "serve", "--port", str(port), log=log))
            _wait_http(f"http://127.0.0.1:{port}/healthz", procs[-1], log)
        sched_log = tmp_path / "scheduler.log"
        procs.append(_start(cfg, "schedule", log=sched_log))
        deadline = time.monotonic() + 60
        while "scheduler running" not in sched_log.read_text():
            assert time.monotonic() < deadline and procs[-1].poll() is None, sched_log.read_text()
            time.sleep(0.3)
        assert rows(db_url, "SELECT id FROM apscheduler_jobs") == [("nightly",)]
        second_scheduler = _run(cfg, "schedule", timeout=60)
        assert second_scheduler.returncode == 3, second_scheduler.stdout
        # Both web processes serve the same catalogue.
        for port in ports:
            metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
            assert f"vitrina_posts {expected}" in metrics.splitlines()
            assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200

        # 3. The nightly job: new posts; its two crawl processes and its classify step fetch
        # and label only what is new, once; both web processes see it.
        emulator.add_posts("bluesky", "knitwear.bsky.social", 3)
        emulator.add_posts("shopify", "harbour-wool", 2)
        emulator.reset_counts()
        nightly = _run(cfg, "run-nightly")
        assert nightly.returncode == 0, nightly.stdout + nightly.stderr
        run = json.loads(_run(cfg, "runs", "--json", "--limit", "1").stdout)[0]
        assert run["status"] == "ok" and run["steps"]["crawl"]["processes"] == 2
        assert len(run["steps"]["crawl"]["crawl_runs"]) == 2
        assert run["stats"]["new_posts"] == 5 and run["stats"]["new_photos"] == 5
        assert run["stats"]["auto_accepted"] + run["stats"]["needs_review"] == 5
        assert scalar(db_url, "SELECT count(*) FROM posts") == expected + 5
        assert scalar(db_url, "SELECT count(DISTINCT network_post_id) FROM posts") == expected + 5
        assert scalar(db_url, f"SELECT count(*) FROM photos WHERE status NOT IN {LABELLED}") == 0
        assert emulator.media_requests() == 5
        assert max(_api_fetches(emulator).values()) == 1
        for port in ports:
            metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
            assert f"vitrina_posts {expected + 5}" in metrics.splitlines()

        for p in procs:
            p.send_signal(signal.SIGTERM)
        # uvicorn re-raises the SIGTERM it handled once it has shut down cleanly.
        for i, p in enumerate(procs[:2]):
            assert p.wait(timeout=60) in (0, -signal.SIGTERM)
            assert "Finished server process" in (tmp_path / f"web{i}.log").read_text()
        assert procs[2].wait(timeout=60) == 0, sched_log.read_text()
        assert "scheduler stopped" in sched_log.read_text()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        drop()


def test_pipeline_run_starts_from_an_empty_frontier(redis_url: str, tmp_path: Path) -> None:
    """A killed crawl leaves its queue and duplicate filter in Redis; the next run drops them."""
    import redis

    from pipeline.frontier import frontier_keys

    cfg = write_config(
        tmp_path, f"sqlite:///{tmp_path}/c.db", f'[crawler]\nfrontier = "{redis_url}"\n'
    )
    settings = load_settings(cfg, environ={})
    keys = frontier_keys(settings)
    assert len(keys) == 8 and all(k.startswith("vitrina:") for k in keys)  # this catalogue's own
    client = redis.Redis.from_url(redis_url)
    client.sadd(keys[1], "fingerprint-of-last-nights-first-page")
    client.zadd(keys[0], {"queued-request": 0})
    assert reset_frontier(settings) == 2
    assert client.exists(*keys) == 0
    client.close()
