"""Crawls against the emulator for the crawler tests: a small four-network catalogue, its
config, `vitrina crawl --json` interrupted mid-way, and the rows a crawl stored."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlmodel import Session, select

from crawler.emulator.catalogue import Catalogue
from crawler.emulator.server import EmulatorServer
from tests.support.common import REPO, reader

PAGE = 5


SHOPS = [
    ("instagram", "ig_shop"),
    ("mastodon", "masto_shop"),
    ("bluesky", "sky.bsky.social"),
    ("shopify", "store"),
]


def small_catalogue(posts: int = 12, quirks: bool = False) -> Catalogue:
    cat = Catalogue(seed=7)
    for network, handle in SHOPS:
        cat.add_shop(network, handle)
    for _ in range(posts):
        for network, handle in SHOPS:
            cat.add_posts(network, handle, 1, 1)
    if quirks:
        cat.add_quirks("mastodon", "masto_shop")
    return cat


def config_for(emu: EmulatorServer, extra: str = "", shops: list[tuple[str, str]] = SHOPS) -> str:
    text = emu.config_toml()
    # keep only this test's shops, with small pages so that paging is exercised
    head = text.split("[[shops]]")[0]
    body = ""
    for network, handle in shops:
        shop = emu.catalogue.shop(network, handle)
        url = emu.shop_url(shop) if shop else f"{emu.base_url}/shopify/{handle}"
        if network in ("mastodon", "shopify"):
            body += f'[[shops]]\nnetwork = "{network}"\nhandle = "{handle}"\nurl = "{url}"\n\n'
        else:
            body += f'[[shops]]\nnetwork = "{network}"\nhandle = "{handle}"\n\n'
    head = head.replace(
        "[crawler]\n",
        "[crawler]\nretry_backoff = 0.05\nmax_retry_after = 5.0\nautothrottle = false\n",
    )
    for section in ("instagram", "bluesky"):
        head = head.replace(
            f"[networks.{section}]\n", f"[networks.{section}]\npage_size = {PAGE}\n"
        )
    head += f"[networks.mastodon]\npage_size = {PAGE}\n\n"
    head += f"[networks.shopify]\npage_size = {PAGE}\nrequests_per_second = 0.0\n\n"
    return head + extra + "\n" + body


def setup(tmp_path: Path, db_url: str, emu: EmulatorServer, **kw) -> Path:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[database]\nurl = "{db_url}"\n\n[storage]\nmedia_dir = "{tmp_path / "media"}"\n\n'
        + config_for(emu, **kw),
        encoding="utf-8",
    )
    return cfg


def rows(db_url: str, model):  # type: ignore[no-untyped-def]
    with Session(reader(db_url)) as s:
        return list(s.exec(select(model)).all())


def crawl_until(
    cfg: Path, ready: Callable[[], bool], sig: int, *, capture: bool = False
) -> subprocess.Popen:
    """Start `vitrina crawl --json` as a child process, wait (60 s at most) until `ready()`,
    then send it `sig`: a crawl interrupted mid-way. `capture` keeps its output for the caller."""
    out = subprocess.PIPE if capture else subprocess.DEVNULL
    proc = subprocess.Popen(
        [sys.executable, "-m", "vitrina_cli.main", "--config", str(cfg), "crawl", "--json"],
        cwd=REPO,
        stdout=out,
        stderr=out,
        text=True,
    )
    deadline = time.time() + 60
    while time.time() < deadline and not ready():
        time.sleep(0.05)
    proc.send_signal(sig)
    return proc
