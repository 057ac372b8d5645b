"""Run a crawl: `crawl(settings)` for the CLI; the Twisted reactor runs once per process, so
the nightly pipeline starts `vitrina crawl --json` as a child process (see `crawl_subprocess`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from catalog import crud
from catalog.config import Settings
from catalog.db import make_engine, migrate, session_scope
from catalog.models import CrawlRun, Shop
from crawler.report import CrawlReport
from crawler.spiders.base import ShopTask
from crawler.state import start_point

SPIDERS = {
    "instagram": "crawler.spiders.instagram.InstagramSpider",
    "mastodon": "crawler.spiders.mastodon.MastodonSpider",
    "bluesky": "crawler.spiders.bluesky.BlueskySpider",
    "shopify": "crawler.spiders.shopify.ShopifySpider",
}


@dataclass
class CrawlSummary:
    run_id: int
    status: str  # ok | partial (some shops failed) | interrupted (stopped by a signal)
    seconds: float
    shops: dict[str, dict[str, Any]] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2)


class UnknownShop(ValueError):
    pass


def select_shops(session: Any, wanted: Sequence[str] | None) -> list[Shop]:
    """Active shops, or those named as NETWORK:HANDLE (inactive ones too, when named)."""
    if not wanted:
        return list(crud.list_shops(session, active_only=True))
    out = []
    for spec in wanted:
        network, _, handle = spec.partition(":")
        shop = crud.get_shop(session, network, handle)
        if shop is None:
            raise UnknownShop(f"unknown shop {spec!r} (see `vitrina shops list`)")
        out.append(shop)
    return out


def _task(shop: Shop) -> ShopTask:
    state = dict(shop.crawl_state or {})
    sp = start_point(state)
    return ShopTask(
        shop_id=shop.id or 0,
        network=shop.network,
        handle=shop.handle,
        base_url=shop.base_url,
        account_id=shop.account_id,
        seq=sp.seq,
        cursor=sp.cursor,
        stop_key=sp.stop_key,
        posts_so_far=sp.posts_so_far,
    )


def _tidy_state(shop: Shop) -> None:
    """Before a run: forget pages stored out of order by a killed run (they are re-fetched), and
    a pass whose first page never got stored (it restarts from the top)."""
    state = dict(shop.crawl_state or {})
    p = state.get("pass")
    if not p:
        return
    if p.get("done", -1) < 0 or not p.get("cursor"):
        state.pop("pass")
    else:
        state["pass"] = {**p, "ahead": {}, "final_seq": None}
    shop.crawl_state = state


def crawl(
    settings: Settings,
    shops: Sequence[str] | None = None,
    *,
    on_change: Callable[[CrawlReport], None] | None = None,
    extra_scrapy_settings: dict[str, Any] | None = None,
) -> CrawlSummary:
    """Crawl the active shops (or those named) once; store what is new; return the summary."""
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.misc import load_object

    from crawler.settings import for_crawl

    engine = make_engine(settings.database_url, echo=settings.database.echo)
    migrate(engine)
    settings.media_dir.mkdir(parents=True, exist_ok=True)
    with session_scope(engine) as session:
        crud.sync_shops_from_config(session, settings.shops)
    with session_scope(engine) as session:
        chosen = select_shops(session, shops)
        for shop in chosen:
            _tidy_state(shop)
            session.add(shop)
        tasks = [_task(s) for s in chosen]
        run = CrawlRun(status="running")
        session.add(run)
        session.flush()
        run_id = run.id or 0
    started = datetime.now(UTC)
    report = CrawlReport(on_change)
    for t in tasks:
        report.shop(t.key)
    if tasks:
        process = CrawlerProcess(for_crawl(settings, chosen, **(extra_scrapy_settings or {})))
        for network, path in SPIDERS.items():
            mine = [t for t in tasks if t.network == network]
            if mine:
                process.crawl(load_object(path), tasks=mine, report=report)
        process.start()
    finished = datetime.now(UTC)
    summary = CrawlSummary(
        run_id=run_id,
        status="interrupted"
        if report.interrupted
        else "partial"
        if report.totals()["errors"]
        else "ok",
        seconds=round((finished - started).total_seconds(), 3),
        shops={k: r.as_dict() for k, r in report.shops.items()},
        totals=report.totals(),
        errors=list(report.errors)
        + [f"{k}: {m}" for k, r in report.shops.items() for m in r.errors],
    )
    with session_scope(engine) as session:
        row = session.get(CrawlRun, run_id)
        if row is not None:
            row.finished_at = finished
            row.status = summary.status
            row.shop_counts = summary.shops
            row.errors = summary.errors[:500]
            session.add(row)
    engine.dispose()
    return summary


def crawl_subprocess(
    config_path: str | os.PathLike[str],
    shops: Sequence[str] = (),
    *,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
) -> CrawlSummary:
    """Run `vitrina crawl --json` in a child process (fresh reactor) and return its summary."""
    cmd = [
        sys.executable,
        "-m",
        "vitrina_cli.main",
        "--config",
        str(config_path),
        "crawl",
        "--json",
    ]
    for s in shops:
        cmd += ["--shop", s]
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=Path(__file__).resolve().parents[1],
    )
    if proc.returncode != 0:
        raise RuntimeError(f"crawl failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    data = json.loads(proc.stdout)
    return CrawlSummary(**data)
