"""`vitrina serve` (uvicorn) on a loopback port for tests that need a real HTTP server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.common import REPO
from tests.support.web_helpers import PASSWORD


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live_server(config: str | Path, log: Path, *args: str) -> Iterator[str]:
    """Start `vitrina serve`, wait for /healthz, yield the base URL; SIGTERM on exit."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VITRINA_")}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "vitrina_cli.main", "--config", str(config), "serve"]
            + ["--port", str(port), *args],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**env, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"},
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("vitrina serve did not start: " + log.read_text())
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError("vitrina serve ignored SIGTERM: " + log.read_text()) from None


def browser_login(base: str, name: str, password: str = PASSWORD) -> tuple[httpx.Client, str]:
    """An httpx client holding a moderator's session cookie, and its CSRF token."""
    import re

    client = httpx.Client(base_url=base, timeout=60)
    html = client.get("/moderate/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    r = client.post(
        "/moderate/login", data={"name": name, "password": password, "csrf_token": token}
    )
    assert r.status_code in (200, 303), r.text[:300]
    html = client.get("/moderate/grid").text
    return client, re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
