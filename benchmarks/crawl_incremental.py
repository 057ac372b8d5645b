"""Incremental cost: API requests per shop when k = 0, 5, 50 new posts exist, against a full
re-crawl of the same shops. Target: ⌈k / page size⌉ + 1 requests per shop.

    .venv/bin/python -m benchmarks.crawl_incremental
"""

from __future__ import annotations

import math
import sqlite3
import tempfile
from pathlib import Path

from benchmarks.crawl_common import NETWORKS, catalogue, write_config
from benchmarks.machine import machine
from crawler.emulator.server import EmulatorServer
from crawler.run import crawl_subprocess

PAGE = 20
POSTS = 120


def main() -> None:
    cat = catalogue(1, POSTS, 1)
    with tempfile.TemporaryDirectory() as tmp, EmulatorServer(cat, image_size=(160, 200)) as emu:
        knobs = f"page_size = {PAGE}\nrequests_per_second = 0.0\n"
        crawler = f"max_posts_per_shop = {POSTS * 10}\nautothrottle = false\n"
        cfg = write_config(Path(tmp), emu, crawler, knobs)
        first = crawl_subprocess(cfg)
        full = {n: emu.api_requests(n) for n in NETWORKS}
        rows = []
        for k in (0, 5, 50):
            for shop in list(cat.shops.values()):
                emu.add_posts(shop.network, shop.handle, k, 1)
            emu.reset_counts()
            summary = crawl_subprocess(cfg)
            assert summary.totals["new_posts"] == 4 * k, summary.totals
            rows.append((k, {n: emu.api_requests(n) for n in NETWORKS}))
        # A full re-crawl: forget the watermarks and crawl everything again.
        db = sqlite3.connect(Path(tmp) / "bench.db")
        db.execute("UPDATE shops SET watermark = '', crawl_state = '{}'")
        db.commit()
        db.close()
        emu.reset_counts()
        crawl_subprocess(cfg)
        recrawl = {n: emu.api_requests(n) for n in NETWORKS}
    print(machine())
    print(
        f"first crawl of {POSTS} posts per shop, page size {PAGE}: {first.seconds:.1f}s; "
        f"requests {full}"
    )
    print(f"\n| new posts k | target ⌈k/{PAGE}⌉+1 | " + " | ".join(NETWORKS) + " |")
    print("|---:|---:|" + "---:|" * len(NETWORKS))
    for k, counts in rows:
        print(
            f"| {k} | {math.ceil(k / PAGE) + 1} | "
            + " | ".join(str(counts[n]) for n in NETWORKS)
            + " |"
        )
    total = POSTS + 55
    print(
        f"| full re-crawl ({total} posts) | {math.ceil(total / PAGE) + 1} | "
        + " | ".join(str(recrawl[n]) for n in NETWORKS)
        + " |"
    )


if __name__ == "__main__":
    main()
