"""Each label published or queued on its own, on SQLite and PostgreSQL: migration l001 from the
one-status-per-photo catalogue, the public facets and filters, the moderators' per-label
decisions and their undo."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import MetaData, Table, inspect, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from catalog import crud, moderation, queries
from catalog.db import alembic_config, current_revision, head_revisions, migrate, session_scope
from catalog.evidence import Clue, TextEvidence
from catalog.models import Photo, Prediction
from catalog.queries import Filters
from catalog.taxonomy import LabelState, ReviewStatus
from demo.seed import add_photo, add_post

OLD_STATUSES = ("pending", "auto_accepted", "needs_review", "approved", "corrected", "rejected")
EXPECTED_STATES = {
    "pending": "pending",
    "auto_accepted": "auto",
    "needs_review": "review",
    "approved": "human",
    "corrected": "human",
    "rejected": "human",
}


def _old_photo_row(table: Table, post_id: int, status: str, i: int) -> dict:
    """Every NOT NULL column of the c002 photos table filled, as the old code wrote it."""
    values = {
        "post_id": post_id,
        "sha256": f"{i:064x}",
        "status": status,
        "category": None if status == "pending" else "Dress",
        "colour": None if status == "pending" else "red",
        "created_at": datetime.now(UTC),
    }
    for col in table.columns:
        if col.name in values or col.nullable or col.primary_key or col.server_default:
            continue
        py = col.type.python_type
        values[col.name] = {int: 0, str: "", bool: False}.get(py, 0)
    return values


def test_migration_l001_maps_every_old_status_to_label_states(engine: Engine) -> None:
    with session_scope(engine) as s:
        shop = crud.upsert_shop(s, "bluesky", "knit.bsky.social")
        post_id = crud.upsert_post(s, shop.id, "bluesky", "at://x/1").id
    command.downgrade(alembic_config(engine), "c002")
    assert current_revision(engine) == "c002"
    assert "category_state" not in {c["name"] for c in inspect(engine).get_columns("photos")}
    with engine.begin() as conn:
        photos = Table("photos", MetaData(), autoload_with=conn)
        for i, status in enumerate(OLD_STATUSES):
            conn.execute(photos.insert().values(**_old_photo_row(photos, post_id, status, i)))
        preds = Table("predictions", MetaData(), autoload_with=conn)
        first = conn.execute(select(photos.c.id).order_by(photos.c.id)).scalars().first()
        conn.execute(
            preds.insert().values(
                photo_id=first,
                head="colour",
                label="red",
                confidence=0.5,
                top=[["red", 0.5]],
                model_version="old",
                created_at=datetime.now(UTC),
            )
        )
    migrate(engine)
    assert (current_revision(engine),) == head_revisions(engine)  # l001 and every later one
    with Session(engine) as s:
        rows = s.execute(select(Photo).order_by(Photo.id)).scalars().all()
        got = {p.status: (p.category_state, p.colour_state) for p in rows}
        assert got == {st: (EXPECTED_STATES[st],) * 2 for st in OLD_STATUSES}
        pred = s.execute(select(Prediction)).scalar_one()
        assert (pred.image_top, pred.evidence, pred.conflict, pred.decision) == ([], {}, False, "")
    with Session(engine) as s:  # the migrated catalogue reads as before
        public = queries.list_items(s, Filters()).items
        assert sorted(i.status for i in public) == ["approved", "auto_accepted", "corrected"]
        assert moderation.queue_count(s) == 1
        assert queries.facet_counts(s, Filters()).values["colour"][0].count == 3
    # and back: a partly accepted photo waits for a moderator whole again
    with session_scope(engine) as s:
        p = s.execute(select(Photo).where(Photo.status == "auto_accepted")).scalar_one()
        p.status, p.colour_state = ReviewStatus.partly_accepted, LabelState.review
    command.downgrade(alembic_config(engine), "c002")
    with engine.connect() as conn:
        photos = Table("photos", MetaData(), autoload_with=conn)
        statuses = sorted(conn.execute(select(photos.c.status)).scalars())
    assert statuses.count("needs_review") == 2 and "partly_accepted" not in statuses
    migrate(engine)


@pytest.fixture
def site(engine: Engine, tmp_path: Path) -> dict[str, int]:
    """Photos in every per-label situation, with the model's predictions."""
    media = tmp_path / "media"
    with session_scope(engine) as s:
        shop = crud.upsert_shop(s, "shopify", "linen.example", base_url="https://linen.example")
        post = add_post(s, shop.id, "shopify", "p1", caption="Linen shirt", days_ago=1)
        ids = {
            "both_auto": add_photo(s, media, post, "Shirt", "white", seed=1),
            # category sure, colour doubtful: public as a Shirt, colour asked
            "colour_asked": add_photo(
                s, media, post, "Shirt", "beige", seed=2, status="partly_accepted",
                category_state="auto", colour_state="review", colour_confidence=0.41,
            ),
            # colour sure, category doubtful
            "category_asked": add_photo(
                s, media, post, "Blouse", "blue", seed=3, status="partly_accepted",
                category_state="review", colour_state="auto", category_confidence=0.38,
            ),
            "both_asked": add_photo(
                s, media, post, "Dress", "red", seed=4, status="needs_review",
                category_confidence=0.5, colour_confidence=0.6,
            ),
        }  # fmt: skip
        # what the shop's words said about the colour, and that the photo disagreed
        evidence = TextEvidence.of(
            [Clue("colour", "beige", "options", "Beige"), Clue("colour", "beige", "title", "sand")]
        )
        pred = s.execute(
            select(Prediction).where(
                Prediction.photo_id == ids["colour_asked"], Prediction.head == "colour"
            )
        ).scalar_one()
        pred.evidence, pred.conflict = evidence.head_json("colour"), True
        pred.image_top = [["white", 0.8], ["beige", 0.1], ["grey", 0.05]]
    return ids


def _facet(s: Session, facet: str, filters: Filters = Filters()) -> dict[str, int]:
    return {v.value: v.count for v in queries.facet_counts(s, filters).values[facet]}


def test_a_label_in_review_is_neither_shown_nor_counted(engine: Engine, site) -> None:
    with Session(engine) as s:
        grid = {i.id: i for i in queries.list_items(s, Filters()).items}
        # partly accepted photos are public, needs_review is not
        assert set(grid) == {site["both_auto"], site["colour_asked"], site["category_asked"]}
        assert (grid[site["colour_asked"]].category, grid[site["colour_asked"]].colour) == (
            "Shirt",
            None,
        )
        assert grid[site["category_asked"]].category is None
        # the category facet counts the photo whose category is decided, not the other
        assert _facet(s, "category") == {"Shirt": 2}
        assert _facet(s, "colour") == {"white": 1, "blue": 1}
        assert queries.facet_counts(s, Filters()).total == 3
        shirts = {i.id for i in queries.list_items(s, Filters(category=("Shirt",))).items}
        assert shirts == {site["both_auto"], site["colour_asked"]}
        assert queries.list_items(s, Filters(colour=("beige",))).items == []
        assert queries.list_items(s, Filters(category=("Blouse",))).items == []
        assert queries.count_items(s, Filters(colour=("beige",))) == 0
        # with a category filter, the colour facet still ignores the undecided colour
        assert _facet(s, "colour", Filters(category=("Shirt",))) == {"white": 1}
        page = queries.photo_page(s, site["colour_asked"])
        assert page is not None and (page.item.category, page.item.colour) == ("Shirt", None)
        assert queries.photo_page(s, site["both_asked"]) is None


def test_queue_asks_only_the_doubtful_label_with_the_shops_words(engine: Engine, site) -> None:
    with Session(engine) as s:
        items = {q.item.id: q for q in moderation.queue(s, limit=10)}
        assert set(items) == {site["colour_asked"], site["category_asked"], site["both_asked"]}
        assert moderation.queue_count(s) == 3
        q = items[site["colour_asked"]]
        assert q.asked == ["colour"] and q.conflict
        assert q.item.colour == "beige"  # moderators see the model's guess
        g = q.guesses["colour"]
        assert g.summary == "shop says: beige (options, title)"
        assert g.image_top[0] == ("white", 0.8) and g.top[0][0] == "beige"
        assert items[site["both_asked"]].asked == ["category", "colour"]
        # least confident doubtful label first: .38 (category asked) before .41 before .5
        order = [x.item.id for x in moderation.queue(s, limit=10)]
        assert order == [site["category_asked"], site["colour_asked"], site["both_asked"]]


def test_deciding_the_one_queued_label_publishes_the_photo_fully(engine: Engine, site) -> None:
    pid = site["colour_asked"]
    with session_scope(engine) as s:
        version = s.get(Photo, pid).version
        event = moderation.decide(s, pid, version, "ann", "correct", colour="white")
    assert event.before["colour_state"] == "review" and event.after["colour_state"] == "human"
    with Session(engine) as s:
        p = s.get(Photo, pid)
        assert (p.status, p.category_state, p.colour_state) == ("corrected", "auto", "human")
        assert (p.category, p.colour, p.colour_confidence) == ("Shirt", "white", 1.0)
        assert _facet(s, "colour") == {"white": 2, "blue": 1}
        assert pid not in {q.item.id for q in moderation.queue(s, limit=10)}
    # undo puts the colour back in the queue, the category stays public
    with session_scope(engine) as s:
        moderation.undo_last(s, "ann")
    with Session(engine) as s:
        p = s.get(Photo, pid)
        assert (p.status, p.colour, p.colour_state) == ("partly_accepted", "beige", "review")
        assert _facet(s, "category") == {"Shirt": 2}


def test_a_decision_on_one_label_leaves_the_other_as_it_is(engine: Engine, site) -> None:
    pid = site["both_asked"]
    with session_scope(engine) as s:
        version = s.get(Photo, pid).version
        moderation.decide(s, pid, version, "ann", "accept", heads=["category"])
    with Session(engine) as s:
        p = s.get(Photo, pid)
        states = (p.status, p.category_state, p.colour_state)
        assert states == ("partly_accepted", "human", "review")
        assert _facet(s, "category")["Dress"] == 1 and "red" not in _facet(s, "colour")
        q = next(q for q in moderation.queue(s, limit=10) if q.item.id == pid)
        assert q.asked == ["colour"]
    with session_scope(engine) as s:  # accepting what is left takes the colour as it is
        moderation.decide(s, pid, version + 1, "ann", "accept")
    with Session(engine) as s:
        p = s.get(Photo, pid)
        assert (p.status, p.colour_state, p.colour) == ("approved", "human", "red")
        with pytest.raises(moderation.ModerationError, match="unknown label"):
            moderation.decide(s, pid, p.version, "ann", "accept", heads=["size"])


def test_rejecting_a_partly_accepted_photo_takes_it_out(engine: Engine, site) -> None:
    pid = site["category_asked"]
    with session_scope(engine) as s:
        moderation.decide(s, pid, s.get(Photo, pid).version, "bob", "reject")
    with Session(engine) as s:
        assert s.get(Photo, pid).status == "rejected"
        assert _facet(s, "colour") == {"white": 1}
        assert moderation.queue_count(s) == 2
