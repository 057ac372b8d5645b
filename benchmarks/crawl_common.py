"""Shared by the crawl benchmarks: an emulator catalogue and a config pointing at it."""

from __future__ import annotations

from pathlib import Path

from catalog.db import make_engine, migrate
from crawler.emulator.catalogue import Catalogue
from crawler.emulator.server import EmulatorServer

NETWORKS = ("instagram", "mastodon", "bluesky", "shopify")


def catalogue(shops_per_network: int, posts: int, photos_per_post: int, seed: int = 1) -> Catalogue:
    cat = Catalogue(seed=seed)
    handles = [(n, f"{n[:4]}_{i}") for n in NETWORKS for i in range(shops_per_network)]
    for network, handle in handles:
        cat.add_shop(network, handle)
    for _ in range(posts):
        for network, handle in handles:
            cat.add_posts(network, handle, 1, photos_per_post)
    return cat


def write_config(folder: Path, emu: EmulatorServer, crawler: str = "", networks: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = emu.config_toml().replace("[crawler]\n", "[crawler]\n" + crawler, 1)
    for net in ("instagram", "bluesky"):
        text = text.replace(f"[networks.{net}]\n", f"[networks.{net}]\n{networks}", 1)
    text += f"\n[networks.mastodon]\n{networks}\n[networks.shopify]\n{networks}"
    path = folder / "config.toml"
    # What `vitrina init` does first: a crawl refuses a catalogue without its schema.
    engine = make_engine(f"sqlite:///{folder / 'bench.db'}")
    migrate(engine)
    engine.dispose()
    path.write_text(
        f'[database]\nurl = "sqlite:///{folder / "bench.db"}"\n\n'
        f'[storage]\nmedia_dir = "{folder / "media"}"\n\n' + text,
        encoding="utf-8",
    )
    return path
