"""`vitrina demo` (what `make run` runs): a filled catalogue and a review queue, then a clean
stop on Ctrl-C. Everything real: emulator over HTTP, pipeline, web app and scheduler processes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import httpx

from tests.pipeline_support import read_until, scalar

pytest_plugins = ["tests.pipeline_fixtures"]


def _vitrina_processes(marker: str) -> list[str]:
    """Command lines of running `vitrina_cli` processes that mention `marker`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "vitrina_cli" in args and marker in args:
            found.append(args)
    return found


def test_demo_fills_the_catalogue_and_stops_cleanly(tmp_path: Path, model_dir: str) -> None:
    work = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VITRINA_")}
    env.update(COLUMNS="200", NO_COLOR="1")
    argv = [sys.executable, "-m", "vitrina_cli.main", "demo", "--workdir", str(work)]
    argv += ["--posts-per-shop", "2", "--emulator-port", "0", "--web-port", "0"]
    argv += ["--model", model_dir, "--new-post-every", "3600"]
    demo = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path
    )
    try:
        out = read_until(demo, "Ctrl-C stops everything", timeout=240)
        base = re.search(r"catalogue\s+(http://127\.0\.0\.1:\d+)/", out).group(1)  # type: ignore[union-attr]
        login = re.search(r"login: (\S+) / (\S+)", out)
        assert login, out
        assert f"moderators  {base}/moderate" in out
        db = f"sqlite:///{work / 'vitrina.db'}"
        # A filled catalogue: every emulator post stored, every photo labelled or queued.
        assert scalar(db, "SELECT count(*) FROM posts") >= 16
        assert scalar(db, "SELECT count(*) FROM photos WHERE status = 'pending'") == 0
        queue = scalar(
            db, "SELECT count(*) FROM photos WHERE status IN ('needs_review', 'partly_accepted')"
        )
        assert queue > 0
        with httpx.Client(base_url=base, timeout=10, follow_redirects=True) as web:
            assert web.get("/").status_code == 200
            assert web.get("/healthz").json()["database"] == "ok"
            page = web.get("/moderate/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
            r = web.post(
                "/moderate/login",
                data={"name": login.group(1), "password": login.group(2), "csrf_token": token},
            )
            assert r.status_code == 200 and login.group(1) in r.text
            assert web.get("/admin/runs").status_code == 200
        children = _vitrina_processes(str(work))
        assert any(" serve" in c for c in children) and any(" schedule" in c for c in children)
        demo.send_signal(signal.SIGINT)  # Ctrl-C
        rest, _ = demo.communicate(timeout=90)
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode == 0, rest
    assert "demo stopped" in rest
    try:
        urllib.request.urlopen(f"{base}/healthz", timeout=2)
        raise AssertionError("the web app still answers after Ctrl-C")
    except OSError:
        pass
    assert _vitrina_processes(str(work)) == []
