"""What the operator sees of a crawl: `vitrina crawl`'s exit status (0 all crawled, 1 some shops
failed, 2 unusable configuration), a network's credential problem said once, a host that does
not resolve failing at once, and `vitrina shops list` with each shop's last success and error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from crawler.emulator.server import EmulatorServer
from tests.support.common import REPO
from tests.support.crawl import setup, small_catalogue


def vitrina(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vitrina_cli.main", "--config", str(cfg), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        env={**os.environ, "COLUMNS": "400"},
    )


def test_exit_status_failed_shops_and_shops_list(tmp_path: Path, sqlite_url: str):
    with EmulatorServer(small_catalogue(2)) as emu:
        shops = [
            ("instagram", "ig_shop"),
            ("mastodon", "masto_shop"),
            ("mastodon", "gone_shop"),
            ("shopify", "store"),
        ]
        cfg = setup(tmp_path, sqlite_url, emu, shops=shops)
        good = cfg.read_text()
        cfg.write_text(good.replace('access_token = "emulator-token"', 'access_token = "bad"'))
        plain = vitrina(cfg, "crawl")
        as_json = vitrina(cfg, "crawl", "--json")
        listed = vitrina(cfg, "shops", "list")
        cfg.write_text(good)
        only_good = vitrina(cfg, "crawl", "--shop", "mastodon:masto_shop")
        cfg.write_text(good.replace("[crawler]\n", "[crawler]\nretry_times = -3\n", 1))
        unusable = vitrina(cfg, "crawl")
    assert plain.returncode == 1, plain.stdout + plain.stderr
    # the network's message once, not once more per shop
    assert plain.stdout.count("access token rejected") == 1, plain.stdout
    assert "2 shop(s) failed: instagram:ig_shop, mastodon:gone_shop" in plain.stdout
    assert as_json.returncode == 1, as_json.stderr
    summary = json.loads(as_json.stdout)
    assert summary["failed_shops"] == ["instagram:ig_shop", "mastodon:gone_shop"]
    assert summary["shops"]["instagram:ig_shop"]["status"] == "auth"
    assert sum("access token rejected" in e for e in summary["errors"]) == 1

    assert listed.returncode == 0, listed.stderr
    lines = {
        handle: next(line for line in listed.stdout.splitlines() if f" {handle} " in line)
        for _, handle in shops
    }
    assert "access token rejected" in lines["ig_shop"]
    assert "account not found" in lines["gone_shop"]
    for handle in ("masto_shop", "store"):  # crawled: a time under "last success", no error
        assert "20" in lines[handle].split("│")[6] and "—" in lines[handle].split("│")[7]
    assert "—" in lines["ig_shop"].split("│")[6]  # never crawled

    assert only_good.returncode == 0, only_good.stdout + only_good.stderr
    assert unusable.returncode == 2 and "retry_times" in unusable.stderr


def test_a_host_that_does_not_resolve_is_not_retried_through_every_backoff(
    tmp_path: Path, sqlite_url: str
):
    with EmulatorServer(small_catalogue(1)) as emu:
        cfg = setup(tmp_path, sqlite_url, emu, shops=[("shopify", "store")])
        text = cfg.read_text().replace("retry_backoff = 0.05", "retry_backoff = 3.0")
        text += (
            '\n[[shops]]\nnetwork = "mastodon"\nhandle = "lost"\n'
            'url = "http://shop.nowhere.invalid"\n'
        )
        cfg.write_text(text)
        result = vitrina(cfg, "crawl", "--json")
    assert result.returncode == 1, result.stderr
    summary = json.loads(result.stdout)
    assert summary["failed_shops"] == ["mastodon:lost"]
    (error,) = summary["shops"]["mastodon:lost"]["error_messages"]
    assert "DNS lookup failed" in error and "not retried" in error, error
    # four retries would have waited 3 + 6 + 12 + 24 s (±20%); one retry waits about 3 s
    assert summary["seconds"] < 15, summary["seconds"]
    assert summary["shops"]["shopify:store"]["new_posts"] == 1


def test_crawls_run_by_hand_appear_in_vitrina_runs(tmp_path: Path, db_url: str):
    from datetime import timedelta

    from catalog.db import make_engine, session_scope
    from catalog.models import CrawlRun, PipelineRun, utcnow
    from tests.support.common import write_config

    t0 = utcnow() - timedelta(hours=3)
    counts = {"mastodon:a": {"new_posts": 4, "new_photos": 5, "status": "ok"}}
    engine = make_engine(db_url)
    with session_scope(engine) as s:
        by_hand = CrawlRun(
            started_at=t0, finished_at=t0 + timedelta(seconds=90), status="partial",
            shop_counts=counts, errors=["mastodon:a: post 9 refused: caption is dict, not text"],
        )  # fmt: skip
        nightly_crawl = CrawlRun(
            started_at=t0 + timedelta(hours=1, seconds=1),
            finished_at=t0 + timedelta(hours=1, seconds=30),
            status="ok",
            shop_counts=counts,
        )
        killed_crawl = CrawlRun(started_at=t0 + timedelta(hours=2, seconds=1), status="running")
        s.add_all([by_hand, nightly_crawl, killed_crawl])
        s.flush()
        s.add(
            PipelineRun(
                trigger="schedule",
                started_at=t0 + timedelta(hours=1),
                finished_at=t0 + timedelta(hours=1, minutes=5),
                status="ok",
                steps={"crawl": {"status": "ok", "crawl_runs": [nightly_crawl.id]}},
            )
        )
        # a nightly run killed during its crawl step: its crawl was never named in it
        s.add(PipelineRun(trigger="schedule", started_at=t0 + timedelta(hours=2), status="running"))
        hand_id = by_hand.id
    engine.dispose()
    cfg = write_config(tmp_path, db_url)
    listed = vitrina(cfg, "runs")
    as_json = vitrina(cfg, "runs", "--json")
    assert listed.returncode == 0 and as_json.returncode == 0, listed.stderr + as_json.stderr
    runs = json.loads(as_json.stdout)
    assert [(r["trigger"], r["status"]) for r in runs] == [
        ("schedule", "running"),
        ("schedule", "ok"),
        ("crawl", "partial"),
    ]
    hand = runs[2]
    assert hand["id"] == hand_id and hand["stats"]["new_posts"] == 4
    assert hand["seconds"] == 90 and "caption is dict" in hand["errors"][0]["error"]
    row = next(line for line in listed.stdout.splitlines() if f"c{hand_id} " in line)
    assert "crawl" in row and "partial" in row and "1m30s" in row
