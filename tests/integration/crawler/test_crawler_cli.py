"""The demo path: `vitrina emulator` in one process, `vitrina crawl` against it in another."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.support.common import REPO

VITRINA = [sys.executable, "-m", "vitrina_cli.main"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_emulator_command_and_crawl_command(tmp_path: Path):
    port = free_port()
    args = ["emulator", "--port", str(port), "--posts-per-shop", "4", "--photos-per-post", "1"]
    printed = subprocess.run(
        [*VITRINA, *args, "--print-config"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "demo.db"}"\n'
        f'[storage]\nmedia_dir = "{tmp_path / "media"}"\n\n{printed}'
        "\n[networks.shopify]\nrequests_per_second = 0.0\n",
        encoding="utf-8",
    )
    server = subprocess.Popen([*VITRINA, *args], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert "emulator on" in (server.stdout.readline() if server.stdout else "")
        check = subprocess.run(
            [*VITRINA, "--config", str(cfg), "config", "check"],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        # A new catalogue: `vitrina init` creates its schema (crawl never migrates).
        init = subprocess.run(
            [*VITRINA, "--config", str(cfg), "init"], cwd=REPO, capture_output=True, text=True
        )
        assert init.returncode == 0, init.stdout + init.stderr
        t0 = time.time()
        crawl = subprocess.run(
            [*VITRINA, "--config", str(cfg), "crawl"],
            env={**os.environ, "COLUMNS": "160"},
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=180,
        )
    finally:
        server.terminate()
        server.wait()
    out = crawl.stdout
    assert crawl.returncode == 0, out + crawl.stderr
    assert "mastodon:vintage_rails" in out and "bluesky:knitwear.bsky.social" in out
    # the demo's awkward photos are reported, not fatal
    assert "8 shop(s), 37 new posts" in out and "4 rejected, 0 error(s)" in out, out
    assert time.time() - t0 < 180
    bad = subprocess.run(
        [*VITRINA, "--config", str(cfg), "crawl", "--shop", "mastodon:nobody"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "unknown shop 'mastodon:nobody'" in bad.stderr
