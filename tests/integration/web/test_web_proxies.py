"""`vitrina serve` behind (or without) a proxy: the secret key, forwarded headers, headers sent."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import httpx
import pytest
from typer.testing import CliRunner

from tests.support.common import REPO, write_config
from tests.support.live_server import live_server
from vitrina_cli.main import app as cli

KEY = '[web]\nsecret_key = "proxy-test-key"\nlogin_max_failures = 3\n'


@pytest.mark.parametrize(
    "web",
    [
        'base_url = "https://catalogue.example"',  # loopback behind a proxy
        'trusted_proxies = ["127.0.0.1"]',
    ],
)
def test_serve_refuses_the_default_secret_behind_a_proxy(tmp_path, sqlite_url, web) -> None:
    config = write_config(tmp_path, sqlite_url, f"[web]\n{web}\n", default_secret=True)
    r = CliRunner().invoke(cli, ["--config", str(config), "serve", "--host", "127.0.0.1"])
    assert r.exit_code == 2 and "default web.secret_key" in r.output
    assert "VITRINA_WEB__SECRET_KEY" in r.output


def test_serve_refuses_the_default_secret_on_plain_loopback_too(tmp_path, sqlite_url) -> None:
    """No proxy configured, loopback only: a proxy set up later, or another local user, reaches
    it all the same, so the public default is refused here as well (outside `vitrina demo`)."""
    config = write_config(tmp_path, sqlite_url, default_secret=True)
    r = CliRunner().invoke(cli, ["--config", str(config), "serve", "--host", "127.0.0.1"])
    assert r.exit_code == 2 and "default web.secret_key" in r.output
    assert "secrets.token_urlsafe" in r.output  # says how to make one


def test_the_asgi_factory_refuses_the_default_secret(tmp_path, sqlite_url) -> None:
    """`uvicorn --factory web.asgi:make_app` is the other way to start: the same refusal."""
    config = write_config(tmp_path, sqlite_url, default_secret=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VITRINA_")}
    code = "from web.asgi import make_app; make_app()"
    r = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "VITRINA_CONFIG": str(config)},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert r.returncode != 0 and "default web.secret_key" in r.stderr


def _wrong_logins(base: str, forwarded_for: list[str]) -> list[int]:
    client = httpx.Client(base_url=base, timeout=30)
    r = client.get("/moderate/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)
    # Under https the cookie is Secure, which httpx would not send back over http: send it.
    cookie = "vitrina_session=" + r.cookies["vitrina_session"]
    codes = []
    for address in forwarded_for:
        r = client.post(
            "/moderate/login",
            data={"name": "ann", "password": "wrong-password", "csrf_token": token},
            headers={"Cookie": cookie, "X-Forwarded-For": address},
        )
        codes.append(r.status_code)
    return codes


def test_forwarded_headers_are_ignored_unless_the_proxy_is_trusted(db_url, tmp_path) -> None:
    from catalog.config import load_settings
    from tests.support.web_helpers import seed

    spoofed = [f"203.0.113.{i}" for i in range(6)]  # a new made-up address every time
    behind = KEY + 'base_url = "https://catalogue.example"\n'
    config = write_config(tmp_path, db_url, behind)
    seed(load_settings(config, environ={}))
    with live_server(config, tmp_path / "untrusted.log") as base:
        assert _wrong_logins(base, spoofed) == [401, 401, 401, 429, 429, 429]
        r = httpx.get(base + "/")
        assert "server" not in r.headers  # no "Server: uvicorn"
    trusting = write_config(tmp_path, db_url, behind + 'trusted_proxies = ["127.0.0.1"]\n')
    with live_server(trusting, tmp_path / "trusted.log") as base:
        # The proxy (here: loopback) is configured: each forwarded client is counted on its own.
        assert _wrong_logins(base, [f"198.51.100.{i}" for i in range(6)]) == [401] * 6
        assert _wrong_logins(base, ["198.51.100.7"] * 4) == [401, 401, 401, 429]
