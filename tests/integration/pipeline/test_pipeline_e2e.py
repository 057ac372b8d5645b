"""The nightly pipeline end to end: real emulator over HTTP, real child processes, real model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.cli import vitrina
from tests.support.common import write_config
from tests.support.pipeline_support import pipeline_toml, scalar

pytest_plugins = ["tests.support.pipeline_fixtures"]  # the emulator and model_dir fixtures

LABELLED = "('auto_accepted', 'partly_accepted', 'needs_review')"


def _last_run(cfg: Path) -> dict:
    out = vitrina("--config", str(cfg), "runs", "--json", "--limit", "1")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)[0]


def test_two_runs_in_a_row_second_fetches_only_new(
    sqlite_url: str,
    tmp_path: Path,
    emulator,
    model_dir: str,  # noqa: F811
) -> None:
    cfg = write_config(tmp_path, sqlite_url, pipeline_toml(emulator, model_dir, tmp_path))
    first = vitrina("--config", str(cfg), "run-nightly")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "run #1 ok" in first.stdout and "16 new post(s), 16 new photo(s)" in first.stdout
    assert scalar(sqlite_url, "SELECT count(*) FROM posts") == 16
    # Every photo went through the classifier: labelled automatically or queued for review.
    assert scalar(sqlite_url, f"SELECT count(*) FROM photos WHERE status NOT IN {LABELLED}") == 0
    run1 = _last_run(cfg)
    assert run1["status"] == "ok" and run1["trigger"] == "manual"
    assert {s["status"] for s in run1["steps"].values()} == {"ok"}
    assert run1["stats"]["auto_accepted"] + run1["stats"]["needs_review"] == 16
    # each label decided or queued on its own, counted per head
    for head in ("category", "colour"):
        assert run1["stats"][f"{head}_auto"] + run1["stats"][f"{head}_review"] == 16
        queued = scalar(sqlite_url, f"SELECT count(*) FROM photos WHERE {head}_state = 'review'")
        assert run1["stats"][f"{head}_review"] == queued
    assert all(c["new_posts"] == 2 for c in run1["stats"]["shops"].values())
    assert Path(run1["steps"]["crawl"]["log"]).is_file()

    emulator.add_posts("mastodon", "linen_house", 2)
    emulator.add_posts("shopify", "sunday-tees", 1)
    emulator.reset_counts()
    second = vitrina("--config", str(cfg), "run-nightly")
    assert second.returncode == 0, second.stdout + second.stderr
    run2 = _last_run(cfg)
    assert run2["stats"]["new_posts"] == 3 and run2["stats"]["new_photos"] == 3
    shops = run2["stats"]["shops"]
    assert shops["mastodon:linen_house"]["new_posts"] == 2
    assert shops["shopify:sunday-tees"]["new_posts"] == 1
    assert sum(c["new_posts"] for c in shops.values()) == 3
    # Only the three new photos were downloaded; the classifier labelled only them.
    assert emulator.media_requests() == 3
    assert run2["stats"]["auto_accepted"] + run2["stats"]["needs_review"] == 3
    assert scalar(sqlite_url, "SELECT count(*) FROM posts") == 19
    listing = vitrina("--config", str(cfg), "runs")
    assert listing.returncode == 0 and "2 run(s)" in listing.stdout
    cat = f"{run2['stats']['category_auto']}/{run2['stats']['category_review']}"
    assert "auto/queued" in listing.stdout and cat in listing.stdout
    detail = vitrina("--config", str(cfg), "runs", "--id", "2")
    assert "mastodon:linen_house" in detail.stdout and "run #2 (manual) ok" in detail.stdout


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(x) for x in text]
    return found


def test_killed_crawl_is_completed_by_the_next_run(
    sqlite_url: str,
    tmp_path: Path,
    emulator,
    model_dir: str,  # noqa: F811
) -> None:
    # More, slower pages so that the crawl can be killed half-way.
    for network, handle in list(emulator.catalogue.shops):
        emulator.add_posts(network, handle, 4)
    emulator.faults.latency_ms = 150
    expected = emulator.catalogue.post_count()
    cfg = write_config(tmp_path, sqlite_url, pipeline_toml(emulator, model_dir, tmp_path))
    env = {k: v for k, v in os.environ.items() if not k.startswith("VITRINA_")}
    env.update(COLUMNS="200", NO_COLOR="1")
    for net in ("instagram", "mastodon", "bluesky", "shopify"):
        env[f"VITRINA_NETWORKS__{net.upper()}__PAGE_SIZE"] = "2"
    proc = subprocess.Popen(
        [sys.executable, "-m", "vitrina_cli.main", "--config", str(cfg), "run-nightly"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 120
        while scalar(sqlite_url, "SELECT count(*) FROM posts") == 0:
            assert time.monotonic() < deadline and proc.poll() is None, "the crawl never started"
            time.sleep(0.1)
        crawl = _children(proc.pid)
        assert len(crawl) == 1
        os.kill(crawl[0], signal.SIGKILL)  # the crawler dies mid-crawl (OOM killer, crash)
        out, _ = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    stored = scalar(sqlite_url, "SELECT count(*) FROM posts")
    assert 0 < stored < expected, out
    assert proc.returncode == 1, out
    run1 = _last_run(cfg)
    assert run1["status"] == "partial"
    assert run1["steps"]["crawl"]["status"] == "failed"
    assert run1["steps"]["crawl"]["returncode"] == -signal.SIGKILL
    # The rest of the run went on: what the crawl stored was labelled and published.
    assert run1["steps"]["classify"]["status"] == "ok"
    assert run1["steps"]["publish"]["status"] == "ok"
    assert any(e["step"] == "crawl" for e in run1["errors"])

    emulator.faults.latency_ms = 0
    again = vitrina("--config", str(cfg), "run-nightly", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    # Nothing lost, nothing doubled: every emulator post exactly once, every photo once.
    assert scalar(sqlite_url, "SELECT count(*) FROM posts") == expected
    assert scalar(sqlite_url, "SELECT count(DISTINCT network_post_id) FROM posts") == expected
    assert scalar(sqlite_url, "SELECT count(*) FROM photos") == expected
    assert scalar(sqlite_url, f"SELECT count(*) FROM photos WHERE status NOT IN {LABELLED}") == 0
    assert _last_run(cfg)["stats"]["new_posts"] == expected - stored
