"""One pipeline run: crawl every active shop → classify new photos → publish, recorded.

Each step's outcome goes into its `PipelineRun` row as it finishes, so `vitrina runs` and
/admin/runs show a run in progress too. A failing step is recorded and the run goes on with the
steps that still make sense (classifying what an interrupted crawl did store is still useful).
Counts come from the catalogue itself (before/after each step), not from parsing the children's
output, so they are right even when a child dies half-way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from catalog import crud
from catalog.config import Settings
from catalog.db import make_engine, session_scope
from catalog.locks import LockHeld, PipelineLock
from catalog.models import CrawlRun, Photo, PipelineRun, Post, Shop, utcnow
from catalog.records import (
    CrawlSummary,
    RunError,
    RunRecord,
    RunStatus,
    RunTrigger,
    StepStatus,
)
from pipeline.steps import ChildResult, run_child, run_children, vitrina_argv

__all__ = ["LockHeld", "RunOutcome", "run_pipeline", "STEPS"]

STEPS = ("crawl", "classify", "publish")

# Called as progress(step, message) while the run goes on (the CLI shows it with rich).
Progress = Callable[[str, str], None]


@dataclass
class RunOutcome:
    run_id: int
    status: RunStatus  # ok | partial | failed | interrupted
    steps: dict[str, Any]
    stats: dict[str, Any]
    errors: list[Any]
    seconds: float


def _shop_counts(engine: Engine) -> dict[str, dict[str, int]]:
    """{"network:handle": {"posts": n, "photos": n}} for every shop."""
    with session_scope(engine) as s:
        shops = {
            sid: f"{net}:{h}"
            for sid, net, h in s.exec(select(Shop.id, Shop.network, Shop.handle))
            if sid is not None  # stored rows: always (SQLModel types the key optional)
        }
        posts = dict(
            s.exec(select(col(Post.shop_id), func.count()).group_by(col(Post.shop_id))).all()
        )
        photos = dict(
            s.exec(
                select(col(Post.shop_id), func.count(col(Photo.id)))
                .join(Photo, col(Photo.post_id) == col(Post.id))
                .group_by(col(Post.shop_id))
            ).all()
        )
    return {
        key: {"posts": posts.get(sid, 0), "photos": photos.get(sid, 0)}
        for sid, key in shops.items()
    }


def _status_counts(engine: Engine) -> dict[str, int]:
    with session_scope(engine) as s:
        return crud.photos_per_status(s)


def _labelled_since(engine: Engine, since: datetime) -> dict[str, int]:
    with session_scope(engine) as s:
        return crud.photos_per_status(s, labelled_since=since)


def _label_states_since(engine: Engine, since: datetime) -> dict[str, int]:
    """Labels of the photos labelled since `since`, keyed "<head>_<state>" (colour_review)."""
    out: dict[str, int] = {}
    with session_scope(engine) as s:
        for head, column in (("category", Photo.category_state), ("colour", Photo.colour_state)):
            rows = s.exec(
                select(column, func.count())
                .where(col(Photo.labelled_at).is_not(None), col(Photo.labelled_at) >= since)
                .group_by(column)
            ).all()
            for state, n in rows:
                out[f"{head}_{state}"] = n
    return out


def _classify_stats(labelled: dict[str, int], states: dict[str, int]) -> dict[str, int]:
    """The classify step's figures: photos no moderator needs to see vs queued, and labels
    decided automatically vs queued, per head."""
    queued = ("needs_review", "partly_accepted")
    stats = {
        "labelled": sum(labelled.values()),
        "auto_accepted": sum(n for st, n in labelled.items() if st not in (*queued, "pending")),
        "needs_review": sum(labelled.get(st, 0) for st in queued),
        "partly_accepted": labelled.get("partly_accepted", 0),
    }
    for head in ("category", "colour"):
        for state in ("auto", "review"):
            stats[f"{head}_{state}"] = states.get(f"{head}_{state}", 0)
    return stats


def _promoted_since_last_classify(engine: Engine, current_run: int) -> bool:
    """Did retraining promote a model after the last pipeline run whose classify step ran?"""
    with session_scope(engine) as s:
        promoted = s.exec(
            select(func.max(PipelineRun.finished_at)).where(
                PipelineRun.trigger == RunTrigger.retrain,
                PipelineRun.status == RunStatus.promoted,
            )
        ).one()
        if promoted is None:
            return False
        runs = s.exec(
            select(PipelineRun)
            .where(PipelineRun.trigger != RunTrigger.retrain, PipelineRun.id != current_run)
            .order_by(col(PipelineRun.id).desc())
            .limit(50)
        ).all()

    def classified(run: PipelineRun) -> bool:
        step = RunRecord.from_row(run).steps.get("classify")
        return step is not None and step.status is StepStatus.ok

    last = next((r for r in runs if classified(r)), None)
    return last is None or _utc(last.started_at) < _utc(promoted)


def _utc(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)  # SQLite hands back naive UTC


def close_stale_runs(engine: Engine, *, retrain: bool = False) -> int:
    """Runs left 'running' by a killed process: we hold their lock, so none of them is alive.

    Retraining has its own lock (it may overlap a nightly run), hence the split by trigger.
    """
    is_retrain = col(PipelineRun.trigger) == RunTrigger.retrain
    with session_scope(engine) as s:
        stale = s.exec(
            select(PipelineRun).where(
                col(PipelineRun.status) == RunStatus.running, is_retrain if retrain else ~is_retrain
            )
        ).all()
        for run in stale:
            record = RunRecord.from_row(run)
            record.status = RunStatus.interrupted
            record.errors.append(
                RunError(step="-", error="the process ended before the run finished")
            )
            record.write(run)
            run.finished_at = run.finished_at or utcnow()
            s.add(run)
    return len(stale)


def _child_detail(res: ChildResult) -> dict[str, Any]:
    return {
        "returncode": res.returncode,
        "log": str(res.log_path),
        **({"timed_out": True} if res.timed_out else {}),
    }


def _child_error(step: str, res: ChildResult, timeout: float) -> dict[str, Any]:
    if res.timed_out:
        msg = f"stopped after {timeout:.0f} s (schedule.step_timeout_seconds)"
    else:
        msg = f"exited with status {res.returncode}"
    return {"step": step, "error": msg, "tail": res.tail[-12:], "log": str(res.log_path)}


class _Run:
    """The state of one run while it executes; saves the row after every step."""

    def __init__(self, settings: Settings, engine: Engine, trigger: str, progress: Progress):
        self.settings, self.engine, self.progress = settings, engine, progress
        self.trigger = RunTrigger(trigger)
        self.steps: dict[str, Any] = {}
        self.stats: dict[str, Any] = {}
        self.errors: list[Any] = []
        with session_scope(engine) as s:
            row = PipelineRun()
            RunRecord(trigger=self.trigger, status=RunStatus.running).write(row)
            s.add(row)
            s.flush()
            assert row.id is not None
            self.id = row.id
            self.started_at = row.started_at
        self.log_dir = settings.path(settings.schedule.log_dir) / f"run-{self.id}"
        self.timeout = float(settings.schedule.step_timeout_seconds)

    def save(self, status: str = RunStatus.running, finished: bool = False) -> None:
        record = RunRecord(
            trigger=self.trigger,
            status=RunStatus(status),
            steps=self.steps,
            stats=self.stats,
            errors=self.errors,
        )  # validated before anything is stored
        with session_scope(self.engine) as s:
            row = s.get(PipelineRun, self.id)
            assert row is not None
            record.write(row)
            if finished:
                row.finished_at = utcnow()
            s.add(row)

    def child(self, step: str, *args: str) -> ChildResult:
        argv = vitrina_argv(self.settings, *args)
        return run_child(argv, self.log_dir / f"{step}.log", timeout=self.timeout)

    # -- steps --------------------------------------------------------------------------------
    def crawl(self, shops: list[str] | None) -> dict[str, Any]:
        with session_scope(self.engine) as s:
            # Shops added to config.toml since the last run are crawled tonight, as after `init`.
            crud.sync_shops_from_config(s, self.settings.shops)
            active = s.exec(select(func.count()).select_from(Shop).where(Shop.active)).one()
        if not active:
            return {"status": "skipped", "reason": "no active shops"}
        before = _shop_counts(self.engine)
        with session_scope(self.engine) as s:
            # Crawl runs recorded after this id are this step's (ids, not clocks: a crawl
            # process may run on a machine whose clock differs).
            last_crawl = s.exec(select(func.max(CrawlRun.id))).one() or 0
        args = ["crawl"]
        for shop in shops or []:
            args += ["--shop", shop]
        n = self.settings.schedule.crawl_processes
        note = ""
        if n > 1 and not self.settings.crawler.frontier:
            note = "crawl_processes > 1 needs [crawler] frontier (Redis); ran one process"
            n = 1
        self.progress("crawl", f"crawling {len(shops) if shops else active} shop(s)")
        if self.settings.crawler.frontier:
            from pipeline.frontier import reset_frontier

            reset_frontier(self.settings)
        argv = vitrina_argv(self.settings, *args)
        logs = [self.log_dir / ("crawl.log" if n == 1 else f"crawl-{i + 1}.log") for i in range(n)]
        results = run_children([(argv, log) for log in logs], timeout=self.timeout)
        # One result for the step: the worst exit status, the longest time, every log.
        res = max(results, key=lambda r: (not r.ok, r.timed_out, r.seconds))
        after = _shop_counts(self.engine)
        per_shop: dict[str, Any] = {}
        for key, now in after.items():
            was = before.get(key, {"posts": 0, "photos": 0})
            per_shop[key] = {
                "new_posts": now["posts"] - was["posts"],
                "new_photos": now["photos"] - was["photos"],
            }
        # The crawler's own record: per-shop errors (refused photos, API failures) and status.
        with session_scope(self.engine) as s:
            crawls = s.exec(
                select(CrawlRun).where(col(CrawlRun.id) > last_crawl).order_by(col(CrawlRun.id))
            ).all()
            crawl_ids = [c.id for c in crawls]
            for c in crawls:
                record = CrawlSummary.from_row(c)
                for key, result in record.shops.items():
                    shop = per_shop.setdefault(key, {"new_posts": 0, "new_photos": 0})
                    # The crawler's view adds what the catalogue cannot show: refused photos,
                    # duplicates skipped, and a shop's state (ok, error, auth, inactive).
                    for k in ("duplicates", "near_duplicates", "rejected"):
                        shop[k] = shop.get(k, 0) + getattr(result, k)
                    shop["errors"] = shop.get("errors", 0) + len(result.errors)
                    shop["status"] = result.status.value
                    for msg in result.errors:
                        self.errors.append({"step": "crawl", "shop": key, "error": msg})
                for err in record.run_errors:
                    self.errors.append({"step": "crawl", "error": err})
        self.stats["shops"] = per_shop
        self.stats["new_posts"] = sum(v["new_posts"] for v in per_shop.values())
        self.stats["new_photos"] = sum(v["new_photos"] for v in per_shop.values())
        detail = {**_child_detail(res), "crawl_runs": crawl_ids, "seconds": round(res.seconds, 1)}
        if n > 1:
            detail["processes"] = n
            detail["logs"] = [str(r.log_path) for r in results]
        if note:
            detail["note"] = note
        # Exit 1: the crawl ran and some shops failed; their errors are in crawl_runs (above).
        if not res.ok and res.returncode != 1:
            self.errors.append(_child_error("crawl", res, self.timeout))
            return {"status": "failed", **detail}
        return {"status": "ok", **detail}

    def classify(self) -> dict[str, Any]:
        pending = _status_counts(self.engine).get("pending", 0)
        # A model promoted by retraining relabels what no moderator has touched (`classify`
        # does that by itself), so the step runs then even with no new photos.
        promoted = _promoted_since_last_classify(self.engine, self.id)
        if not pending and not promoted:
            for key in _classify_stats({}, {}):
                if key != "labelled":
                    self.stats.setdefault(key, 0)
            return {"status": "skipped", "reason": "no new photos to label"}
        started = utcnow()
        what = f"{pending} new photo(s)" + (
            " and relabelling for the new model" if promoted else ""
        )
        self.progress("classify", f"labelling {what}")
        args = ["classify"]
        from pipeline.retrain import current_model

        model = current_model(self.settings)
        if model is not None and not self.settings.classifier.model_dir:
            args += ["--model", str(model)]  # the model promoted by retraining
        res = self.child("classify", *args)
        self.stats.update(
            _classify_stats(
                _labelled_since(self.engine, started), _label_states_since(self.engine, started)
            )
        )
        detail = {**_child_detail(res), "seconds": round(res.seconds, 1)}
        if not res.ok:
            self.errors.append(_child_error("classify", res, self.timeout))
            return {"status": "failed", **detail}
        return {"status": "ok", **detail}

    def publish(self) -> dict[str, Any]:
        from pipeline.publish import refresh

        self.progress("publish", "refreshing thumbnails and the search index")
        t0 = time.monotonic()
        result = refresh(self.settings, self.engine)
        for err in result.pop("errors", []):
            self.errors.append({"step": "publish", "error": err})
        status = "failed" if result.pop("failed", False) else "ok"
        return {"status": status, **result, "seconds": round(time.monotonic() - t0, 1)}


def _final_status(steps: dict[str, Any]) -> RunStatus:
    states = [StepStatus(v.get("status")) for v in steps.values()]
    if StepStatus.interrupted in states:
        return RunStatus.interrupted
    failed = states.count(StepStatus.failed)
    ran = failed + states.count(StepStatus.ok)
    if not failed:
        return RunStatus.ok
    return RunStatus.failed if failed == ran else RunStatus.partial


def run_pipeline(
    settings: Settings,
    *,
    trigger: str = RunTrigger.manual,
    engine: Engine | None = None,
    shops: list[str] | None = None,
    progress: Progress | None = None,
) -> RunOutcome:
    """Run crawl → classify → publish once; raises LockHeld if another run is going on."""
    own_engine = engine is None
    engine = engine or make_engine(settings.database_url, echo=settings.database.echo)
    progress = progress or (lambda _step, _msg: None)
    t0 = time.monotonic()
    try:
        with PipelineLock(engine):
            close_stale_runs(engine)
            run = _Run(settings, engine, trigger, progress)
            current = "-"
            try:
                for step in STEPS:
                    current = step
                    run.steps[step] = {"status": "running", "started_at": utcnow().isoformat()}
                    run.save()
                    started = run.steps[step]["started_at"]
                    try:
                        if step == "crawl":
                            result = run.crawl(shops)
                        elif step == "classify":
                            result = run.classify()
                        else:
                            result = run.publish()
                    except Exception as exc:  # noqa: BLE001 - recorded; the next step still runs
                        result = {"status": "failed"}
                        run.errors.append({"step": step, "error": f"{type(exc).__name__}: {exc}"})
                    run.steps[step] = {"started_at": started, **result}
                    progress(step, result["status"])
                    run.save()
                queue = _status_counts(engine)
                # Photos with a label waiting for a moderator (partly accepted ones included).
                run.stats["review_queue"] = queue.get("needs_review", 0) + queue.get(
                    "partly_accepted", 0
                )
                run.stats["pending"] = queue.get("pending", 0)
                status = _final_status(run.steps)
            except BaseException:
                # Ctrl-C / SIGTERM: the child is already stopped (run_child); say so in the record.
                run.steps[current] = {**run.steps.get(current, {}), "status": "interrupted"}
                run.errors.append({"step": current, "error": "interrupted (Ctrl-C or SIGTERM)"})
                run.save(RunStatus.interrupted, finished=True)
                raise
            run.save(status, finished=True)
            return RunOutcome(
                run.id, status, run.steps, run.stats, run.errors, time.monotonic() - t0
            )
    finally:
        if own_engine:
            engine.dispose()
