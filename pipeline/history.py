"""Reading the run history, shared by `vitrina runs`, /admin/runs and /metrics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from catalog.db import session_scope
from catalog.models import PipelineRun, utcnow
from catalog.records import RunRecord, RunStatus, RunTrigger


@dataclass
class RunView:
    id: int
    trigger: str  # a RunTrigger, or "crawl" for a crawl run by hand (vitrina_cli.crawl)
    status: str  # a RunStatus (a crawl's: a CrawlStatus)
    started_at: datetime
    finished_at: datetime | None
    seconds: float | None
    steps: dict[str, Any]
    stats: dict[str, Any]
    errors: list[Any]

    @property
    def duration(self) -> str:
        if self.seconds is None:
            return "running"
        m, s = divmod(int(self.seconds), 60)
        h, m = divmod(m, 60)
        return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def _aware(dt: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes for timezone-aware columns; they are stored in UTC.
    if dt is not None and dt.tzinfo is None:
        from datetime import UTC

        return dt.replace(tzinfo=UTC)
    return dt


def view(run: PipelineRun) -> RunView:
    started = _aware(run.started_at)
    finished = _aware(run.finished_at)
    assert run.id is not None and started is not None
    seconds = (finished - started).total_seconds() if finished else None
    record = RunRecord.from_row(run)  # a malformed row fails here, naming its field
    if finished is None and record.status is RunStatus.running:
        seconds = None
    return RunView(
        run.id, record.trigger.value, record.status.value, started, finished, seconds,
        record.step_dicts(), record.stats, record.error_dicts(),
    )  # fmt: skip


def recent_runs(
    engine: Engine, *, limit: int = 20, trigger: str | None = None, offset: int = 0
) -> list[RunView]:
    with session_scope(engine) as s:
        query = select(PipelineRun).order_by(col(PipelineRun.id).desc())
        if trigger:
            query = query.where(PipelineRun.trigger == trigger)
        return [view(r) for r in s.exec(query.offset(offset).limit(limit)).all()]


def get_run(engine: Engine, run_id: int) -> RunView | None:
    with session_scope(engine) as s:
        run = s.get(PipelineRun, run_id)
        return view(run) if run else None


def age_seconds(dt: datetime) -> float:
    return (utcnow() - _aware(dt)).total_seconds()  # type: ignore[operator]


def pipeline_state(engine: Engine) -> tuple[RunView | None, RunView | None, bool]:
    """(latest finished nightly run, latest successful one, is a nightly run going on);
    retraining runs are not nightly runs."""
    with session_scope(engine) as s:
        base = select(PipelineRun).where(PipelineRun.trigger != RunTrigger.retrain)
        order = col(PipelineRun.id).desc()
        last = s.exec(base.where(PipelineRun.status != RunStatus.running).order_by(order)).first()
        done = (RunStatus.ok, RunStatus.partial)
        good = s.exec(base.where(col(PipelineRun.status).in_(done)).order_by(order)).first()
        running = s.exec(base.where(PipelineRun.status == RunStatus.running)).first() is not None
        return (view(last) if last else None, view(good) if good else None, running)


def run_counts(engine: Engine) -> list[tuple[str, str, int]]:
    """(trigger, status, runs) for every pair recorded."""
    with session_scope(engine) as s:
        rows = s.exec(
            select(PipelineRun.trigger, PipelineRun.status, func.count()).group_by(
                PipelineRun.trigger, PipelineRun.status
            )
        ).all()
    return [(t, st, int(n)) for t, st, n in rows]
