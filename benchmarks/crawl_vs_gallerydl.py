"""Vitrina's crawl against gallery-dl (the reference downloader, pinned, in its own virtualenv:
tests/support/gallerydl.py) on the same emulator shops: 8 Mastodon shops × 40 posts × 2 photos
(640 JPEGs of 320×400) on one instance, with 20 ms and 100 ms added to every reply.

Politeness is the same for both: at most `--per-host` photo downloads at once from the instance
(Vitrina: `crawler.concurrent_requests_per_domain`; its API calls have their own slot,
`networks.mastodon.concurrency` = 4, about 2 requests per shop here; gallery-dl: one connection per
process, so at most that many processes). gallery-dl runs at its defaults (one
process for all shops) and in one process per shop (as many as the limit allows); its best is the
faster of the two in the same run, and the ratios are against it.
Every figure includes process start; runs alternate between the clients, 3 of each, and the
table gives the median. CPU per photo is the user+sys time of the client's processes
(RUSAGE_CHILDREN). Then the re-run cost: requests to the instance when nothing is new, and when
each shop has 5 new posts.

    .venv/bin/python -m benchmarks.crawl_vs_gallerydl [--latency 20 100] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.crawl_common import write_config
from benchmarks.machine import machine
from catalog.config import CrawlerSettings
from crawler.emulator.catalogue import Catalogue
from crawler.emulator.faults import Faults
from crawler.emulator.server import EmulatorServer
from tests.support import gallerydl

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Run:
    photos: int
    seconds: float
    cpu: float  # user+sys of the client's processes

    @property
    def rate(self) -> float:
        return self.photos / self.seconds

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu / max(self.photos, 1)


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _timed(cmds: list[list[str]], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Start every command at once, wait for all: (wall seconds, CPU seconds)."""
    # Files, not pipes: one full pipe would stall its process while we wait on another.
    logs = [tempfile.TemporaryFile() for _ in cmds]  # noqa: SIM115 - closed below
    cpu0, t0 = _children_cpu(), time.perf_counter()
    procs = [
        subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=log, env=env, cwd=ROOT)
        for c, log in zip(cmds, logs, strict=True)
    ]
    codes = [p.wait() for p in procs]
    wall = time.perf_counter() - t0
    cpu = _children_cpu() - cpu0
    for c, code, log in zip(cmds, codes, logs, strict=True):
        log.seek(0)
        if code not in (0, 1):
            err = log.read().decode(errors="replace")
            sys.exit(f"{' '.join(c)} failed (exit {code}):\n{err[-2000:]}")
        log.close()
    return wall, cpu


def _vitrina_cmd(config: Path) -> list[str]:
    return [sys.executable, "-m", "vitrina_cli.main", "--config", str(config), "crawl", "--json"]


def _stored(folder: Path) -> int:
    return sum(1 for p in (folder / "media").rglob("*.jpg"))


class Bench:
    def __init__(self, emu: EmulatorServer, work: Path, per_host: int, exe: Path):
        self.emu, self.work, self.per_host, self.exe = emu, work, per_host, exe
        self.handles = [s.handle for s in emu.catalogue.shops.values()]
        self.env = gallerydl.environment()

    def _fresh(self, name: str) -> Path:
        folder = self.work / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        return folder

    def vitrina_config(self, folder: Path) -> Path:
        # Vitrina's defaults, but the per-host limit the benchmark sets for both clients.
        crawler = f"concurrent_requests_per_domain = {self.per_host}\n"
        cfg = write_config(folder, self.emu, crawler)
        # The catalogue and its shops exist before the timed crawl, as on any later night.
        init = [sys.executable, "-m", "vitrina_cli.main", "--config", str(cfg), "init"]
        subprocess.run(init, check=True, capture_output=True, cwd=ROOT)
        return cfg

    def gdl_cmds(self, folder: Path, processes: int) -> list[list[str]]:
        cfg = gallerydl.write_config(folder, self.emu.base_url)
        urls = gallerydl.urls(self.emu.base_url, "mastodon", self.handles)
        groups = [urls[i::processes] for i in range(processes)]
        return [gallerydl.command(self.exe, cfg, g) for g in groups if g]

    def vitrina(self) -> Run:
        folder = self._fresh("vitrina")
        wall, cpu = _timed([_vitrina_cmd(self.vitrina_config(folder))])
        return Run(_stored(folder), wall, cpu)

    def gallery_dl(self, processes: int) -> Run:
        folder = self._fresh(f"gdl{processes}")
        wall, cpu = _timed(self.gdl_cmds(folder, processes), self.env)
        return Run(sum(1 for p in (folder / "out").rglob("*.jpg")), wall, cpu)

    def reruns(self, new_posts: int) -> dict[str, tuple[int, int]]:
        """(API requests, all requests) per shop for a re-run of each client after a first
        crawl, with nothing new and then with `new_posts` new posts in every shop."""
        out: dict[str, tuple[int, int]] = {}
        vit = self._fresh("vitrina-rerun")
        gdl = self._fresh("gdl-rerun")
        cfg = self.vitrina_config(vit)
        gdl_cmds = self.gdl_cmds(gdl, len(self.handles))
        _timed([_vitrina_cmd(cfg)])
        _timed(gdl_cmds, self.env)
        for label in ("nothing new", f"{new_posts} new posts"):
            if label != "nothing new":
                for h in self.handles:
                    self.emu.add_posts("mastodon", h, new_posts, 2)
            for client, cmds, env in (
                ("vitrina", [_vitrina_cmd(cfg)], None),
                ("gallery-dl", gdl_cmds, self.env),
            ):
                self.emu.reset_counts()
                _timed(cmds, env)
                api = sum(1 for kind, _, _ in self.emu.requests if kind == "api")
                out[f"{client}, {label}"] = (api, len(self.emu.requests))
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--latency", type=int, nargs="+", default=[20, 100], help="ms per reply")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--shops", type=int, default=8)
    ap.add_argument("--posts", type=int, default=40)
    ap.add_argument(
        "--per-host",
        type=int,
        default=CrawlerSettings().concurrent_requests_per_domain,  # Vitrina's default
        help="downloads at once from one host, for both clients",
    )
    args = ap.parse_args()
    exe = gallerydl.ensure()
    print(f"gallery-dl {gallerydl.VERSION}: {exe}")
    cat = Catalogue(seed=5)
    handles = [f"shop_{i}" for i in range(args.shops)]
    for h in handles:
        cat.add_shop("mastodon", h)
    for _ in range(args.posts):
        for h in handles:
            cat.add_posts("mastodon", h, 1, 2)
    total = len(cat.photos)
    best = min(args.per_host, args.shops)
    emu = EmulatorServer(cat, Faults(), image_size=(320, 400))
    print(f"pre-rendering {total} photos…", flush=True)
    for key in list(cat.photos):  # the emulator's drawing is not what is measured
        emu.media.render(key)
    results: dict[int, dict[str, list[Run]]] = {}
    reruns: dict[str, tuple[int, int]] = {}
    with tempfile.TemporaryDirectory(dir=ROOT / "var") as tmp, emu:
        bench = Bench(emu, Path(tmp), args.per_host, exe)
        clients = {
            "vitrina crawl (defaults)": bench.vitrina,
            f"gallery-dl, {best} processes (one per shop)": lambda: bench.gallery_dl(best),
            "gallery-dl defaults (1 process)": lambda: bench.gallery_dl(1),
        }
        for latency in args.latency:
            emu.faults.latency_ms = latency
            runs: dict[str, list[Run]] = {name: [] for name in clients}
            for i in range(args.runs):  # alternating: each client once per round
                for name, fn in clients.items():
                    r = fn()
                    runs[name].append(r)
                    print(
                        f"  {latency} ms, round {i + 1}: {name}: {r.photos} photos in "
                        f"{r.seconds:.1f}s ({r.rate:.0f}/s, {r.cpu_ms:.1f} ms CPU each)",
                        flush=True,
                    )
            results[latency] = runs
        emu.faults.latency_ms = args.latency[0]
        reruns = bench.reruns(5)

    print(
        f"\n{args.shops} Mastodon shops, {total} photos (320×400 JPEG), at most {args.per_host} "
        f"connections per host; median of {args.runs} alternating runs, process start included"
    )
    print(f"{machine()}\n")
    print(
        "| latency | client | photos | seconds | photos/s | CPU ms/photo | photos/s vs "
        "gallery-dl's best | CPU/photo vs gallery-dl's best |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for latency, runs in results.items():
        med = {
            name: Run(
                statistics.median(r.photos for r in rs),
                statistics.median(r.seconds for r in rs),
                statistics.median(r.cpu for r in rs),
            )
            for name, rs in runs.items()
        }
        # gallery-dl's best is whichever of its two ways was faster in this run: on a loaded
        # machine one process can beat eight, whose start-ups cost CPU the others need.
        ref = max(
            (m for name, m in med.items() if name.startswith("gallery-dl")), key=lambda m: m.rate
        )
        for name, m in med.items():
            print(
                f"| {latency} ms | {name} | {m.photos} | {m.seconds:.1f} | {m.rate:.0f} | "
                f"{m.cpu_ms:.1f} | {m.rate / ref.rate:.2f}× | {m.cpu_ms / ref.cpu_ms:.2f}× |"
            )
    print(f"\nRe-run after a first crawl ({args.latency[0]} ms), requests to the instance:\n")
    print("| client, what is new | API requests | per shop | all requests |")
    print("|---|---:|---:|---:|")
    for label, (api, everything) in reruns.items():
        print(f"| {label} | {api} | {api / args.shops:.1f} | {everything} |")
    print(f"\nload average at the end: {' / '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
