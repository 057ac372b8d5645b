"""No secret in any output: Instagram's access token travels in the Graph API's URLs, and a
failing Graph request must not carry it into messages, the summary, the catalogue or stderr."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from catalog.models import CrawlRun, RejectedMedia, Shop
from crawler.emulator.faults import Faults
from crawler.emulator.server import EmulatorServer
from tests.support.common import REPO
from tests.support.crawl import rows, setup, small_catalogue

TOKEN = "EAAGm0PX4ZCpsBAsecret9TOKEN"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def crawl(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vitrina_cli.main", "--config", str(cfg), "crawl", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )


@pytest.mark.parametrize("fault", ["server_error", "malformed", "refused"])
def test_no_token_in_any_output_or_row_after_a_failing_graph_request(
    tmp_path: Path, sqlite_url: str, fault: str
):
    faults = {
        "server_error": Faults(error_rate=1.0),
        "malformed": Faults(malformed_handles={"ig_shop"}),
        "refused": Faults(),
    }[fault]
    with EmulatorServer(small_catalogue(2), faults, access_token=TOKEN) as emu:
        cfg = setup(tmp_path, sqlite_url, emu, shops=[("instagram", "ig_shop")])
        if fault == "refused":  # nothing listens there: the connection is refused
            port = free_port()
            text = cfg.read_text().replace(emu.base_url, f"http://127.0.0.1:{port}")
            text = text.replace(
                f'allowed_private_hosts = ["127.0.0.1:{emu.port}"]',
                f'allowed_private_hosts = ["127.0.0.1:{emu.port}", "127.0.0.1:{port}"]',
            )
            cfg.write_text(text)
        assert TOKEN in cfg.read_text()
        as_json = crawl(cfg, "--json")
        on_screen = crawl(cfg)
    summary = json.loads(as_json.stdout)
    assert summary["shops"]["instagram:ig_shop"]["status"] == "error", summary
    message = " ".join(summary["errors"])
    assert "access_token=REDACTED" in message  # the URL is still shown, less its token
    outputs = {
        "--json stdout": as_json.stdout,
        "--json stderr": as_json.stderr,
        "stdout": on_screen.stdout,
        "stderr": on_screen.stderr,
    }
    for run in rows(sqlite_url, CrawlRun):
        outputs[f"crawl_runs #{run.id}"] = json.dumps([run.errors, run.shop_counts])
    for shop in rows(sqlite_url, Shop):
        outputs[f"shop {shop.handle}"] = json.dumps([shop.inactive_reason, shop.crawl_state])
    for media in rows(sqlite_url, RejectedMedia):
        outputs[f"rejected {media.id}"] = media.reason
    leaks = [where for where, text in outputs.items() if TOKEN in text]
    assert not leaks, {w: outputs[w][-600:] for w in leaks}
    assert "access_token=REDACTED" in on_screen.stdout + on_screen.stderr


def test_redact_hides_credentials_in_urls_and_keeps_the_rest():
    from crawler.report import redact

    url = (
        "https://graph.facebook.com/v25.0/1784?fields=business_discovery.username(x)"
        "&access_token=EAAB123&limit=5"
    )
    assert redact(f"HTTP 500 from {url} after 3 retries") == (
        "HTTP 500 from https://graph.facebook.com/v25.0/1784?fields=business_discovery"
        ".username(x)&access_token=REDACTED&limit=5 after 3 retries"
    )
    assert redact("https://h.test/a?api_key=k1&client_secret=s2&x=1") == (
        "https://h.test/a?api_key=REDACTED&client_secret=REDACTED&x=1"
    )
    assert redact("postgresql://vitrina:hunter2@db:5432/v") == "postgresql://REDACTED@db:5432/v"
    nested = "https://a.test/r?next=https%3A%2F%2Fg.test%2Fx%3Faccess_token%3DEAAB9%26a%3D1"
    assert "EAAB9" not in redact(nested)
    plain = "https://files.mastodon.social/media/original/94096d3d3db6de24.png?page=2"
    assert redact(plain) == plain
