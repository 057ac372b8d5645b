"""Retraining's gate: enough new decisions, never promote a worse model, atomic promotion."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from catalog import crud
from catalog.config import load_settings
from catalog.db import make_engine, session_scope
from catalog.models import ModerationEvent, PipelineRun
from catalog.records import EvaluationResult, MissingMetric
from pipeline.retrain import current_model, not_worse, promote
from tests.support.cli import vitrina
from tests.support.common import write_config


def _scores(cat: float, col: float, prec: float) -> EvaluationResult:
    return EvaluationResult.parse(
        {
            "n": 10,
            "category": {"accuracy": cat, "macro_f1": cat - 0.1},
            "colour": {"accuracy": col, "macro_f1": col - 0.1},
            "decision": {"auto_accepted": 0.5, "auto_precision_both_heads": prec},
        }
    )


def test_not_worse_requires_every_figure_to_hold() -> None:
    current = _scores(0.80, 0.70, 0.95)
    assert not_worse(_scores(0.80, 0.70, 0.95), current)[0]  # equal is not worse
    assert not_worse(_scores(0.85, 0.75, 0.96), current)[0]
    ok, lines = not_worse(_scores(0.90, 0.69, 0.99), current)
    assert not ok and any("colour accuracy" in x and "worse" in x for x in lines)
    assert not not_worse(_scores(0.90, 0.90, 0.94), current)[0]  # precision of auto labels fell


def test_a_renamed_metric_is_refused_not_scored_zero() -> None:
    # Before: .get(key, 0.0) on both sides scored both models 0.0 and promoted the candidate.
    good = _scores(0.8, 0.7, 0.9).model_dump()
    good["colour"]["macro_F1"] = good["colour"].pop("macro_f1")
    with pytest.raises(MissingMetric, match="colour.macro_f1"):
        EvaluationResult.parse(good, source="evaluate-candidate.json")


def test_promotion_switches_the_current_link(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, f"sqlite:///{tmp_path}/c.db"), environ={})
    assert current_model(settings) is None  # nothing promoted: the committed default
    a, b = tmp_path / "var/models/a", tmp_path / "var/models/b"
    a.mkdir(parents=True)
    b.mkdir()
    promote(settings, a)
    assert current_model(settings) == a.resolve()
    promote(settings, b)
    assert current_model(settings) == b.resolve()
    settings.classifier.model_dir = str(a)  # a pinned model wins over promotion
    assert current_model(settings) == a


def test_retrain_waits_for_enough_decisions(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    with session_scope(engine) as s:
        shop = crud.upsert_shop(s, "bluesky", "knit.bsky.social")
        post = crud.upsert_post(s, shop.id, "bluesky", "at://p/1")
        photo = crud.add_photo(s, post.id, "a" * 64)
        # Decisions one by one and in bulk count; an undo takes one back and does not.
        for i, action in enumerate(("accept", "bulk_reject", "correct", "undo")):
            s.add(
                ModerationEvent(photo_id=photo.id, moderator="mia", action=action, after={"i": i})
            )
    cfg = write_config(tmp_path, db_url, "[schedule]\nretrain_min_decisions = 5\n")
    result = vitrina("--config", str(cfg), "retrain")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "skipped" in result.stdout and "3 new moderator decision(s)" in result.stdout
    with session_scope(engine) as s:
        runs = s.exec(select(PipelineRun)).all()
    assert [(r.trigger, r.status, r.stats["new_decisions"]) for r in runs] == [
        ("retrain", "skipped", 3)
    ]
    # --force goes on, but 1 labelled photo on disk is far too few to train on: still skipped.
    forced = vitrina("--config", str(cfg), "retrain", "--force")
    assert forced.returncode == 0 and "approved/corrected photo(s) on disk" in forced.stdout
    engine.dispose()


def test_a_promotion_makes_the_next_run_classify_again(sqlite_url: str) -> None:
    from datetime import timedelta

    from catalog.models import utcnow
    from pipeline.runner import _promoted_since_last_classify

    engine = make_engine(sqlite_url)
    now = utcnow()
    with session_scope(engine) as s:
        s.add(
            PipelineRun(
                trigger="schedule",
                status="ok",
                started_at=now - timedelta(days=2),
                steps={"classify": {"status": "ok"}},
            )
        )
    assert not _promoted_since_last_classify(engine, current_run=0)  # nothing promoted
    with session_scope(engine) as s:
        s.add(
            PipelineRun(
                trigger="retrain",
                status="promoted",
                started_at=now - timedelta(days=1, hours=1),
                finished_at=now - timedelta(days=1),
            )
        )
    assert _promoted_since_last_classify(engine, current_run=0)
    with session_scope(engine) as s:
        s.add(
            PipelineRun(
                trigger="schedule",
                status="ok",
                started_at=now - timedelta(hours=1),
                steps={"classify": {"status": "ok"}},
            )
        )
    assert not _promoted_since_last_classify(engine, current_run=0)  # relabelled since
    engine.dispose()
