"""A/B crawl throughput of two code trees on one machine: this checkout against an earlier
commit (e.g. the one whose figures the docs quote), crawling the same emulator shops (this
tree's emulator: 16 shops, 1,280 photos of 320×400, 20 ms per request) in alternating runs.

Figures differ between CPUs, so "no worse than the recorded figures" is checked here by
running the recorded commit's crawler on the same machine, in the same run:

    git worktree add /tmp/vitrina-base 302241b
    .venv/bin/python -m benchmarks.crawl_ab --baseline /tmp/vitrina-base [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.crawl_common import catalogue, write_config
from benchmarks.machine import machine
from crawler.emulator.faults import Faults
from crawler.emulator.server import EmulatorServer

HERE = Path(__file__).resolve().parents[1]
CRAWLER = (
    "concurrent_requests = 64\nconcurrent_requests_per_domain = 64\n"
    "autothrottle = false\nmax_posts_per_shop = 100000\n"
)


def crawl(tree: Path, emu: EmulatorServer) -> tuple[int, float, float, float]:
    """(photos stored, in-process seconds, wall seconds with start-up, CPU seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = write_config(Path(tmp), emu, CRAWLER, "concurrency = 16\nrequests_per_second = 0.0\n")
        if tree != HERE:  # an older tree may predate the schema: it migrates on start
            (Path(tmp) / "bench.db").unlink()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "vitrina_cli.main", "--config", str(cfg), "crawl", "--json"],
            cwd=tree,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(tree)},
        )
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"crawl in {tree} failed (exit {proc.returncode}): {proc.stderr[-1500:]}")
    summary = json.loads(proc.stdout)
    totals = summary["totals"]
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return totals["new_photos"] + totals["near_duplicates"], summary["seconds"], wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", type=Path, required=True, help="a checkout of the other commit")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    trees = {f"baseline ({args.baseline})": args.baseline.resolve(), "this checkout": HERE}
    cat = catalogue(4, 40, 2)
    emu = EmulatorServer(cat, Faults(latency_ms=20), image_size=(320, 400))
    for key in cat.photos:  # so that the emulator's drawing time is not measured
        emu.media.render(key)
    runs: dict[str, list[tuple[int, float, float, float]]] = {name: [] for name in trees}
    with emu:
        for rnd in range(args.rounds):
            for name, tree in trees.items():
                n, secs, wall, cpu = crawl(tree, emu)
                runs[name].append((n, secs, wall, cpu))
                print(
                    f"round {rnd + 1}, {name}: {n} photos, {n / secs:.0f} photos/s, "
                    f"{1000 * cpu / n:.1f} ms CPU per photo, load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
    print(f"\n{machine()}\n")
    print(
        "| crawler | runs | photos/s (median) | incl. process start | CPU ms per photo "
        "| vs baseline |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    base = statistics.median(n / s for n, s, _, _ in runs[next(iter(trees))])
    for name, rows in runs.items():
        rate = statistics.median(n / s for n, s, _, _ in rows)
        print(
            f"| {name} | {len(rows)} | {rate:.0f} | "
            f"{statistics.median(n / w for n, _, w, _ in rows):.0f} | "
            f"{statistics.median(1000 * c / n for n, _, _, c in rows):.1f} | {rate / base:.2f}× |"
        )


if __name__ == "__main__":
    main()
