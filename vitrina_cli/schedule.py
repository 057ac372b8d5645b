"""`vitrina schedule`: run the nightly pipeline (and weekly retraining) on their cron schedule."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime
from types import FrameType

import typer

from vitrina_cli.common import console, engine_from, fail, settings_from

EXIT_BUSY = 3


def schedule(
    ctx: typer.Context,
    run_now: bool = typer.Option(
        False, "--run-now", help="Also start one pipeline run right away."
    ),
) -> None:
    """Run the scheduler in the foreground until Ctrl-C or SIGTERM (one per catalogue)."""
    from catalog.locks import LockHeld, PipelineLock
    from scheduler import NIGHTLY, Scheduler

    settings = settings_from(ctx)
    engine = engine_from(ctx)  # the job store lives beside a schema at head
    if not (settings.schedule.enabled or settings.schedule.retrain_enabled):
        fail("nothing to schedule: [schedule] enabled and retrain_enabled are both false", code=1)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    lock = PipelineLock(engine, name="scheduler")
    try:
        lock.acquire()
    except LockHeld as exc:
        console.print(f"[yellow]not started:[/] a scheduler already runs for this catalogue: {exc}")
        raise typer.Exit(EXIT_BUSY) from None
    config_path = None if settings.source == "<defaults>" else settings.source

    def say(msg: str) -> None:
        console.print(f"[dim]{datetime.now():%H:%M:%S}[/] {msg}", highlight=False)

    sched = Scheduler(settings, config_path, on_event=say)
    stop = threading.Event()

    def on_signal(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for note in sched.start():
            say(note)
        for job_id, when in sched.next_runs().items():
            say(f"next {job_id} run: {when:%Y-%m-%d %H:%M %Z}" if when else f"{job_id}: paused")
        if run_now and settings.schedule.enabled:
            sched.scheduler.modify_job(
                NIGHTLY, next_run_time=datetime.now(sched.scheduler.timezone)
            )
            say("starting a run now (--run-now)")
        say(f"scheduler running (time zone {settings.schedule.timezone}); Ctrl-C stops it")
        while not stop.wait(1.0):
            pass
        say("stopping: a running step is stopped and its run recorded as interrupted…")
    finally:
        sched.stop()
        lock.release()
        for s, handler in previous.items():
            signal.signal(s, handler)
    console.print("[green]✓[/] scheduler stopped")
