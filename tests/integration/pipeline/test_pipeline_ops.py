"""Operator routes on the real app: /healthz, Prometheus /metrics, /admin/runs behind login."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from catalog.config import load_settings
from catalog.db import make_engine, session_scope
from catalog.models import PipelineRun, utcnow
from tests.support.common import write_config
from tests.support.web_helpers import logged_in, make_app, seed

SAMPLE = re.compile(r'^[a-z_]+(\{([a-z_]+="[^"]*",?)+\})? -?[0-9.e+]+$')


def _settings(tmp_path: Path, db_url: str):  # type: ignore[no-untyped-def]
    return load_settings(write_config(tmp_path, db_url), environ={})


def _add_runs(db_url: str) -> None:
    engine = make_engine(db_url)
    now = utcnow()
    with session_scope(engine) as s:
        s.add(
            PipelineRun(
                trigger="schedule",
                status="ok",
                started_at=now - timedelta(minutes=5),
                finished_at=now - timedelta(minutes=3),
                steps={
                    "crawl": {"status": "ok", "seconds": 70.5},
                    "classify": {"status": "ok", "seconds": 40.0},
                    "publish": {"status": "ok", "seconds": 1.5},
                },
                stats={
                    "new_posts": 12,
                    "new_photos": 20,
                    "auto_accepted": 15,
                    "needs_review": 5,
                    "category_auto": 18,
                    "category_review": 2,
                    "colour_auto": 16,
                    "colour_review": 4,
                    "shops": {"mastodon:atelier_lina": {"new_posts": 12, "new_photos": 20}},
                },
            )
        )
        s.add(
            PipelineRun(
                trigger="manual",
                status="partial",
                started_at=now - timedelta(minutes=2),
                finished_at=now - timedelta(minutes=1),
                steps={"crawl": {"status": "failed"}, "classify": {"status": "skipped"}},
                stats={"new_posts": 0},
                errors=[{"step": "crawl", "error": "exited 1", "tail": ["<script>boom</script>"]}],
            )
        )
    engine.dispose()


def test_admin_runs_needs_a_moderator_and_shows_history(db_url: str, tmp_path: Path) -> None:
    settings = _settings(tmp_path, db_url)
    seed(settings)
    _add_runs(db_url)
    app = make_app(settings)
    anonymous = TestClient(app).get("/admin/runs", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/moderate/login?next=/admin/runs"
    client = logged_in(app)
    page = client.get("/admin/runs")
    assert page.status_code == 200
    assert 'href="/admin/runs/1"' in page.text and 'href="/admin/runs/2"' in page.text
    assert "partial" in page.text and "2m00s" in page.text  # run 1 took two minutes
    detail = client.get("/admin/runs/2")
    assert detail.status_code == 200
    assert "&lt;script&gt;boom&lt;/script&gt;" in detail.text and "<script>boom" not in detail.text
    one = client.get("/admin/runs/1").text
    assert "mastodon:atelier_lina" in one and "70.5" in one
    assert "colour review: <strong>4</strong>" in one  # labels queued, per head
    assert client.get("/admin/runs/999").status_code == 404
    assert client.get("/admin/runs/x1").status_code == 404


def test_metrics_in_prometheus_text_format(db_url: str, tmp_path: Path) -> None:
    settings = _settings(tmp_path, db_url)
    seed(settings)
    _add_runs(db_url)
    r = TestClient(make_app(settings)).get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    lines = r.text.splitlines()
    samples = [x for x in lines if not x.startswith("#")]
    bad = [x for x in samples if not SAMPLE.match(x)]
    assert not bad, bad
    assert "vitrina_review_queue 2" in samples
    assert 'vitrina_photos{status="needs_review"} 2' in samples
    assert 'vitrina_shops{active="true"} 3' in samples
    assert 'vitrina_pipeline_runs_total{trigger="schedule",status="ok"} 1' in samples
    assert 'vitrina_pipeline_runs_total{trigger="manual",status="partial"} 1' in samples
    assert "vitrina_pipeline_last_run_ok 0" in samples  # the latest run was partial
    assert "vitrina_pipeline_last_run_duration_seconds 60" in samples
    assert 'vitrina_pipeline_last_run_step_seconds{step="crawl",status="failed"}' not in r.text
    assert "vitrina_pipeline_running 0" in samples
    assert any(x.startswith("vitrina_pipeline_last_success_timestamp_seconds ") for x in samples)
    # Every sample has its HELP and TYPE.
    for name in {x.split("{")[0].split(" ")[0] for x in samples}:
        assert f"# TYPE {name} " in r.text


def test_healthz_reports_database_and_overdue_runs(db_url: str, tmp_path: Path) -> None:
    settings = _settings(tmp_path, db_url)
    client = TestClient(make_app(settings))
    body = client.get("/healthz").json()
    # Never ran although a 03:00 run is due every day: up, but degraded.
    assert body["status"] == "degraded" and body["database"] == "ok"
    assert body["pipeline"]["overdue"] is True and body["schema"]
    _add_runs(db_url)
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["pipeline"]["last_run"]["status"] == "partial"
    settings.schedule.enabled = False
    assert client.get("/healthz").json()["pipeline"]["overdue"] is False


def test_healthz_is_503_when_the_database_is_down(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "postgresql://nobody@127.0.0.1:1/none")
    r = TestClient(make_app(settings)).get("/healthz")
    assert r.status_code == 503 and r.json()["status"] == "down"
