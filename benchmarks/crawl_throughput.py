"""Throughput: photos stored per second from the emulator with 20 ms added latency per request,
against a naive sequential client (one request after another) doing the same work — fetch the
API pages, download each photo, validate/normalise/hash/thumbnail and store it — in the same run.
Targets: ≥ 200 photos/s and ≥ 10× the naive client.

It also times the crawl's own per-photo work on one thread (`photos.process`: decode, validate,
EXIF, hashes, WebP thumbnail; then the two atomic writes) and prints the ceiling that work puts
on any crawler on this machine's cores, as photos/s and as a multiple of the naive client.

    .venv/bin/python -m benchmarks.crawl_throughput [--shops-per-network 4] [--posts 40]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.crawl_common import catalogue, write_config
from benchmarks.machine import machine
from crawler import photos as ph
from crawler.emulator.faults import Faults
from crawler.emulator.server import IG_USER_ID, EmulatorServer
from crawler.run import crawl_subprocess

SIZE = (320, 400)
LIMITS = {"max_pixels": 40_000_000, "min_side": 120, "thumb_size": 320}


def naive(emu: EmulatorServer, media: Path, limit: int) -> tuple[int, float]:
    """Sequential Mastodon-style client: page, then each photo, one request at a time."""
    t0 = time.perf_counter()
    done = 0
    for shop in emu.catalogue.shops.values():
        if shop.network != "mastodon":
            continue
        url = f"{emu.base_url}/api/v1/accounts/{shop.account_id}/statuses?limit=40&only_media=true"
        while url and done < limit:
            with urllib.request.urlopen(url) as resp:
                statuses = json.load(resp)
                link = resp.headers.get("Link", "")
            for status in statuses:
                for m in status["media_attachments"]:
                    with urllib.request.urlopen(m["url"]) as r:
                        body = r.read()
                    ph.store(media, LIMITS, body)
                    done += 1
            url = link.split(">")[0].lstrip("<") if 'rel="next"' in link else ""
        if done >= limit:
            break
    return done, time.perf_counter() - t0


def per_photo_cpu(bodies: list[bytes], root: Path) -> tuple[float, float]:
    """CPU milliseconds per photo, one thread: (process, the two writes)."""
    t0 = time.process_time()
    done = [ph.process(body, **LIMITS) for body in bodies]
    t1 = time.process_time()
    for meta, data, thumb in done:
        ph.write_once(root, meta.stored_path, data)
        ph.write_once(root, meta.thumb_path, thumb)
    t2 = time.process_time()
    return 1000 * (t1 - t0) / len(bodies), 1000 * (t2 - t1) / len(bodies)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shops-per-network", type=int, default=4)
    ap.add_argument("--posts", type=int, default=40)
    ap.add_argument("--naive-photos", type=int, default=120)
    args = ap.parse_args()
    cat = catalogue(args.shops_per_network, args.posts, 2)
    emu = EmulatorServer(cat, Faults(latency_ms=20), image_size=SIZE)
    print(f"pre-rendering {len(cat.photos)} photos…", flush=True)
    for key in cat.photos:  # so that the emulator's drawing time is not measured
        emu.media.render(key)
    with tempfile.TemporaryDirectory() as tmp, emu:
        crawler = (
            "concurrent_requests = 64\nconcurrent_requests_per_domain = 64\n"
            "autothrottle = false\nmax_posts_per_shop = 100000\n"
        )
        cfg = write_config(Path(tmp), emu, crawler, "concurrency = 16\nrequests_per_second = 0.0\n")
        t0 = time.perf_counter()
        summary = crawl_subprocess(cfg)
        wall = time.perf_counter() - t0
        child = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = child.ru_utime + child.ru_stime
        stored = summary.totals["new_photos"] + summary.totals["near_duplicates"]
        n, naive_s = naive(emu, Path(tmp) / "naive", args.naive_photos)
        bodies = [emu.media.render(key)[0] for key in list(cat.photos)[:300]]
        process_ms, write_ms = per_photo_cpu(bodies, Path(tmp) / "timed")
    crawl_rate = stored / summary.seconds
    naive_rate = n / naive_s
    print(f"\n{machine()}")
    print("\n| client | photos | seconds | photos/s | vs naive |")
    print("|---|---:|---:|---:|---:|")
    print(
        f"| vitrina crawl (Scrapy, in-process time) | {stored} | {summary.seconds:.1f} | "
        f"{crawl_rate:.0f} | {crawl_rate / naive_rate:.1f}× |"
    )
    print(
        f"| vitrina crawl incl. process start | {stored} | {wall:.1f} | {stored / wall:.0f} | "
        f"{stored / wall / naive_rate:.1f}× |"
    )
    print(f"| naive sequential client | {n} | {naive_s:.1f} | {naive_rate:.0f} | 1.0× |")
    load = os.getloadavg()[0]
    print(
        f"\ncrawl process CPU: {cpu:.1f}s = {1000 * cpu / stored:.1f} ms per photo, start-up "
        f"included; load average {load:.1f} on {os.cpu_count()} cores while measuring"
    )
    print(
        f"(20 ms latency per request, {len(cat.shops)} shops, {SIZE[0]}×{SIZE[1]} JPEGs, "
        f"IG user {IG_USER_ID})"
    )
    # CPU per photo puts a ceiling on photos/s whatever the concurrency: the per-photo work alone
    # (no crawler avoids it), and this crawl's whole CPU per photo used on every core at once.
    cores = os.cpu_count() or 1
    work_ms = process_ms + write_ms
    crawl_ms = 1000 * cpu / stored
    print(f"\n| CPU per photo | ms | ceiling on {cores} cores | vs naive |")
    print("|---|---:|---:|---:|")
    for what, ms in (
        (
            "decode, validate, EXIF, sha256, perceptual hash, WebP thumbnail (one thread)",
            process_ms,
        ),
        ("two atomic file writes: photo, thumbnail (one thread)", write_ms),
        ("per-photo work, both together", work_ms),
        ("the whole crawl process (+ Scrapy, pipelines, SQLite, start-up)", crawl_ms),
    ):
        ceiling = cores * 1000 / ms
        print(f"| {what} | {ms:.2f} | {ceiling:.0f} photos/s | {ceiling / naive_rate:.1f}× |")
    print(
        f"\n10× the naive client ({10 * naive_rate:.0f} photos/s) needs ≤ "
        f"{cores * 1000 / (10 * naive_rate):.1f} ms of CPU per photo in all on {cores} cores"
    )


if __name__ == "__main__":
    main()
