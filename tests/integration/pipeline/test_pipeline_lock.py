"""Only one pipeline at a time: the lock across real processes, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlmodel import select

from catalog.db import make_engine, session_scope
from catalog.locks import LockHeld, PipelineLock
from catalog.models import PipelineRun
from tests.support.cli import vitrina
from tests.support.common import write_config

HOLDER = """
import sys, time
from catalog.db import make_engine
from catalog.locks import PipelineLock
lock = PipelineLock(make_engine(sys.argv[1]))
lock.acquire()
print("locked", flush=True)
time.sleep(120)
"""


def _start_holder(db_url: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, db_url], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_pipeline_is_refused_and_lock_dies_with_its_holder(
    db_url: str, tmp_path: Path
) -> None:
    holder = _start_holder(db_url)
    engine = make_engine(db_url)
    try:
        with pytest.raises(LockHeld, match="another pipeline run holds the lock"):
            PipelineLock(engine).acquire()
        cfg = write_config(tmp_path, db_url)
        result = vitrina("--config", str(cfg), "run-nightly")
        assert result.returncode == 3, result.stdout + result.stderr
        assert "not started" in result.stdout and "holds the lock" in result.stdout
        with session_scope(engine) as s:  # the refused start recorded nothing
            assert s.exec(select(PipelineRun)).all() == []
    finally:
        holder.kill()  # SIGKILL: no chance to unlock; the OS / server must release it
        holder.wait()
    deadline = time.monotonic() + 10
    while True:
        try:
            with PipelineLock(engine):
                break
        except LockHeld:
            assert time.monotonic() < deadline, "lock not released after its holder died"
            time.sleep(0.2)
    # A different lock name (the scheduler's) is independent of the pipeline's.
    with PipelineLock(engine), PipelineLock(engine, name="scheduler"):
        pass
    engine.dispose()


def test_run_left_running_by_a_killed_process_is_marked_interrupted(
    sqlite_url: str, tmp_path: Path
) -> None:
    engine = make_engine(sqlite_url)
    with session_scope(engine) as s:
        s.add(PipelineRun(trigger="schedule", status="running"))
    cfg = write_config(tmp_path, sqlite_url, f'[schedule]\nlog_dir = "{tmp_path / "logs"}"\n')
    typo = vitrina("--config", str(cfg), "run-nightly", "--shop", "mastodon:nobody")
    assert typo.returncode == 2 and "no such shop" in typo.stderr  # refused before any run
    result = vitrina("--config", str(cfg), "run-nightly")
    assert result.returncode == 0, result.stdout + result.stderr
    with session_scope(engine) as s:
        runs = s.exec(select(PipelineRun).order_by(PipelineRun.id)).all()
    assert [r.status for r in runs] == ["interrupted", "ok"]
    assert runs[0].finished_at is not None
    assert "ended before the run finished" in runs[0].errors[0]["error"]
    engine.dispose()
