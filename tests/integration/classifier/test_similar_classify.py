"""Embeddings from the real model in the same run as the labels, stored by `classify_catalog`
on SQLite and PostgreSQL; a resized copy's nearest stored neighbour is its original."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy.engine import Engine
from sqlmodel import Session

from catalog import vectors
from catalog.db import session_scope
from catalog.models import Photo
from classifier.inference import Predictor
from classifier.labelling import classify_catalog
from classifier.model import VitrinaModel, default_model_dir, load_model
from tests.support.classifier_support import photos, store_photos


@pytest.fixture(scope="module")
def model() -> VitrinaModel:
    return load_model(default_model_dir())


def test_rows_carry_unit_embeddings_from_the_same_run(model: VitrinaModel, tmp_path: Path) -> None:
    paths = photos(None, 3)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    predictor = Predictor(model, batch_size=2)
    rows = list(predictor.predict_paths([*paths, broken]))
    assert rows[-1].error and rows[-1].embedding is None
    for row in rows[:3]:
        assert row.embedding.dtype == np.float32 and row.embedding.shape == (vectors.EMBEDDING_DIM,)
        assert np.linalg.norm(row.embedding) == pytest.approx(1.0, abs=1e-5)
    one = predictor.predict_one(paths[1])
    assert np.allclose(one.embedding, rows[1].embedding, atol=1e-4)
    assert not np.allclose(rows[0].embedding, rows[1].embedding, atol=1e-2)


def test_classify_stores_embeddings_and_copies_find_their_original(
    model: VitrinaModel, engine: Engine, db_url: str, settings_for, tmp_path: Path
) -> None:
    settings, _ = settings_for(db_url)
    originals = photos(None, 6)
    copy = tmp_path / "copy.jpg"
    with Image.open(originals[2]) as im:
        buf = io.BytesIO()
        im.convert("RGB").resize((im.width // 2, im.height // 2)).save(buf, "JPEG", quality=50)
    copy.write_bytes(buf.getvalue())
    ids = store_photos(engine, settings.media_dir, [*originals, copy])
    with session_scope(engine) as s:  # a moderator's photo is never relabelled, still embedded
        s.get(Photo, ids[0]).status = "approved"
        s.get(Photo, ids[0]).category_state = s.get(Photo, ids[0]).colour_state = "human"

    summary = classify_catalog(settings, engine, model=model, batch_size=4)
    assert summary.labelled == 6 and summary.embedded == 7
    with Session(engine) as s:
        # tagged with the model and its projection (the committed embedding.npz)
        assert model.projection is not None and model.projection.tag.startswith("e")
        assert vectors.versions(s) == {f"{model.version}+{model.projection.tag}": 7}
        near = vectors.nearest(s, vectors.get(s, ids[6]), 2)
        assert [i for i, _ in near] == [ids[6], ids[2]]
        assert near[1][1] < 0.05

    # a refitted projection alone rewrites every vector and relabels nothing
    refit = replace(model, projection=replace(model.projection, tag="erefit"))
    again = classify_catalog(settings, engine, model=refit, batch_size=4)
    assert again.labelled == 0 and again.embedded == 7
    with Session(engine) as s:
        assert vectors.versions(s) == {f"{model.version}+erefit": 7}

    # a newer model version rewrites every vector (the relabelling run); no embedding.npz:
    # random directions
    newer = VitrinaModel(model.path, model.keras_model, {**model.metadata, "version": "v-next"})
    again = classify_catalog(settings, engine, model=newer, batch_size=4)
    assert again.embedded == 7
    with Session(engine) as s:
        assert vectors.versions(s) == {"v-next+rnd0": 7}
    assert classify_catalog(settings, engine, model=newer).embedded == 0  # nothing left to do
