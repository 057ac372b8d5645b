"""The `vitrina` command line, run as a real subprocess like an operator would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from catalog.db import make_engine
from tests.support.cli import vitrina
from tests.support.common import write_config


def test_help_lists_subcommands() -> None:
    out = vitrina("--help").stdout
    for cmd in ("init", "config", "shops"):
        assert cmd in out


def test_init_creates_schema_and_config_shops(db_url: str, tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path, db_url, '[[shops]]\nnetwork = "bluesky"\nhandle = "knit.bsky.social"\n'
    )
    result = vitrina("--config", str(cfg), "init")
    assert result.returncode == 0, result.stderr
    assert "1 new" in result.stdout
    again = vitrina("--config", str(cfg), "init")
    assert again.returncode == 0 and "0 new" in again.stdout
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT handle FROM shops")).scalars().all() == [
            "knit.bsky.social"
        ]
    engine.dispose()


def test_shops_add_list_remove(sqlite_url: str, tmp_path: Path) -> None:
    cfg = str(write_config(tmp_path, sqlite_url))
    assert vitrina("-c", cfg, "shops", "add", "mastodon", "atelier").returncode == 2  # needs --url
    added = vitrina("-c", cfg, "shops", "add", "mastodon", "atelier", "--url", "https://m.example")
    assert added.returncode == 0 and "added" in added.stdout
    listed = vitrina("-c", cfg, "shops", "list")
    assert "atelier" in listed.stdout and "1 shop(s)" in listed.stdout
    assert vitrina("-c", cfg, "shops", "add", "myspace", "x").returncode == 2
    assert vitrina("-c", cfg, "shops", "remove", "mastodon", "atelier").returncode == 0
    assert "0 shop(s)" in vitrina("-c", cfg, "shops", "list").stdout
    assert vitrina("-c", cfg, "shops", "remove", "mastodon", "atelier").returncode == 1


def test_config_check_reports_every_problem_and_exits_2(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[schedule]\ncron = "every night"\n\n[web]\nprot = 8000\n')
    result = vitrina("-c", str(cfg), "config", "check")
    assert result.returncode == 2
    assert "schedule.cron (line 2): bad cron expression 'every night'" in result.stderr
    assert "unknown key 'prot' (did you mean 'port'?)" in result.stderr


def test_config_check_accepts_repo_config() -> None:
    repo = Path(__file__).resolve().parents[3]
    result = vitrina("config", "check", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert "configuration is valid" in result.stdout


def test_broken_config_starts_nothing(tmp_path: Path) -> None:
    db = tmp_path / "never.db"
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[database]\nurl = "sqlite:///{db}"\nbogus = 1\n')
    result = vitrina("-c", str(cfg), "init")
    assert result.returncode == 2 and "bogus" in result.stderr
    assert not db.exists()


def test_unreachable_database_names_url_with_password_masked(tmp_path: Path) -> None:
    result = vitrina(
        "init",
        env={"VITRINA_DATABASE__URL": "postgresql://shop:s3cret@127.0.0.1:1/x"},
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "postgresql+psycopg://shop:***@127.0.0.1:1/x" in result.stderr
    assert "s3cret" not in result.stderr + result.stdout
    assert "refused" in result.stderr.lower()


def test_config_show_masks_secrets(tmp_path: Path) -> None:
    result = vitrina(
        "config",
        "show",
        cwd=tmp_path,
        env={
            "VITRINA_WEB__SECRET_KEY": "topsecret",
            "VITRINA_DATABASE__URL": "postgresql://u:pw@h/db",
        },
    )
    assert result.returncode == 0, result.stderr
    assert "topsecret" not in result.stdout and ":pw@" not in result.stdout


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_exits_0_on_sigterm(sqlite_url: str, tmp_path: Path, workers: int) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = write_config(tmp_path, sqlite_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VITRINA_")}
    argv = ["-c", str(cfg), "serve", "--port", str(port), "--workers", str(workers)]
    server = subprocess.Popen(
        [sys.executable, "-m", "vitrina_cli.main", *argv],
        env={**env, "NO_COLOR": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None and time.monotonic() < deadline, "serve did not start"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=10)
    finally:
        server.kill()
    out = server.communicate()[0]
    assert code == 0, out
    assert "Traceback" not in out
