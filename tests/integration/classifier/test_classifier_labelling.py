"""`vitrina classify` / `classify_catalog` on a real catalogue (SQLite and PostgreSQL) with real
photos: labels, predictions, statuses, idempotence, moderators' decisions, unreadable files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from catalog.db import session_scope
from catalog.models import Photo, Prediction
from catalog.taxonomy import CATEGORIES, COLOURS, LabelState, ReviewStatus, photo_status
from classifier.labelling import catalogue_samples, classify_catalog
from classifier.model import VitrinaModel, default_model_dir, load_model
from tests.support.classifier_support import photos, store_photos
from vitrina_cli.main import app


@pytest.fixture(scope="module")
def model() -> VitrinaModel:
    return load_model(default_model_dir())


def test_labels_pending_photos_idempotently(
    model: VitrinaModel, engine: Engine, db_url: str, settings_for, tmp_path: Path
) -> None:
    settings, _ = settings_for(db_url)
    media = settings.media_dir
    corrupt = tmp_path / "broken.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff not really a jpeg")
    ids = store_photos(engine, media, [*photos(None, 5), corrupt])
    calls: list[tuple[int, int]] = []

    summary = classify_catalog(
        settings, engine, model=model, batch_size=4, progress=lambda d, t: calls.append((d, t))
    )
    assert summary.labelled == 5 and summary.unreadable == 1
    assert summary.auto_accepted + summary.needs_review == 5
    assert f"photo {ids[5]}" in summary.errors[0] and "corrupt" in summary.errors[0]
    assert calls[-1] == (6, 6)
    partly = 0
    with Session(engine) as session:
        rows = {p.id: p for p in session.exec(select(Photo)).all()}
        for pid in ids[:5]:
            p = rows[pid]
            assert p.category in CATEGORIES and p.colour in COLOURS
            assert p.version == 2 and p.model_version == model.version and p.labelled_at
            preds = session.exec(select(Prediction).where(Prediction.photo_id == pid)).all()
            assert {x.head for x in preds} == {"category", "colour"}
            for x in preds:
                assert len(x.top) == 3 and x.top[0][0] == x.label
                assert x.confidence == pytest.approx(x.top[0][1], abs=1e-3)
            thresholds = model.thresholds()
            if model.fusion is not None:  # photos without words: the fusion's "none" stratum
                thresholds = model.fusion.no_words_thresholds(thresholds)
            # Each label is decided on its own; the status is what the two states imply.
            states = {}
            for head in ("category", "colour"):
                sure = getattr(p, f"{head}_confidence") >= thresholds[head]
                states[head] = getattr(p, f"{head}_state")
                assert states[head] == (LabelState.auto if sure else LabelState.review)
                pred = next(x for x in preds if x.head == head)
                assert pred.decision == states[head] and pred.image_top == pred.top
                assert pred.evidence == {"clues": [], "ambiguous": False} and not pred.conflict
            assert p.status == photo_status(states)
            if p.status == ReviewStatus.partly_accepted:
                partly += 1
        assert rows[ids[5]].status == ReviewStatus.pending and rows[ids[5]].version == 1
        assert summary.partly_accepted == partly
        for head in ("category", "colour"):
            auto_n = sum(getattr(rows[i], f"{head}_state") == LabelState.auto for i in ids[:5])
            assert summary.labels_auto[head] == auto_n
            assert summary.labels_review[head] == 5 - auto_n

    again = classify_catalog(settings, engine, model=model)
    assert again.labelled == 0 and again.unreadable == 1  # the broken file is retried, nothing else
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Prediction)).one() == 10
        assert all(p.version <= 2 for p in session.exec(select(Photo)).all())


def test_new_model_version_relabels_only_untouched_photos(
    model: VitrinaModel, engine: Engine, db_url: str, settings_for, tmp_path: Path
) -> None:
    settings, _ = settings_for(db_url)
    ids = store_photos(engine, settings.media_dir, photos("Pants", 4))
    classify_catalog(settings, engine, model=model)
    with session_scope(engine) as session:
        approved = session.get(Photo, ids[0])
        approved.status, approved.category, approved.version = ReviewStatus.approved, "Shorts", 7
        approved.category_state = approved.colour_state = LabelState.human
        corrected = session.get(Photo, ids[1])
        corrected.status, corrected.colour = ReviewStatus.corrected, "green"
        corrected.category_state = corrected.colour_state = LabelState.human
        session.add_all([approved, corrected])

    newer = VitrinaModel(model.path, model.keras_model, {**model.metadata, "version": "v-next"})
    summary = classify_catalog(settings, engine, model=newer, limit=10)
    assert summary.labelled == 2
    with Session(engine) as session:
        p0, p1, p2, p3 = (session.get(Photo, i) for i in ids)
        assert (p0.status, p0.category, p0.version) == (ReviewStatus.approved, "Shorts", 7)
        assert (p1.status, p1.colour) == (ReviewStatus.corrected, "green")
        assert p2.model_version == p3.model_version == "v-next"
        assert p2.version == 3
        assert (
            session.exec(
                select(func.count()).select_from(Prediction).where(Prediction.photo_id == ids[0])
            ).one()
            == 2
        )  # only the first model's predictions


def test_limit_and_cli_summary(sqlite_url: str, settings_for) -> None:
    from catalog.db import make_engine

    settings, cfg = settings_for(sqlite_url)
    eng = make_engine(sqlite_url)
    store_photos(eng, settings.media_dir, photos("Hat", 3))
    result = CliRunner().invoke(app, ["--config", str(cfg), "classify", "--limit", "2"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # Rich wraps long lines
    assert "labelled 2 photo(s)" in said and "need no moderator" in said
    assert "labels decided automatically: category" in said
    result = CliRunner().invoke(app, ["--config", str(cfg), "classify"])
    assert "labelled 1 photo(s)" in result.output
    with Session(eng) as session:
        assert all(p.status != ReviewStatus.pending for p in session.exec(select(Photo)).all())
    eng.dispose()


def test_approved_and_corrected_photos_become_training_samples(
    engine: Engine, db_url: str, settings_for
) -> None:
    settings, _ = settings_for(db_url)
    files = photos("Dress", 3)
    ids = store_photos(engine, settings.media_dir, files)
    with session_scope(engine) as session:
        for pid, status in zip(ids, ["approved", "corrected", "needs_review"], strict=True):
            p = session.get(Photo, pid)
            p.status, p.category, p.colour = status, "Dress", "red"
            session.add(p)
    # A moderator decided the category only; the colour is the model's: not a sample.
    extra = store_photos(engine, settings.media_dir, photos("Dress", 4)[3:])
    with session_scope(engine) as session:
        p = session.get(Photo, extra[0])
        p.status, p.category, p.colour = ReviewStatus.approved, "Dress", "red"
        p.category_state, p.colour_state = LabelState.human, LabelState.auto
        session.add(p)
    samples = catalogue_samples(settings, engine)
    assert len(samples) == 2
    assert all(
        s.path.is_file() and s.category == "Dress" and s.key.startswith("photo:") for s in samples
    )
    assert json.dumps([s.colour for s in samples]) == '["red", "red"]'
    shutil.rmtree(settings.media_dir)


def test_new_model_never_overwrites_a_moderators_label(
    model: VitrinaModel, engine: Engine, db_url: str, settings_for
) -> None:
    """A moderator decided the category only: a new model relabels the colour, not the
    category, and the photo's status follows the two states."""
    settings, _ = settings_for(db_url)
    ids = store_photos(engine, settings.media_dir, photos("Shoes", 2))
    classify_catalog(settings, engine, model=model)
    with session_scope(engine) as session:
        p = session.get(Photo, ids[0])
        p.category, p.category_confidence, p.category_state = "Hat", 1.0, LabelState.human
        p.colour_state, p.colour = LabelState.review, "pink"
        p.status = ReviewStatus.partly_accepted
        session.add(p)
    newer = VitrinaModel(model.path, model.keras_model, {**model.metadata, "version": "v-next"})
    summary = classify_catalog(settings, engine, model=newer)
    assert summary.labelled == 2 and summary.labels_human == {"category": 1, "colour": 0}
    with Session(engine) as session:
        p = session.get(Photo, ids[0])
        assert (p.category, p.category_state, p.category_confidence) == (
            "Hat",
            LabelState.human,
            1.0,
        )
        assert p.model_version == "v-next"
        preds = session.exec(
            select(Prediction).where(
                Prediction.photo_id == ids[0], Prediction.model_version == "v-next"
            )
        ).all()
        assert {x.head for x in preds} == {"category", "colour"}  # the model's guess is kept
        guess = next(x.label for x in preds if x.head == "category")
        colour = next(x for x in preds if x.head == "colour")
        assert (p.colour, p.colour_state) == (colour.label, colour.decision)
        expected = photo_status(
            {"category": LabelState.human, "colour": p.colour_state}, corrected=guess != "Hat"
        )
        assert p.status == expected
