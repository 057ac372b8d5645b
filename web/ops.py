"""Operator routes: /healthz, Prometheus /metrics, and the run history at /admin/runs.

/healthz and /metrics are unauthenticated (load balancers and Prometheus scrape them; they reveal
counts only, no content); /admin/runs needs a moderator login. Everything is read from the
catalogue, so any web process answers the same, whichever machine ran the pipeline.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text
from sqlalchemy.engine import Engine

from catalog import crud
from catalog.config import Settings
from catalog.db import current_revision, session_scope
from catalog.records import RunStatus
from catalog.taxonomy import REVIEW_STATUSES, ReviewStatus
from pipeline.history import get_run, pipeline_state, recent_runs, run_counts
from web.auth import require_moderator

router = APIRouter(tags=["operations"])

PAGE = 25


def _engine(request: Request) -> Engine:
    return request.app.state.engine


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _ts(dt: datetime | None) -> float | None:
    return dt.timestamp() if dt else None


def _last_due(settings: Settings, now: datetime) -> datetime | None:
    """The latest scheduled start that should have happened by now (grace included)."""
    from apscheduler.triggers.cron import CronTrigger

    if not settings.schedule.enabled:
        return None
    trigger = CronTrigger.from_crontab(settings.schedule.cron, timezone=settings.schedule.timezone)
    horizon = now - timedelta(seconds=settings.schedule.misfire_grace_seconds)
    # Walk forward from a week back; capped so an every-minute cron stays cheap.
    t = trigger.get_next_fire_time(None, horizon - timedelta(days=7))
    last = None
    for _ in range(20000):
        if t is None or t > horizon:
            break
        last = t
        t = trigger.get_next_fire_time(t, t + timedelta(seconds=1))
    return last


@router.get("/healthz", include_in_schema=False)
def healthz(request: Request) -> JSONResponse:
    """200 while the catalogue answers (status "degraded" when the nightly run is overdue)."""
    engine, settings = _engine(request), _settings(request)
    t0 = time.monotonic()
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        schema = current_revision(engine)
        last, good, running = pipeline_state(engine)
    except Exception as exc:  # noqa: BLE001 - the point is to report it, not to crash
        return JSONResponse(
            {"status": "down", "database": f"error: {type(exc).__name__}"}, status_code=503
        )
    now = datetime.now(UTC)
    due = _last_due(settings, now)
    overdue = bool(due and not running and (good is None or good.started_at < due))
    body: dict[str, Any] = {
        "status": "degraded" if overdue else "ok",
        "database": "ok",
        "database_ms": round((time.monotonic() - t0) * 1000, 1),
        "schema": schema,
        "pipeline": {
            "running": running,
            "last_run": {"id": last.id, "status": last.status, "finished_at": last.finished_at}
            if last
            else None,
            "last_success_at": good.started_at if good else None,
            "overdue": overdue,
        },
    }
    return JSONResponse(_jsonable(body))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    return value


# ---- Prometheus ---------------------------------------------------------------------------


class _Metrics:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(
        self,
        name: str,
        kind: str,
        help_: str,
        samples: Sequence[tuple[dict[str, str], float | None]],
    ) -> None:
        self.lines += [f"# HELP {name} {help_}", f"# TYPE {name} {kind}"]
        for labels, value in samples:
            if value is None:
                continue
            lab = ",".join(f'{k}="{_esc(v)}"' for k, v in labels.items())
            self.lines.append(f"{name}{{{lab}}} {value:g}" if lab else f"{name} {value:g}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> PlainTextResponse:
    engine = _engine(request)
    m = _Metrics()
    with session_scope(engine) as s:
        shops = crud.shops_by_active(s)
        posts = crud.counts(s)["posts"]
        photos = crud.photos_per_status(s)
    runs = run_counts(engine)
    last, good, running = pipeline_state(engine)
    m.add(
        "vitrina_shops",
        "gauge",
        "Shops followed.",
        [({"active": "true"}, shops.get(True, 0)), ({"active": "false"}, shops.get(False, 0))],
    )
    m.add("vitrina_posts", "gauge", "Posts in the catalogue.", [({}, posts)])
    statuses = tuple(ReviewStatus)
    m.add(
        "vitrina_photos",
        "gauge",
        "Photos in the catalogue by review status.",
        [({"status": st}, photos.get(st, 0)) for st in sorted(set(statuses) | set(photos))],
    )
    m.add(
        "vitrina_review_queue",
        "gauge",
        "Photos with a label waiting for a moderator.",
        [({}, sum(photos.get(st, 0) for st in REVIEW_STATUSES))],
    )
    m.add(
        "vitrina_pipeline_runs_total",
        "counter",
        "Pipeline runs recorded, by trigger and final status.",
        [({"trigger": t, "status": st}, n) for t, st, n in runs],
    )
    m.add(
        "vitrina_pipeline_running", "gauge", "1 while a pipeline run is going on.", [({}, running)]
    )
    if last is not None:
        st = last.stats
        m.add(
            "vitrina_pipeline_last_run_timestamp_seconds",
            "gauge",
            "Start of the latest finished run (Unix time).",
            [({"status": last.status}, _ts(last.started_at))],
        )
        m.add(
            "vitrina_pipeline_last_run_duration_seconds",
            "gauge",
            "Duration of the latest finished run.",
            [({}, last.seconds)],
        )
        m.add(
            "vitrina_pipeline_last_run_ok",
            "gauge",
            "1 if the latest finished run had no failed step.",
            [({}, 1 if last.status == RunStatus.ok else 0)],
        )
        m.add(
            "vitrina_pipeline_last_run_items",
            "gauge",
            "Counts of the latest finished run.",
            [
                ({"kind": k}, float(st.get(k, 0) or 0))
                for k in (
                    "new_posts",
                    "new_photos",
                    "auto_accepted",
                    "needs_review",
                    "category_auto",
                    "category_review",
                    "colour_auto",
                    "colour_review",
                )
            ]
            + [({"kind": "errors"}, len(last.errors))],
        )
        m.add(
            "vitrina_pipeline_last_run_step_seconds",
            "gauge",
            "Duration of each step of the latest finished run.",
            [({"step": k, "status": str(v.get("status"))}, v.get("seconds"))
             for k, v in last.steps.items()],
        )  # fmt: skip
    if good is not None:
        m.add(
            "vitrina_pipeline_last_success_timestamp_seconds",
            "gauge",
            "Start of the latest run that completed (ok or partial), Unix time.",
            [({}, _ts(good.started_at))],
        )
    return PlainTextResponse(m.text(), media_type="text/plain; version=0.0.4; charset=utf-8")


# ---- /admin/runs --------------------------------------------------------------------------


@router.get("/admin/runs", include_in_schema=False)
def admin_runs(
    request: Request, page: int = 1, moderator: str = Depends(require_moderator)
) -> Response:
    from web.routers.common import render

    page = max(1, min(page, 10_000))
    runs = recent_runs(_engine(request), limit=PAGE + 1, offset=(page - 1) * PAGE)
    return render(
        request,
        "admin/runs.html",
        {
            "runs": runs[:PAGE],
            "page": page,
            "more": len(runs) > PAGE,
            "moderator": moderator,
            "schedule": _settings(request).schedule,
        },
    )


@router.get("/admin/runs/{run_id}", include_in_schema=False)
def admin_run(
    request: Request, run_id: str, moderator: str = Depends(require_moderator)
) -> Response:
    from web.routers.common import render

    if not run_id.isdigit() or len(run_id) > 10:
        raise HTTPException(404, "There is no such run.")
    run = get_run(_engine(request), int(run_id))
    if run is None:
        raise HTTPException(404, "There is no such run.")
    return render(request, "admin/run.html", {"run": run, "moderator": moderator})
