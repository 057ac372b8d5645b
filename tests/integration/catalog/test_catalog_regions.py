"""Several garments in one photo, on SQLite and PostgreSQL: migration g001 up and down, a split
photo's regions as entries of their own (facets count each garment once, the original none),
and the moderators' drop and merge, audited and checked against concurrent changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from PIL import Image
from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from catalog import media, moderation, queries, regions
from catalog.db import alembic_config, current_revision, head_revisions, migrate, session_scope
from catalog.models import ModerationEvent, Photo
from catalog.moderation import Conflict, ModerationError
from catalog.queries import Filters
from catalog.taxonomy import ReviewStatus
from tests.support.regions import split_catalogue


def test_split_photo_gives_one_public_entry_per_garment(engine: Engine, tmp_path: Path) -> None:
    parent_id, ids = split_catalogue(engine, tmp_path)
    with Session(engine) as s:
        parent = s.get(Photo, parent_id)
        assert parent.status == ReviewStatus.split_up
        listed = {i.id for i in queries.list_items(s, Filters()).items}
        assert listed == set(ids)  # the original is no entry of its own
        facets = queries.facet_counts(s, Filters())
        counts = {v.value: v.count for v in facets.values["category"]}
        assert counts == {"Pants": 1, "T-Shirt": 1, "Shoes": 1}
        view = regions.region_view(s, ids[1])
        assert view is not None and view.parent_id == parent_id and view.focus == ids[1]
        assert [r.id for r in view.regions] == ids
        for r in view.regions:  # each crop is its own stored file and thumbnail
            assert (tmp_path / r.stored_path).is_file() and (tmp_path / r.thumb_path).is_file()
            with Image.open(tmp_path / r.stored_path) as im:
                assert 250 <= im.width <= 320 and 380 <= im.height <= 420
        entries = regions.public_entries(s, ids[0])
        assert entries is not None and [i.id for i in entries.items] == ids
        assert regions.region_view(s, parent_id).focus is None
        assert view.box_percent(view.regions[0])["x"].endswith("%")


def test_drop_and_merge_regions_are_audited(engine: Engine, tmp_path: Path) -> None:
    parent_id, ids = split_catalogue(engine, tmp_path)
    with Session(engine) as s:
        versions = {p.id: p.version for p in s.exec(select(Photo).where(Photo.id.in_(ids)))}
    with session_scope(engine) as s:
        regions.drop_region(s, ids[2], versions[ids[2]], "ann")
    with session_scope(engine) as s, pytest.raises(Conflict):  # someone else's stale form
        regions.merge_regions(s, [(ids[0], versions[ids[0]]), (ids[1], 0)], "bob", tmp_path, 160)
    with session_scope(engine) as s:
        with pytest.raises(ModerationError):
            regions.merge_regions(s, [(ids[0], versions[ids[0]])], "ann", tmp_path, 160)
        with pytest.raises(ModerationError):
            regions.drop_region(s, parent_id, 1, "ann")
    with Session(engine) as s:
        first = s.get(Photo, ids[0])
        crop_before = (
            first.region_box, first.sha256, first.stored_path, first.thumb_path, first.width,
            first.height,
        )  # fmt: skip
    with session_scope(engine) as s:
        pairs = [(i, s.get(Photo, i).version) for i in ids[:2]]
        regions.merge_regions(s, pairs, "ann", tmp_path, 160)
    with Session(engine) as s:
        view = regions.region_view(s, parent_id)
        assert [r.id for r in view.regions] == [ids[0]]
        kept = s.get(Photo, ids[0])
        assert kept.region_box[0] < 0.05 and kept.region_box[2] > 0.6  # the union of two
        assert kept.category == "Pants" and kept.status == ReviewStatus.auto_accepted
        assert (tmp_path / kept.stored_path).is_file()
        with Image.open(tmp_path / kept.stored_path) as im:
            assert im.width > 550  # the new crop spans both garments
        actions = [
            (e.photo_id, e.action)
            for e in s.exec(select(ModerationEvent).order_by(ModerationEvent.id)).all()
        ]
        assert actions == [
            (ids[2], "drop_region"),
            (ids[1], "merge_region"),
            (ids[0], "merge_regions"),
        ]
        assert {i.id for i in queries.list_items(s, Filters()).items} == {ids[0]}
    with session_scope(engine) as s:  # a drop is undone like any rejection
        moderation.undo_last(s, "ann")  # the merge of ids[0]
        moderation.undo_last(s, "ann")  # ids[1] back
    with Session(engine) as s:
        assert s.get(Photo, ids[1]).status == ReviewStatus.auto_accepted
        first = s.get(Photo, ids[0])  # its own box and crop again, not the merged ones
        assert (
            first.region_box, first.sha256, first.stored_path, first.thumb_path, first.width,
            first.height,
        ) == crop_before  # fmt: skip
        assert (tmp_path / first.stored_path).is_file()
        item = queries.get_item(s, ids[0])  # an entry says what it is cut from
        assert item is not None and item.parent_photo_id == parent_id
        assert item.region_box == tuple(crop_before[0])


def test_migration_g001_up_and_down(engine: Engine, tmp_path: Path) -> None:
    parent_id, ids = split_catalogue(engine, tmp_path)
    command.downgrade(alembic_config(engine), "v001")
    assert current_revision(engine) == "v001"
    cols = {c["name"] for c in inspect(engine).get_columns("photos")}
    assert not {"parent_photo_id", "region_box"} & cols
    with engine.connect() as conn:
        left = conn.exec_driver_sql("SELECT id, status FROM photos ORDER BY id").all()
    assert [tuple(r) for r in left] == [(parent_id, "pending")]  # labelled again, whole
    migrate(engine)
    assert (current_revision(engine),) == head_revisions(engine)
    assert {"parent_photo_id", "region_box"} <= {
        c["name"] for c in inspect(engine).get_columns("photos")
    }
    with session_scope(engine) as s:  # and the split works again on the re-migrated schema
        parent = s.get(Photo, parent_id)
        crop = media.write_region(tmp_path, parent.stored_path, [0.0, 0.0, 0.5, 1.0], 160)
        again = regions.split_photo(s, parent, [{**crop, "box": [0.0, 0.0, 0.5, 1.0]}])
        assert again and again[0].parent_photo_id == parent_id
