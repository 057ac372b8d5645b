"""Peak memory of a 10,000-photo crawl (target ≤ 500 MB RSS for the crawl process).

The emulator runs in this process; the crawl runs as its own child process, so the child's peak
RSS (getrusage RUSAGE_CHILDREN) is the crawler's alone.

    .venv/bin/python -m benchmarks.crawl_memory [--photos 10000]
"""

from __future__ import annotations

import argparse
import resource
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.crawl_common import catalogue, write_config
from crawler.emulator.server import EmulatorServer
from crawler.run import crawl_subprocess


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=10_000)
    ap.add_argument("--shops-per-network", type=int, default=5)
    args = ap.parse_args()
    shops = 4 * args.shops_per_network
    posts = args.photos // (2 * shops)
    cat = catalogue(args.shops_per_network, posts, 2)
    with tempfile.TemporaryDirectory() as tmp, EmulatorServer(cat, image_size=(160, 200)) as emu:
        crawler = (
            f"max_posts_per_shop = {posts + 1}\nautothrottle = false\n"
            "concurrent_requests = 32\nconcurrent_requests_per_domain = 32\n"
        )
        cfg = write_config(Path(tmp), emu, crawler, "requests_per_second = 0.0\n")
        t0 = time.perf_counter()
        summary = crawl_subprocess(cfg)
        seconds = time.perf_counter() - t0
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        db = sqlite3.connect(Path(tmp) / "bench.db")
        stored = db.execute("SELECT count(*) FROM photos").fetchone()[0]
        db.close()
    t = summary.totals
    print("\n| photos stored | posts | shops | seconds | peak RSS of the crawl | target |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {stored} | {t['new_posts']} | {shops} | {seconds:.0f} | {peak_kb / 1024:.0f} MB "
        f"| ≤ 500 MB |"
    )
    if summary.errors:
        print("errors:", *summary.errors[:5], sep="\n  ", file=sys.stderr)


if __name__ == "__main__":
    main()
