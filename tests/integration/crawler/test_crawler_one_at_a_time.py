"""Two crawls at once without a shared frontier would fetch every page and photo twice: the
second one refuses, saying who holds the catalogue, and the lock dies with its holder."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from catalog.models import CrawlRun, Photo, Post
from crawler.emulator.catalogue import Catalogue
from crawler.emulator.faults import Faults
from crawler.emulator.server import EmulatorServer
from crawler.run import crawl_subprocess
from tests.support.common import REPO
from tests.support.crawl import crawl_until, rows, setup

SHOP = [("mastodon", "masto_shop")]


def test_a_second_crawl_refuses_while_one_runs(tmp_path: Path, db_url: str):
    cat = Catalogue(seed=21)
    cat.add_shop(*SHOP[0])
    cat.add_posts(*SHOP[0], 40, 1)
    with EmulatorServer(cat, Faults(latency_ms=400), image_size=(200, 250)) as emu:
        cfg = setup(tmp_path, db_url, emu, shops=SHOP)
        cmd = [sys.executable, "-m", "vitrina_cli.main", "--config", str(cfg), "crawl", "--json"]
        # The first crawl is stopped (SIGSTOP) while it holds the catalogue, so that however
        # slowly the second one starts on a loaded machine, the first is still running then.
        first = crawl_until(
            cfg, lambda: len(rows(db_url, CrawlRun)) >= 1, signal.SIGSTOP, capture=True
        )
        try:
            second = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
        finally:
            first.send_signal(signal.SIGCONT)
        out, err = first.communicate(timeout=120)
        assert first.returncode == 0, (out[-1500:], err[-1500:])
        api = Counter(path for kind, path, _ in emu.requests if kind == "api")
        # Killed holders leave no stuck lock: the kernel or the server drops it.
        killed = crawl_until(cfg, lambda: True, signal.SIGKILL)
        killed.wait()
        emu.faults.latency_ms = 0
        after = crawl_subprocess(cfg, timeout=120)
    assert second.returncode == 2, second.stderr[-2000:]
    assert "another crawl is running (pid" in second.stderr
    assert "[crawler] frontier" in second.stderr and second.stdout == ""
    assert api and max(api.values()) == 1, api.most_common(3)  # no page fetched twice
    assert after.status == "ok", after.errors
    assert len(rows(db_url, Post)) == 40 == len(rows(db_url, Photo))
