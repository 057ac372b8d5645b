"""The scheduler against a real job store: missed runs coalesce, restarts do not repeat a run,
config changes reach the stored jobs, and only one scheduler runs per catalogue."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from sqlmodel import select

from catalog.config import Settings, load_settings
from catalog.db import make_engine, session_scope
from catalog.models import PipelineRun
from scheduler import JOBSTORE_TABLE, NIGHTLY, RETRAIN, Scheduler
from tests.support.common import write_config
from tests.support.pipeline_support import read_until


def _config(tmp_path: Path, db_url: str, schedule: str = "") -> tuple[Settings, str]:
    extra = (
        "[schedule]\n"
        'cron = "0 3 * * *"\ntimezone = "Europe/Berlin"\n'
        # Four days: a machine off for three nights still catches up (once).
        "misfire_grace_seconds = 345600\n"
        f'log_dir = "{tmp_path / "logs"}"\n' + schedule
    )
    path = write_config(tmp_path, db_url, extra)
    return load_settings(path, environ={}), str(path)


def _schedule_runs(db_url: str) -> list[PipelineRun]:
    engine = make_engine(db_url)
    with session_scope(engine) as s:
        runs = s.exec(select(PipelineRun).where(PipelineRun.trigger == "schedule")).all()
    engine.dispose()
    return list(runs)


def _set_next_run(db_url: str, job_id: str, when: datetime) -> None:
    """Edit the stored job directly, as if the scheduler had been down since `when`."""
    engine = make_engine(db_url)
    store = SQLAlchemyJobStore(engine=engine, tablename=JOBSTORE_TABLE)
    store.start(None, "default")  # type: ignore[arg-type]
    job = store.lookup_job(job_id)
    job.next_run_time = when
    store.update_job(job)
    engine.dispose()


def _wait_for(pred, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_missed_runs_coalesce_into_one_and_restart_does_not_repeat(
    db_url: str, tmp_path: Path
) -> None:
    settings, cfg = _config(tmp_path, db_url)
    first = Scheduler(settings, cfg)
    first.start()
    job = first.scheduler.get_job(NIGHTLY)
    nxt = job.next_run_time
    assert (nxt.hour, nxt.minute, str(nxt.tzinfo)) == (3, 0, "Europe/Berlin")
    assert job.max_instances == 1 and job.coalesce and job.misfire_grace_time == 345600
    first.stop()

    # The machine was off: the stored next run is three nights ago (three due times missed).
    missed = nxt - timedelta(days=3)
    _set_next_run(db_url, NIGHTLY, missed)

    third = Scheduler(settings, cfg)
    third.start()
    try:
        _wait_for(lambda: any(r.status != "running" for r in _schedule_runs(db_url)))
        time.sleep(2)  # room for a wrongly repeated run to show up
        runs = _schedule_runs(db_url)
        assert len(runs) == 1 and runs[0].status == "ok", [(r.id, r.status) for r in runs]
        assert third.scheduler.get_job(NIGHTLY).next_run_time == nxt
    finally:
        third.stop()

    # Restart: the job store remembers the run happened; nothing runs again.
    fourth = Scheduler(settings, cfg)
    notes = fourth.start()
    try:
        assert notes == []  # unchanged config: the stored job is kept as it is
        time.sleep(3)
        assert len(_schedule_runs(db_url)) == 1
        assert fourth.scheduler.get_job(NIGHTLY).next_run_time == nxt
    finally:
        fourth.stop()


def test_run_missed_beyond_grace_is_skipped_until_next_time(
    sqlite_url: str, tmp_path: Path
) -> None:
    settings, cfg = _config(tmp_path, sqlite_url)
    settings.schedule.misfire_grace_seconds = 60
    sched = Scheduler(settings, cfg)
    sched.start()
    nxt = sched.scheduler.get_job(NIGHTLY).next_run_time
    sched.stop()
    _set_next_run(sqlite_url, NIGHTLY, nxt - timedelta(days=1))
    sched = Scheduler(settings, cfg)
    sched.start()
    try:
        _wait_for(lambda: sched.scheduler.get_job(NIGHTLY).next_run_time == nxt, 10)
        time.sleep(1)
        assert _schedule_runs(sqlite_url) == []
    finally:
        sched.stop()


def test_config_changes_update_the_stored_jobs(sqlite_url: str, tmp_path: Path) -> None:
    settings, cfg = _config(tmp_path, sqlite_url)
    sched = Scheduler(settings, cfg)
    sched.start()
    assert {j.id for j in sched.scheduler.get_jobs()} == {NIGHTLY}
    sched.stop()

    settings, cfg = _config(
        tmp_path, sqlite_url, 'retrain_enabled = true\nretrain_cron = "30 4 * * sun"\n'
    )
    settings.schedule.cron = "15 2 * * *"
    sched = Scheduler(settings, cfg)
    notes = sched.start()
    try:
        assert any("rescheduled job 'nightly'" in n for n in notes)
        assert any("added job 'retrain'" in n for n in notes)
        nightly = sched.scheduler.get_job(NIGHTLY).next_run_time
        retrain = sched.scheduler.get_job(RETRAIN).next_run_time
        assert (nightly.hour, nightly.minute) == (2, 15)
        assert (retrain.weekday(), retrain.hour, retrain.minute) == (6, 4, 30)
    finally:
        sched.stop()

    settings.schedule.enabled = False
    sched = Scheduler(settings, cfg)
    notes = sched.start()
    try:
        assert any("removed job 'nightly'" in n for n in notes)
        assert {j.id for j in sched.scheduler.get_jobs()} == {RETRAIN}
    finally:
        sched.stop()


def _start_schedule(cfg: str, *extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VITRINA_")}
    env.update(COLUMNS="200", NO_COLOR="1")
    return subprocess.Popen(
        [sys.executable, "-m", "vitrina_cli.main", "--config", cfg, "schedule", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def test_vitrina_schedule_refuses_a_second_scheduler_and_stops_cleanly(
    db_url: str, tmp_path: Path
) -> None:
    _, cfg = _config(tmp_path, db_url)
    first = _start_schedule(cfg, "--run-now")
    try:
        out = read_until(first, "scheduler running")
        assert "next nightly run: " in out and "03:00 CET" in out
        # --run-now: one run at once, then the schedule goes on from the stored trigger.
        out = read_until(first, "next nightly run: ")
        assert "job nightly done: {'run_id': 1, 'status': 'ok'}" in out
        assert "03:00 CET" in out
        assert [r.status for r in _schedule_runs(db_url)] == ["ok"]
        second = _start_schedule(cfg)
        rest, _ = second.communicate(timeout=60)
        assert second.returncode == 3, rest
        assert "a scheduler already runs for this catalogue" in rest
        first.send_signal(signal.SIGTERM)
        tail, _ = first.communicate(timeout=60)
        assert first.returncode == 0, tail
        assert "scheduler stopped" in tail
    finally:
        if first.poll() is None:
            first.kill()
    assert datetime.now().year >= 2024  # sanity: the clock the triggers rely on
