"""The scheduler behind `vitrina schedule`: the nightly pipeline and the weekly retraining.

APScheduler 3 with its jobs persisted in the catalogue database (table `apscheduler_jobs`), so
a restart knows when each job last ran and what it missed:

* `max_instances=1`: a run that is still going when the next one is due is not doubled;
* `coalesce=True`: several missed runs (machine off for three nights) run once, not three times;
* `misfire_grace_time`: a run missed by less than `[schedule] misfire_grace_seconds` still runs
  when the scheduler comes back; an older one is skipped until the next due time.

The jobs re-read config.toml every time they fire, so edits apply without a restart; a change of
the cron expression or time zone does need one (the trigger is stored with the job).
Only one scheduler may run per catalogue (a lock like the pipeline's); a second one says so.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.engine import Engine

from catalog.config import Settings, load_settings
from catalog.db import make_engine

log = logging.getLogger("vitrina.scheduler")

JOBSTORE_TABLE = "apscheduler_jobs"
NIGHTLY = "nightly"
RETRAIN = "retrain"


# ---- the jobs (module-level: the job store records them as "scheduler:nightly_job") ---------


def nightly_job(config_path: str | None) -> dict[str, Any]:
    """One scheduled pipeline run; a run already going elsewhere makes this one a no-op."""
    from pipeline.runner import LockHeld, run_pipeline
    from pipeline.steps import Interrupted

    settings = load_settings(config_path)
    try:
        outcome = run_pipeline(settings, trigger="schedule")
    except LockHeld as exc:
        log.warning("nightly run skipped: %s", exc)
        return {"skipped": str(exc)}
    except Interrupted:
        return {"interrupted": "the scheduler is stopping; the run is recorded as interrupted"}
    log.info(
        "nightly run #%d %s in %.0f s: %s new post(s), %s new photo(s), %s auto-labelled, "
        "%s to review, %d error(s)",
        outcome.run_id,
        outcome.status,
        outcome.seconds,
        outcome.stats.get("new_posts", 0),
        outcome.stats.get("new_photos", 0),
        outcome.stats.get("auto_accepted", 0),
        outcome.stats.get("needs_review", 0),
        len(outcome.errors),
    )
    return {"run_id": outcome.run_id, "status": outcome.status.value}


def retrain_job(config_path: str | None) -> dict[str, Any]:
    from pipeline.retrain import retrain

    settings = load_settings(config_path)
    result = retrain(settings, trigger="retrain")
    log.info("retraining: %s", result.summary)
    return {"status": result.status}


# ---- building the scheduler ---------------------------------------------------------------


def _trigger(cron: str, timezone: str) -> CronTrigger:
    return CronTrigger.from_crontab(cron, timezone=timezone)


def desired_jobs(settings: Settings) -> dict[str, tuple[Callable[..., Any], CronTrigger]]:
    sched = settings.schedule
    jobs: dict[str, tuple[Callable[..., Any], CronTrigger]] = {}
    if sched.enabled:
        jobs[NIGHTLY] = (nightly_job, _trigger(sched.cron, sched.timezone))
    if sched.retrain_enabled:
        jobs[RETRAIN] = (retrain_job, _trigger(sched.retrain_cron, sched.timezone))
    return jobs


def sync_jobs(
    scheduler: BackgroundScheduler, settings: Settings, config_path: str | None
) -> list[str]:
    """Make the stored jobs match the settings; returns one line per change for the log.

    A stored job whose trigger and options are unchanged is left alone: its stored next run
    time is what lets a restart catch up a missed run (once) instead of forgetting it.
    """
    grace = settings.schedule.misfire_grace_seconds
    notes = []
    wanted = desired_jobs(settings)
    for job in scheduler.get_jobs():
        if job.id not in wanted:
            job.remove()
            notes.append(f"removed job {job.id!r} (disabled in [schedule])")
    for job_id, (func, trigger) in wanted.items():
        options = {
            "args": (config_path,),
            "max_instances": 1,
            "coalesce": True,
            "misfire_grace_time": grace,
            "name": f"vitrina {job_id}",
        }
        job = scheduler.get_job(job_id)
        if job is None:
            scheduler.add_job(func, trigger, id=job_id, **options)
            notes.append(f"added job {job_id!r}: {trigger}")
            continue
        if str(job.trigger) != str(trigger):
            job.reschedule(trigger)
            notes.append(f"rescheduled job {job_id!r}: {trigger}")
        changed = {k: v for k, v in options.items() if getattr(job, k) != v}
        if job.func is not func:
            changed["func"] = func
        if changed:
            job.modify(**changed)
            notes.append(f"updated job {job_id!r}: {', '.join(sorted(changed))}")
    return notes


def build_scheduler(settings: Settings, engine: Engine | None = None) -> BackgroundScheduler:
    """A not-yet-started scheduler whose job store is the catalogue database."""
    engine = engine or make_engine(settings.database_url)
    return BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOBSTORE_TABLE)},
        # One thread per job kind is enough: max_instances=1 and at most two kinds of job.
        executors={"default": ThreadPoolExecutor(max_workers=2)},
        job_defaults={"max_instances": 1, "coalesce": True},
        timezone=settings.schedule.timezone,
    )


class Scheduler:
    """`vitrina schedule`: start, report, wait for a stop request, stop cleanly."""

    def __init__(
        self,
        settings: Settings,
        config_path: str | None,
        *,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.config_path = config_path
        self.engine = make_engine(settings.database_url)
        self.scheduler = build_scheduler(settings, self.engine)
        self.say = on_event or (lambda msg: log.info("%s", msg))
        self.stopped = threading.Event()
        self.stopping = False

    def start(self) -> list[str]:
        # Paused first: the jobs are synced with config.toml before anything may fire.
        self.scheduler.start(paused=True)
        notes = sync_jobs(self.scheduler, self.settings, self.config_path)
        self.scheduler.add_listener(self._on_job, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        self.scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED)
        self.scheduler.resume()
        return notes

    def next_runs(self) -> dict[str, datetime | None]:
        return {job.id: job.next_run_time for job in self.scheduler.get_jobs()}

    def _on_job(self, event: JobExecutionEvent) -> None:
        if event.exception is not None:
            self.say(
                f"job {event.job_id} failed: {type(event.exception).__name__}: {event.exception}"
            )
        else:
            self.say(f"job {event.job_id} done: {event.retval}")
        if self.stopping:
            # shutdown() holds the job store lock while it waits for this job: no lookups now.
            return
        job = self.scheduler.get_job(event.job_id)
        if job is not None:
            self.say(f"next {event.job_id} run: {job.next_run_time:%Y-%m-%d %H:%M %Z}")

    def _on_missed(self, event: JobExecutionEvent) -> None:
        self.say(
            f"job {event.job_id} missed its run of {event.scheduled_run_time:%Y-%m-%d %H:%M %Z} "
            f"by more than {self.settings.schedule.misfire_grace_seconds} s; waiting for the next"
        )

    def stop(self) -> None:
        """Stop a running step (recorded as interrupted), then the scheduler itself."""
        from pipeline.steps import STOP

        self.stopping = True
        STOP.set()
        try:
            self.scheduler.shutdown(wait=True)
        finally:
            STOP.clear()
            self.engine.dispose()
            self.stopped.set()
