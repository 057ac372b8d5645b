"""A real client agrees with the emulator: gallery-dl (pinned, in its own virtualenv under
var/cache, never a Vitrina dependency) downloads every photo of Mastodon and Bluesky shops from it,
byte for byte, through its own unmodified extractors — Mastodon as a custom instance, Bluesky
through the emulator acting as its HTTPS proxy for api.bsky.app and plc.directory (DID document →
PDS → com.atproto.sync.getBlob)."""

from __future__ import annotations

import hashlib
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from crawler.emulator.catalogue import Catalogue
from crawler.emulator.server import EmulatorServer
from tests.support import gallerydl

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def gallery_dl() -> Path:
    return gallerydl.ensure()


def _catalogue() -> Catalogue:
    cat = Catalogue(seed=11)
    for handle in ("gdl_one", "gdl_two"):
        cat.add_shop("mastodon", handle)
    cat.add_shop("bluesky", "gdl.bsky.social")
    for shop in list(cat.shops.values()):
        # More posts than one page of either API at gallery-dl's page sizes (20; 100), posts of
        # one to four photos, a PNG among the JPEGs, and a pinned post shown first.
        for i in range(104 if shop.network == "bluesky" else 23):
            cat.add_posts(shop.network, shop.handle, 1, 1 + i % 4)
        cat.add_posts(shop.network, shop.handle, 1, photos=[cat.new_photo("png")])
        cat.add_posts(shop.network, shop.handle, 1, 2, pinned=True)
    return cat


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("network", ["mastodon", "bluesky"])
def test_gallery_dl_downloads_every_photo(gallery_dl: Path, network: str, tmp_path: Path):
    cat = _catalogue()
    ctx = gallerydl.tls_context(tmp_path)
    with EmulatorServer(cat, image_size=(120, 150), tls_context=ctx) as emu:
        shops = [s for s in cat.shops.values() if s.network == network]
        expected = Counter(
            _sha(emu.served(ph.key)[0]) for s in shops for post in s.posts for ph in post.photos
        )
        config = gallerydl.write_config(tmp_path, emu.base_url)
        urls = gallerydl.urls(emu.base_url, network, [s.handle for s in shops])
        done = subprocess.run(
            gallerydl.command(gallery_dl, config, urls),
            env=gallerydl.environment(),
            capture_output=True,
            text=True,
            timeout=240,
        )
        api = [path for kind, path, _ in emu.requests if kind == "api"]
    assert done.returncode == 0, done.stderr[-3000:]
    assert "[error]" not in done.stderr and "[warning]" not in done.stderr, done.stderr[-3000:]
    files = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    got = Counter(_sha(p.read_bytes()) for p in files)
    assert got == expected  # every photo, once each, byte for byte
    assert sum(expected.values()) > 100
    assert any(p.suffix == ".png" for p in files)
    if network == "bluesky":
        # It found the shop the way it finds a real one: handle → DID → DID document → PDS.
        assert any("identity.resolveHandle" in p for p in api)
        assert any(p.startswith("/did:plc:") for p in api)
        assert any("getAuthorFeed" in p and "cursor=" in p for p in api)  # a second page
    else:
        assert any("/accounts/lookup" in p for p in api)
        assert any("max_id=" in p for p in api)
