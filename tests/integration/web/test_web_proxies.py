"""`vitrina serve` behind (or without) a proxy: the secret key, forwarded headers, headers sent."""

from __future__ import annotations

import re

import httpx
import pytest
from typer.testing import CliRunner

from tests.support.common import write_config
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
    config = write_config(tmp_path, sqlite_url, f"[web]\n{web}\n")
    r = CliRunner().invoke(cli, ["--config", str(config), "serve", "--host", "127.0.0.1"])
    assert r.exit_code == 2 and "default web.secret_key" in r.output
    assert "VITRINA_WEB__SECRET_KEY" in r.output


def test_a_local_server_with_the_default_key_signs_with_a_random_one(tmp_path, sqlite_url) -> None:
    """No proxy, loopback only: it starts, but a cookie forged with the public default fails."""
    import base64
    import json

    from itsdangerous import TimestampSigner

    config = write_config(tmp_path, sqlite_url)
    data = base64.b64encode(json.dumps({"csrf": "forged"}).encode())
    forged = TimestampSigner("change-me-in-production").sign(data).decode()
    form = {"name": "ann", "password": "wrong-password", "csrf_token": "forged"}
    with live_server(config, tmp_path / "server.log") as base:
        r = httpx.post(base + "/moderate/login", data=form, cookies={"vitrina_session": forged})
        assert r.status_code == 403  # the forged session (and its CSRF token) was not believed
    assert "random key for this run" in (tmp_path / "server.log").read_text()


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
