"""The garment-region head: its NumPy form computes what its Keras form does, boxes decode and
match as documented, and, end to end through `classify_catalog` with the committed model, an
outfit made of real validation photos becomes one entry per garment while a single-garment
photo stays one entry (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import io
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from catalog import crud, vectors
from catalog.db import session_scope
from catalog.models import Photo, Prediction
from catalog.taxonomy import ReviewStatus
from classifier.labelling import classify_catalog
from classifier.model import VitrinaModel, default_model_dir, load_model
from classifier.regions import (
    GRID,
    REGIONS_FILE,
    Box,
    RegionHead,
    build_keras_head,
    iou,
    load_region_head,
    matched,
    nms,
    side_by_side,
    single_item_split,
    targets,
)
from tests.support.classifier_support import dataset


def test_numpy_head_computes_what_the_keras_head_does(tmp_path: Path) -> None:
    keras_head = build_keras_head(1280, 112, hidden=16)
    rng = np.random.default_rng(0)
    for layer in keras_head.layers:  # non-zero biases everywhere
        weights = layer.get_weights()
        if weights:
            layer.set_weights([rng.normal(0, 0.05, w.shape).astype(np.float32) for w in weights])
    maps = {
        "spatial": rng.random((3, GRID // 2, GRID // 2, 1280), dtype=np.float32),
        "spatial16": rng.random((3, GRID, GRID, 112), dtype=np.float32),
    }
    expected = keras_head.predict([maps["spatial"], maps["spatial16"]], verbose=0)
    (w1, b1), (w0, b0), (w2, b2), (w3, b3) = (
        keras_head.get_layer(n).get_weights() for n in ("reduce", "reduce16", "context", "out")
    )
    head = RegionHead(w1[0, 0], b1, w0[0, 0], b0, w2, b2, w3[0, 0], b3, threshold=0.4)
    np.testing.assert_allclose(head.raw(maps), expected, atol=1e-4, rtol=1e-4)
    (tmp_path / "m").mkdir()
    head.save(tmp_path / "m" / REGIONS_FILE)
    again = load_region_head(tmp_path / "m")
    assert again is not None and again.threshold == pytest.approx(0.4)
    np.testing.assert_allclose(again.raw(maps), expected, atol=2e-2)  # float16 weights on disk
    assert load_region_head(tmp_path) is None  # no regions.npz: no head
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / REGIONS_FILE).write_bytes(b"not numpy")
    with pytest.raises(ValueError, match="not a usable region head"):
        load_region_head(tmp_path / "bad")


def test_targets_boxes_and_matching() -> None:
    left, right = Box(0.0, 0.0, 0.5, 1.0), Box(0.5, 0.0, 1.0, 1.0)
    heat, box, weight = targets([[left, right]])
    peaks = np.argwhere(heat[0] == 1.0)
    assert {tuple(p) for p in peaks} >= {(5, 2), (5, 8)}  # rows 5-6, the cells at each centre
    assert (weight[0] > 0).sum() >= 8 and box[0, 5, 2, 2] == pytest.approx(0.5)
    assert iou(left, right) == 0.0 and iou(left, left) == pytest.approx(1.0)
    close = Box(0.02, 0.0, 0.5, 1.0, score=0.9)
    assert nms([Box(0, 0, 0.5, 1, 0.8), close, right], 0.3) == [right, close]  # by score
    assert matched([left, right], [close]) == 1
    assert matched([left, right], [Box(0.2, 0.0, 0.8, 1.0)]) == 0  # IoU < 0.5 with both


@pytest.fixture(scope="module")
def model() -> VitrinaModel:
    return load_model(default_model_dir())


def _store(engine: Engine, media: Path, images: list[Image.Image]) -> list[int]:
    ids = []
    with session_scope(engine) as s:
        shop = crud.upsert_shop(s, "mastodon", "outfits", base_url="https://m.example")
        for i, image in enumerate(images):
            buf = io.BytesIO()
            image.save(buf, "JPEG", quality=92)
            sha = hashlib.sha256(buf.getvalue()).hexdigest()
            rel = f"{sha[:2]}/{sha[2:4]}/{sha}.jpg"
            (media / rel).parent.mkdir(parents=True, exist_ok=True)
            (media / rel).write_bytes(buf.getvalue())
            post = crud.upsert_post(s, shop.id, "mastodon", f"post-{i}")
            ids.append(
                crud.add_photo(
                    s, post.id, sha, stored_path=rel, width=image.width, height=image.height
                ).id
            )
    return ids


@pytest.mark.slow
def test_classify_splits_an_outfit_and_keeps_a_single_photo_whole(
    model: VitrinaModel, engine: Engine, db_url: str, settings_for
) -> None:
    assert (model.path / REGIONS_FILE).is_file(), "the committed model ships its region head"
    settings, _ = settings_for(db_url)
    _train, val = single_item_split(dataset(), 0.2)
    picks = random.Random(7).sample(sorted(val), 3)
    photos = [Image.open(p).convert("RGB") for p in picks[:2]]
    outfit, truth = side_by_side(photos, random.Random(1))
    single = Image.open(picks[2]).convert("RGB")
    outfit_id, single_id = _store(engine, settings.media_dir, [outfit, single])

    summary = classify_catalog(settings, engine, model=model)
    assert summary.split == 1 and summary.regions == 2, summary.line()
    assert "1 split into 2 garment entries" in summary.line()
    with Session(engine) as s:
        parent = s.get(Photo, outfit_id)
        assert parent.status == ReviewStatus.split_up
        children = s.exec(select(Photo).where(Photo.parent_photo_id == outfit_id)).all()
        assert len(children) == 2
        boxes = [Box(*c.region_box) for c in children]
        assert matched(truth, boxes) == 2  # each garment found at IoU ≥ 0.5
        for child in children:  # an entry like any photo: own crop, labels, history, vector
            assert child.status not in (ReviewStatus.pending, ReviewStatus.split_up)
            assert child.category and child.colour and child.model_version == model.version
            assert (settings.media_dir / child.stored_path).is_file()
            assert (settings.media_dir / child.thumb_path).is_file()
            heads = s.exec(select(Prediction.head).where(Prediction.photo_id == child.id)).all()
            assert sorted(heads) == ["category", "colour"]
            assert vectors.get(s, child.id) is not None
        alone = s.get(Photo, single_id)
        assert alone.status not in (ReviewStatus.pending, ReviewStatus.split_up)
        assert not s.exec(select(Photo).where(Photo.parent_photo_id == single_id)).all()
    again = classify_catalog(settings, engine, model=model)  # nothing split twice
    assert again.labelled == 0 and again.split == 0
