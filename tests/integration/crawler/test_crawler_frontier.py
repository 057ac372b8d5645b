"""Two crawl processes sharing one scrapy-redis frontier fetch every page exactly once."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import Session, select

from catalog.db import make_engine
from catalog.models import Photo, Post
from crawler.emulator.catalogue import Catalogue
from crawler.emulator.faults import Faults
from crawler.emulator.server import EmulatorServer
from tests.support.common import IN_CI, REDIS_URL, REPO

POSTS = 24  # in pages of 4: six full pages and an empty one per shop
# Slow pages keep the crawl going for tens of seconds, so that the second process (which may start
# seconds later on a busy machine) still finds work in the shared queue.
LATENCY_MS = 400
SHOPS = [("mastodon", f"m{i}") for i in range(3)] + [
    ("bluesky", f"b{i}.bsky.social") for i in range(3)
]


@pytest.fixture
def redis_url():  # type: ignore[no-untyped-def]
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL)
        client.ping()
    except Exception as exc:  # noqa: BLE001
        message = f"Redis is not reachable at {REDIS_URL}: {exc}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    yield REDIS_URL
    for key in client.scan_iter("vitrina:*"):
        client.delete(key)


def test_two_processes_share_one_frontier(tmp_path: Path, redis_url: str):
    cat = Catalogue(seed=11)
    for network, handle in SHOPS:
        cat.add_shop(network, handle)
        cat.add_posts(network, handle, POSTS, 1)
    db = tmp_path / "shared.db"
    with EmulatorServer(cat, Faults(latency_ms=LATENCY_MS), image_size=(160, 200)) as emu:
        shops = "".join(
            f'[[shops]]\nnetwork = "{n}"\nhandle = "{h}"\n'
            + (f'url = "{emu.base_url}"\n' if n == "mastodon" else "")
            + "\n"
            for n, h in SHOPS
        )
        cfg = tmp_path / "config.toml"
        cfg.write_text(
            f'[database]\nurl = "sqlite:///{db}"\n[storage]\nmedia_dir = "{tmp_path / "m"}"\n'
            # Two requests at a time per process: the other pending pages wait in Redis, where
            # whichever process has room takes them.
            f'[crawler]\nfrontier = "{redis_url}"\nautothrottle = false\nconcurrent_requests = 2\n'
            f'allowed_private_hosts = ["{emu.host}:{emu.port}"]\n'
            f'[networks.bluesky]\nbase_url = "{emu.base_url}"\npage_size = 4\n'
            f"[networks.mastodon]\npage_size = 4\n\n{shops}",
            encoding="utf-8",
        )
        # Create the schema first so the two processes do not race to migrate it.
        subprocess.run(
            [sys.executable, "-m", "vitrina_cli.main", "--config", str(cfg), "init"],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        cmd = [sys.executable, "-m", "vitrina_cli.main", "--config", str(cfg), "crawl", "--json"]
        procs = [
            subprocess.Popen(
                cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            for _ in range(2)
        ]
        outs = [p.communicate(timeout=240) for p in procs]
        api = Counter(path for kind, path, status in emu.requests if kind == "api")
    summaries = [json.loads(out) for out, _ in outs]
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in outs]
    # every API page was asked for exactly once, by one process or the other
    assert api and max(api.values()) == 1, api.most_common(3)
    pages = [s["totals"]["pages"] for s in summaries]
    assert sum(pages) == 6 * (POSTS // 4 + 1)
    assert all(n > 0 for n in pages), pages  # both processes did part of the work
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine) as s:
        posts = s.exec(select(Post)).all()
        photos = s.exec(select(Photo)).all()
    engine.dispose()
    assert len(posts) == 6 * POSTS == len({p.network_post_id for p in posts})
    assert len(photos) == 6 * POSTS


def test_a_crawl_after_a_killed_one_clears_its_frontier_leftovers(tmp_path: Path, redis_url: str):
    import signal

    import redis

    from crawler.run import crawl_subprocess
    from tests.support.crawl import crawl_until, rows, setup

    shops = [("mastodon", "m0")]
    cat = Catalogue(seed=13)
    cat.add_shop(*shops[0])
    cat.add_posts(*shops[0], 30, 1)
    db_url = f"sqlite:///{tmp_path / 'c.db'}"
    with EmulatorServer(cat, Faults(latency_ms=300), image_size=(160, 200)) as emu:
        cfg = setup(tmp_path, db_url, emu, shops=shops)
        text = cfg.read_text().replace("[crawler]\n", f'[crawler]\nfrontier = "{redis_url}"\n', 1)
        cfg.write_text(text)
        init = [sys.executable, "-m", "vitrina_cli.main", "--config", str(cfg), "init"]
        subprocess.run(init, cwd=REPO, check=True, capture_output=True)
        client = redis.Redis.from_url(redis_url)
        # Killed once its first page is stored: the later pages are queued or seen in Redis.
        proc = crawl_until(cfg, lambda: len(rows(db_url, Post)) >= 5, signal.SIGKILL)
        proc.wait()
        left = [k for k in client.scan_iter("vitrina:*")]
        assert left, "the killed crawl left no frontier keys: the test proves nothing"
        emu.faults.latency_ms = 0
        again = crawl_subprocess(cfg, timeout=120)
    assert again.status == "ok", again.errors
    assert len(rows(db_url, Post)) == 30  # nothing skipped as "already seen"
    assert list(client.scan_iter("vitrina:*")) == []
