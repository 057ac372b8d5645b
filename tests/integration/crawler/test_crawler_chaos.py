"""Chaos: child crawls killed with SIGKILL at seeded random points while the emulator injects
faults, then a final crawl. Nothing the emulator serves may be lost (every post stored, every
photo stored or refused with a reason), nothing stored twice, no temporary file left behind.
Bounded (a few crawls of two small shops) so that it runs in CI on each catalogue."""

from __future__ import annotations

import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from catalog.models import Photo, Post, RejectedMedia
from crawler.emulator.catalogue import Catalogue
from crawler.emulator.faults import Faults
from crawler.emulator.server import EmulatorServer
from crawler.run import crawl_subprocess
from tests.support.common import REPO
from tests.support.crawl import rows, setup

pytestmark = pytest.mark.slow

SHOPS = [("mastodon", "masto_shop"), ("shopify", "store")]
POSTS = 16  # per shop, 1–2 photos each, in pages of 5
KILLS = 3
_KEY = re.compile(r"/(p\d{6})\.")


def _key(url: str) -> str:
    m = _KEY.search(url)
    assert m, url
    return m.group(1)


def _start(cfg: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "vitrina_cli.main", "--config", str(cfg), "crawl", "--json"]
    return subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_kills_under_faults_lose_and_duplicate_nothing(tmp_path: Path, db_url: str):
    rng = random.Random(15)
    cat = Catalogue(seed=15)
    for network, handle in SHOPS:
        cat.add_shop(network, handle)
        for _ in range(POSTS):
            cat.add_posts(network, handle, 1, rng.choice((1, 2)))
    faults = Faults(latency_ms=60, error_rate=0.1, truncated_rate=0.05, corrupt_rate=0.05, seed=15)
    with EmulatorServer(cat, faults, image_size=(200, 250)) as emu:
        cfg = setup(tmp_path, db_url, emu, shops=SHOPS)
        killed = attempts = 0
        while killed < KILLS and attempts < 3 * KILLS:
            attempts += 1
            have = len(rows(db_url, Post))
            if cat.post_count() - have < 8:  # the shops publish more while we crash
                for network, handle in SHOPS:
                    cat.add_posts(network, handle, 6, rng.choice((1, 2)))
            target = have + rng.randint(1, (cat.post_count() - have) // 2)
            proc = _start(cfg)
            deadline = time.time() + 30
            while (
                proc.poll() is None and time.time() < deadline and len(rows(db_url, Post)) < target
            ):
                time.sleep(0.05)
            time.sleep(rng.uniform(0, 0.3))  # sometimes mid-page, mid-photo
            killed += proc.poll() is None
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        assert killed == KILLS, attempts  # the kills did land mid-crawl
        emu.faults.error_rate = 0.0
        emu.faults.latency_ms = 0.0
        final = crawl_subprocess(cfg, timeout=120)
    assert final.status in ("ok", "partial"), final.errors
    posts = rows(db_url, Post)
    served_posts = sum(len(cat.shop(n, h).posts) for n, h in SHOPS)
    assert len(posts) == served_posts  # 0 lost
    assert len({(p.shop_id, p.network_post_id) for p in posts}) == len(posts)  # 0 duplicated
    photos = rows(db_url, Photo)
    stored = [_key(p.source_url) for p in photos]
    assert len(stored) == len(set(stored))  # each photo once
    refused = {_key(r.source_url): r.reason for r in rows(db_url, RejectedMedia)}
    served = {p.key for n, h in SHOPS for post in cat.shop(n, h).posts for p in post.photos}
    assert set(stored) | set(refused) == served  # 0 lost
    assert not set(stored) & set(refused)
    # Refused only for a lasting reason (the broken files), never for the passing 503s.
    broken = {k for k in served if faults.photo_fault(k)}
    assert set(refused) == broken, {k: refused[k] for k in set(refused) - broken}
    assert all(refused.values())
    media = tmp_path / "media"
    assert [p for p in media.rglob("*.tmp")] == []
    # Every file on disk belongs to a stored photo: no orphans from pages that were dropped.
    files = {str(p.relative_to(media)) for p in media.rglob("*") if p.is_file()}
    assert files == {p.stored_path for p in photos} | {p.thumb_path for p in photos}
