"""Run a crawl: `crawl(settings)` for the CLI; the Twisted reactor runs once per process, so
the nightly pipeline starts `vitrina crawl --json` as a child process (see `crawl_subprocess`)."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from catalog import crud
from catalog.config import Settings
from catalog.db import make_engine, require_current, session_scope
from catalog.models import CrawlRun, Shop, utcnow
from catalog.records import CrawlSummary
from crawler.frontier import reset_frontier
from crawler.items import RetryPhoto
from crawler.photos import remove_stale_tmp
from crawler.report import CrawlReport, redact_logs, register_secret
from crawler.spiders.base import ShopTask
from crawler.state import start_point

logger = logging.getLogger(__name__)

SPIDERS = {
    "instagram": "crawler.spiders.instagram.InstagramSpider",
    "mastodon": "crawler.spiders.mastodon.MastodonSpider",
    "bluesky": "crawler.spiders.bluesky.BlueskySpider",
    "shopify": "crawler.spiders.shopify.ShopifySpider",
}


class UnknownShop(ValueError):
    pass


class CrawlBusy(RuntimeError):
    """Another live crawl holds the catalogue's shops (no shared frontier to split the work)."""


@contextmanager
def _crawl_lock(settings: Settings, engine: Engine) -> Iterator[None]:
    """Without a shared frontier two crawls at once would fetch every page and photo twice:
    one crawl at a time per catalogue (an advisory lock on PostgreSQL, a file lock beside the
    SQLite file; both released by the OS or the server when the holder dies, even by SIGKILL).
    With a frontier, crawl processes side by side share the work, so none is taken."""
    from catalog.locks import LockHeld, PipelineLock

    if settings.crawler.frontier:
        yield
        return
    lock = PipelineLock(engine, name="crawl")
    try:
        lock.acquire()
    except LockHeld as exc:
        who = str(exc).replace("another crawl run holds the lock", "another crawl is running")
        raise CrawlBusy(
            f"{who} on this catalogue: wait for it to finish (`vitrina runs`), or set "
            "[crawler] frontier to let crawl processes share the work"
        ) from None
    try:
        yield
    finally:
        lock.release()


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
        watermark_id=shop.watermark if sp.stop_key else "",
        posts_so_far=sp.posts_so_far,
        named=bool(shop.display_name),
    )


# ---- crawl runs left "running" by a dead process ----------------------------------------------

# A running crawl records a heartbeat this often; a "running" row silent for SILENT_AFTER
# belongs to a process that is gone (or cut off from the catalogue that long). Generous: a
# crawl on another machine is judged by this alone, and a busy database may delay a beat.
HEARTBEAT_SECONDS = 30.0
SILENT_AFTER_SECONDS = 15 * 60.0


def this_host() -> str:
    return socket.gethostname()[:255]


def pid_alive(pid: int) -> bool:
    """Whether process `pid` exists on this machine and is not a zombie (killed, not reaped)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: alive
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (not Linux): existing is all we can tell
    return state not in ("Z", "X")


def db_now(session: Session) -> datetime:
    """Now by the database's clock on PostgreSQL, where crawl processes on several machines
    compare heartbeats (their own clocks may differ); this machine's clock on SQLite."""
    if session.get_bind().dialect.name == "postgresql":
        return session.execute(select(func.now())).scalar_one()
    return utcnow()


def _aware(dt: datetime) -> datetime:
    # SQLite returns naive datetimes for timezone-aware columns; they are stored in UTC.
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def close_dead_runs(
    session: Session,
    *,
    host: str | None = None,
    pid: int | None = None,
    silent_after: float = SILENT_AFTER_SECONDS,
) -> list[int]:
    """Mark crawl runs left "running" by a process that cannot be alive any more as
    "interrupted"; returns their ids. Dead: recorded on this host with a pid that is gone (or
    is ours: a previous holder of this pid), or silent (no heartbeat) for `silent_after`
    seconds, which also covers other hosts, pids reused since, and rows from before heartbeats.
    A live sibling crawl (scale-out: several processes at once) is never touched. Call it
    before this crawl's own row exists."""
    host = this_host() if host is None else host
    pid = os.getpid() if pid is None else pid
    now = db_now(session)
    closed = []
    for run in session.scalars(select(CrawlRun).where(CrawlRun.status == "running")).all():
        last = _aware(run.heartbeat_at or run.started_at)
        silent = (now - last).total_seconds()
        if run.host == host and run.pid and (run.pid == pid or not pid_alive(run.pid)):
            why = f"its process ({run.pid} on {host}) is gone"
        elif silent > silent_after:
            where = f"process {run.pid} on {run.host}" if run.host else "its process"
            why = f"no sign of life from {where} for {silent / 60:.0f} minutes"
        else:
            continue
        note = (
            f"interrupted: {why}; it stopped without finishing "
            f"(last seen {last:%Y-%m-%d %H:%M:%S} UTC)"
        )
        done = session.execute(
            update(CrawlRun)
            .where(CrawlRun.id == run.id, CrawlRun.status == "running")
            .values(status="interrupted", finished_at=last, errors=[*(run.errors or []), note])
        )
        if done.rowcount:  # a sibling crawl starting at the same moment may have been first
            closed.append(run.id or 0)
            logger.warning("crawl #%s was left running: %s", run.id, note)
    session.flush()
    return closed


class Heartbeat:
    """Records a running crawl's sign of life every `every` seconds, in a thread (the reactor
    may be busy, or waiting on a long Retry-After, for minutes without committing a page)."""

    def __init__(self, engine: Engine, run_id: int, every: float = HEARTBEAT_SECONDS):
        self.engine, self.run_id, self.every = engine, run_id, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="crawl-heartbeat", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.every):
            try:
                with session_scope(self.engine) as session:
                    session.execute(
                        update(CrawlRun)
                        .where(CrawlRun.id == self.run_id)
                        .values(heartbeat_at=db_now(session))
                    )
            except Exception:  # noqa: BLE001 - a missed beat is not worth stopping the crawl
                logger.warning("crawl #%s: heartbeat not recorded", self.run_id, exc_info=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


def _claim_retries(session: Session, run_id: int, tasks: list[ShopTask], bound: int) -> None:
    """Give each shop's task the photos of its stored posts that earlier crawls failed to
    download for a passing reason, at most `bound` failures ago (crawler.photo_retry_crawls)."""
    by_shop = {t.shop_id: t for t in tasks}
    for c in crud.claim_rejected_media(session, run_id, list(by_shop), max_attempts=bound):
        by_shop[c.shop_id].retries.append(RetryPhoto(c.id, c.source_url, c.post_id, c.position))


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
    register_secret(settings.networks.instagram.access_token)
    for instance in settings.networks.mastodon.instances.values():
        register_secret(instance.access_token)
    redact_logs()
    engine = make_engine(settings.database_url, echo=settings.database.echo)
    require_current(engine)  # `vitrina init` migrates; a crawl never does
    try:
        with _crawl_lock(settings, engine):
            return _crawl(settings, engine, shops, on_change, extra_scrapy_settings)
    finally:
        engine.dispose()


def _crawl(
    settings: Settings,
    engine: Engine,
    shops: Sequence[str] | None,
    on_change: Callable[[CrawlReport], None] | None,
    extra_scrapy_settings: dict[str, Any] | None,
) -> CrawlSummary:
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.misc import load_object

    from crawler.settings import for_crawl, import_http_handler

    settings.media_dir.mkdir(parents=True, exist_ok=True)
    with session_scope(engine) as session:
        crud.sync_shops_from_config(session, settings.shops)
    with session_scope(engine) as session:
        chosen = select_shops(session, shops)
        for shop in chosen:
            _tidy_state(shop)
            session.add(shop)
        tasks = [_task(s) for s in chosen]
    with session_scope(engine) as session:
        close_dead_runs(session)
        others_alive = session.scalar(
            select(func.count()).select_from(CrawlRun).where(CrawlRun.status == "running")
        )
    if n := remove_stale_tmp(settings.media_dir, others_alive=bool(others_alive)):
        logger.warning("removed %d partial photo file(s) left by a killed crawl", n)
    # No crawl beside us: queues and seen-filters in Redis are a killed crawl's leftovers,
    # which would make this crawl skip the pages it had queued.
    if settings.crawler.frontier and not others_alive and (n := reset_frontier(settings)):
        logger.warning("cleared %d frontier key(s) left by a killed crawl", n)
    with session_scope(engine) as session:
        run = CrawlRun(
            status="running", host=this_host(), pid=os.getpid(), heartbeat_at=db_now(session)
        )
        session.add(run)
        session.flush()
        run_id = run.id or 0
    with session_scope(engine) as session:
        _claim_retries(session, run_id, tasks, settings.crawler.photo_retry_crawls)
    started = datetime.now(UTC)
    report = CrawlReport(on_change)
    for t in tasks:
        report.shop(t.key)
    if tasks:
        import_http_handler()
        scrapy_settings = {"VITRINA_RUN_ID": run_id, **(extra_scrapy_settings or {})}
        process = CrawlerProcess(for_crawl(settings, chosen, **scrapy_settings))
        for network, path in SPIDERS.items():
            mine = [t for t in tasks if t.network == network]
            if mine:
                process.crawl(load_object(path), tasks=mine, report=report)
        with Heartbeat(engine, run_id):
            process.start()
    finished = datetime.now(UTC)
    summary = report.summary(run_id, round((finished - started).total_seconds(), 3))
    with session_scope(engine) as session:
        crud.release_rejected_media(session, run_id)  # claimed, not reached (a shop stopped)
        row = session.get(CrawlRun, run_id)
        if row is not None:
            row.finished_at = finished
            row.status = summary.status
            row.shop_counts = summary.shop_rows()
            row.errors = summary.run_errors[:500]
            session.add(row)
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
    if proc.returncode not in (0, 1):  # 1: the crawl ran, some shops failed (in the summary)
        raise RuntimeError(f"crawl failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return CrawlSummary.from_json(proc.stdout)
