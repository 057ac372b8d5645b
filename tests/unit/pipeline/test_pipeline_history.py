"""pipeline.history.view: a stored run as `vitrina runs`, /admin/runs and /metrics show it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from catalog.models import PipelineRun
from pipeline.history import view

START = datetime(2026, 11, 1, 2, 0, 0)  # naive, the way SQLite gives it back (stored in UTC)


def run(seconds: float | None, **fields: object) -> PipelineRun:
    finished = START + timedelta(seconds=seconds) if seconds is not None else None
    base: dict[str, object] = {"id": 7, "trigger": "schedule", "status": "ok"}
    return PipelineRun(started_at=START, finished_at=finished, **{**base, **fields})


def test_a_finished_run_reads_back_in_utc_with_its_duration() -> None:
    v = view(run(3723, stats={"new_photos": 4}))
    assert v.started_at == START.replace(tzinfo=UTC) and v.finished_at.tzinfo is UTC
    assert (v.id, v.trigger, v.status, v.seconds) == (7, "schedule", "ok", 3723)
    assert v.duration == "1h02m" and v.stats == {"new_photos": 4}


@pytest.mark.parametrize(("seconds", "shown"), [(5.9, "5s"), (65, "1m05s"), (7200, "2h00m")])
def test_durations_read_at_a_glance(seconds: float, shown: str) -> None:
    assert view(run(seconds)).duration == shown


def test_a_running_run_has_no_duration_yet() -> None:
    v = view(run(None, status="running"))
    assert v.seconds is None and v.duration == "running"


@pytest.mark.parametrize("fields", [{"status": "done"}, {"trigger": "cron"}])
def test_a_malformed_row_is_refused_naming_the_field(fields: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match=next(iter(fields))):
        view(run(1, **fields))
