"""The media folder under crashes and hostile servers: files killed writers left behind, a
photo whose body never ends, one log line per failed photo, and a disk that fills up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from catalog.models import CrawlRun, Photo, Post, RejectedMedia
from crawler.emulator.catalogue import Catalogue
from crawler.emulator.server import EmulatorServer
from crawler.photos import STALE_TMP_SECONDS, remove_stale_tmp
from crawler.run import crawl_subprocess
from tests.support.common import REPO
from tests.support.crawl import rows, setup

SHOP = [("mastodon", "masto_shop")]


def _cli(cfg: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "vitrina_cli.main", "--config", str(cfg), "crawl", "--json"]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=180)


def test_stale_tmp_files_go_but_a_live_writers_stay(tmp_path: Path):
    old = tmp_path / "ab" / "cd" / "x.jpg.1-2.tmp"
    fresh = tmp_path / "thumbs" / "ab" / "y.webp.3-4.tmp"
    kept = tmp_path / "ab" / "cd" / "z.jpg"
    for p in (old, fresh, kept):
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"")
    then = time.time() - STALE_TMP_SECONDS - 60
    os.utime(old, (then, then))
    assert remove_stale_tmp(tmp_path, others_alive=True) == 1  # a sibling may be writing
    assert not old.exists() and fresh.exists()
    assert remove_stale_tmp(tmp_path, others_alive=False) == 1  # nobody else: all of them
    assert not fresh.exists() and kept.exists()


def test_the_next_crawl_removes_files_a_killed_writer_left(tmp_path: Path, db_url: str):
    cat = Catalogue(seed=5)
    cat.add_shop(*SHOP[0])
    cat.add_posts(*SHOP[0], 2, 1)
    with EmulatorServer(cat, image_size=(200, 250)) as emu:
        cfg = setup(tmp_path, db_url, emu, shops=SHOP)
        left = tmp_path / "media" / "ab" / "cd" / ("ab" * 32 + ".jpg.999-1.tmp")
        left.parent.mkdir(parents=True)
        left.write_bytes(b"")  # what SIGKILL between open() and rename leaves
        assert crawl_subprocess(cfg).status == "ok"
    assert not left.exists()
    assert list((tmp_path / "media").rglob("*.tmp")) == []


class _Endless(BaseHTTPRequestHandler):
    """A "photo" whose body never ends (chunked, no Content-Length)."""

    asked = 0

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        type(self).asked += 1
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"\xff" * 65536
        frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        try:
            while True:
                self.wfile.write(frame)
        except OSError:
            pass


def test_an_endless_photo_is_refused_as_too_large_once_with_one_log_line(
    tmp_path: Path, db_url: str
):
    _Endless.asked = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Endless)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endless = f"http://127.0.0.1:{server.server_port}/endless.jpg"
    cat = Catalogue(seed=6)
    cat.add_shop(*SHOP[0])
    cat.add_posts(*SHOP[0], 1, photos=[cat.new_photo(), cat.new_photo(url_override=endless)])
    try:
        with EmulatorServer(cat, image_size=(200, 250)) as emu:
            cfg = setup(tmp_path, db_url, emu, shops=SHOP)
            text = cfg.read_text()
            allowed = f'allowed_private_hosts = ["{emu.host}:{emu.port}"'
            cfg.write_text(text.replace(allowed, f'{allowed}, "127.0.0.1:{server.server_port}"'))
            first = _cli(cfg)
            second = _cli(cfg)
    finally:
        server.shutdown()
    assert first.returncode == 0, first.stderr[-2000:]
    [rejected] = rows(db_url, RejectedMedia)
    assert rejected.source_url == endless
    assert rejected.reason == "too large: over 64 MB (the download limit)"
    assert second.returncode == 0 and _Endless.asked == 1  # never fetched again
    assert len(rows(db_url, Photo)) == 1
    # One line for the failed photo, no traceback.
    assert "Traceback" not in first.stderr, first.stderr[-3000:]
    mine = [ln for ln in first.stderr.splitlines() if "endless.jpg" in ln and "too large" in ln]
    assert len(mine) == 1, first.stderr[-3000:]


@pytest.fixture
def small_disk(tmp_path: Path):
    """media_dir on a 4 MB tmpfs (needs root to mount, as in CI's container)."""
    media = tmp_path / "media"
    media.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(media)], capture_output=True
    )
    if done.returncode:
        pytest.fail(f"this test mounts a 4 MB tmpfs and needs root: {done.stderr!r}")
    try:
        yield media
    finally:
        subprocess.run(["umount", "-l", str(media)], check=False)


def test_a_full_disk_stops_the_crawl_and_spends_no_retry(
    tmp_path: Path, db_url: str, small_disk: Path
):
    cat = Catalogue(seed=8)
    cat.add_shop(*SHOP[0])
    cat.add_posts(*SHOP[0], 30, 2)
    with EmulatorServer(cat, image_size=(400, 500)) as emu:
        cfg = setup(tmp_path, db_url, emu, shops=SHOP)
        filler = small_disk / "filler"
        filler.write_bytes(b"\0" * (4 * 2**20 - 160 * 1024))  # room for a few photos only
        full = _cli(cfg)
        assert full.returncode == 2, full.stderr[-3000:]
        summary = json.loads(full.stdout)
        assert summary["status"] == "error"
        assert "is full (No space left on device)" in summary["fatal"]
        assert summary["errors"][0] == summary["fatal"]
        assert "Traceback" not in full.stderr, full.stderr[-3000:]
        assert rows(db_url, RejectedMedia) == []  # nothing recorded as failed
        [run] = rows(db_url, CrawlRun)
        assert run.status == "error" and "is full" in run.errors[0]
        stored_before = len(rows(db_url, Photo))
        filler.unlink()
        again = crawl_subprocess(cfg)
    assert again.status == "ok", again.errors
    assert again.totals["retried"] == 0
    assert len(rows(db_url, Post)) == 30
    assert len(rows(db_url, Photo)) == 60 > stored_before
    assert list(small_disk.rglob("*.tmp")) == []
