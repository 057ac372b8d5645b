"""The catalogue schema and its idempotent writes, on SQLite and on PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, select

from catalog import crud, logins
from catalog.db import current_revision, include_object, migrate, session_scope
from catalog.models import (
    LoginFailure,
    ModerationEvent,
    Photo,
    Post,
    Prediction,
    Shop,
    utcnow,
)


def test_migrations_create_every_table_and_match_models(engine) -> None:
    assert current_revision(engine) is not None
    tables = set(inspect(engine).get_table_names())
    assert {
        "shops",
        "posts",
        "photos",
        "predictions",
        "moderation_events",
        "crawl_runs",
        "pipeline_runs",
        "moderators",
        "rejected_media",
        "login_failures",
    } <= tables
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"include_object": include_object}),
            SQLModel.metadata,
        )
    assert diff == [], f"models and migrations disagree: {diff}"


def test_migrate_twice_is_a_no_op(engine) -> None:
    before = current_revision(engine)
    migrate(engine)
    assert current_revision(engine) == before


def test_upsert_shop_is_idempotent_and_keeps_crawl_state(engine) -> None:
    with session_scope(engine) as s:
        first = crud.upsert_shop(s, "mastodon", "atelier", base_url="https://m.example")
        shop = s.get(Shop, first.id)
        shop.watermark = "1234"
        s.add(shop)
    with session_scope(engine) as s:
        again = crud.upsert_shop(s, "mastodon", "atelier", display_name="Atelier")
        assert (again.id, again.created) == (first.id, False)
        shop = s.get(Shop, first.id)
        assert shop.watermark == "1234" and shop.display_name == "Atelier"
        assert shop.base_url == "https://m.example"
        assert len(crud.list_shops(s)) == 1


def test_upsert_shop_rejects_unknown_network(engine) -> None:
    with session_scope(engine) as s, pytest.raises(ValueError, match="unknown network"):
        crud.upsert_shop(s, "myspace", "x")


def _post_and_photo(s, sha: str = "a" * 64):
    shop = crud.upsert_shop(s, "bluesky", "knit.bsky.social")
    post = crud.upsert_post(
        s,
        shop.id,
        "bluesky",
        "at://did:plc:x/app.bsky.feed.post/1",
        caption="Red <b>dress</b>",
        permalink="https://bsky.app/p/1",
    )
    photo = crud.add_photo(s, post.id, sha, source_url="https://cdn/x.jpg", width=400, height=533)
    return shop, post, photo


def test_posts_and_photos_are_stored_once(engine) -> None:
    with session_scope(engine) as s:
        _, post, photo = _post_and_photo(s)
        assert post.created and photo.created
    with session_scope(engine) as s:
        _, post2, photo2 = _post_and_photo(s)
        assert (post2.id, post2.created) == (post.id, False)
        assert (photo2.id, photo2.created) == (photo.id, False)
        stats = crud.counts(s)
    assert stats["shops"] == 1 and stats["posts"] == 1 and stats["photos"] == 1
    assert stats["photos_pending"] == 1


def test_exact_duplicate_in_another_post_links_to_first_photo(engine) -> None:
    with session_scope(engine) as s:
        shop, _, photo = _post_and_photo(s)
        other = crud.upsert_post(s, shop.id, "bluesky", "at://did:plc:x/app.bsky.feed.post/2")
        again = crud.add_photo(s, other.id, "a" * 64)
        assert (again.id, again.created) == (photo.id, False)
        assert s.get(Photo, photo.id).post_id != other.id


def test_unique_constraints_hold_at_the_database(engine) -> None:
    with session_scope(engine) as s:
        shop, _, _ = _post_and_photo(s)
    with pytest.raises(IntegrityError), session_scope(engine) as s:
        s.add(
            Post(
                shop_id=shop.id,
                network="bluesky",
                network_post_id="at://did:plc:x/app.bsky.feed.post/1",
            )
        )
        s.flush()
    with session_scope(engine) as s:  # the failed write left the stored post intact
        assert len(s.exec(select(Post)).all()) == 1


def test_foreign_keys_are_enforced(engine) -> None:
    with pytest.raises(IntegrityError), session_scope(engine) as s:
        s.add(Photo(post_id=999_999, sha256="b" * 64))
        s.flush()


def test_removing_a_shop_cascades_to_posts_photos_predictions(engine) -> None:
    with session_scope(engine) as s:
        _, _, photo = _post_and_photo(s)
        s.add(
            Prediction(
                photo_id=photo.id,
                head="category",
                label="Dress",
                confidence=0.9,
                top=[["Dress", 0.9]],
                model_version="m1",
            )
        )
        s.add(
            ModerationEvent(
                photo_id=photo.id,
                moderator="ann",
                action="accept",
                before={"status": "needs_review"},
                after={"status": "approved"},
            )
        )
    with session_scope(engine) as s:
        assert crud.remove_shop(s, "bluesky", "knit.bsky.social")
    with engine.connect() as conn:
        for table in ("posts", "photos", "predictions", "moderation_events"):
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0


def test_json_columns_round_trip(engine) -> None:
    with session_scope(engine) as s:
        shop, post, _ = _post_and_photo(s)
        row = s.get(Shop, shop.id)
        row.crawl_state = {"cursor": "abc", "pages": [1, 2]}
        s.add(row)
    with session_scope(engine) as s:
        assert s.get(Shop, shop.id).crawl_state == {"cursor": "abc", "pages": [1, 2]}


def test_rejected_media_recorded_once(engine) -> None:
    with session_scope(engine) as s:
        crud.record_rejected_media(s, "https://cdn/bad.jpg", "not an image", kind="invalid")
        crud.record_rejected_media(s, "https://cdn/bad.jpg", "truncated", kind="corrupt")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT reason, kind, attempts FROM rejected_media")).all()
    assert [tuple(r) for r in rows] == [("truncated", "corrupt", 2)]


def test_sqlite_runs_in_wal_with_foreign_keys(sqlite_url) -> None:
    from catalog.db import make_engine

    eng = make_engine(sqlite_url)
    with eng.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    eng.dispose()


def test_login_failures_lock_out_then_expire_and_success_clears(engine) -> None:
    with session_scope(engine) as s:
        for _ in range(2):
            logins.failed(s, "10.0.0.1", 3, 60)
        logins.failed(s, "10.0.0.2", 3, 60)
        assert logins.retry_after(s, "10.0.0.1") == 0
        logins.failed(s, "10.0.0.1", 3, 60)
        assert 59 <= logins.retry_after(s, "10.0.0.1") <= 61
        assert logins.retry_after(s, "10.0.0.2") == 0
        logins.failed(s, "10.0.0.3", 1, 60)  # a limit of one locks at the first failure
        assert logins.retry_after(s, "10.0.0.3") > 0
    with session_scope(engine) as s:  # the lockout ends; a day-old count is forgotten
        s.execute(
            update(LoginFailure).values(
                locked_until=utcnow() - timedelta(seconds=1),
                last_at=utcnow() - logins.FORGET_AFTER - timedelta(minutes=1),
            )
        )
        assert logins.retry_after(s, "10.0.0.1") == 0
        logins.failed(s, "10.0.0.2", 3, 60)
        row = s.get(LoginFailure, "10.0.0.2", populate_existing=True)
        assert row.failures == 1
    with session_scope(engine) as s:
        logins.succeeded(s, "10.0.0.2")  # clears its own count and the forgotten ones
        assert s.execute(select(LoginFailure.client)).scalars().all() == []


def test_concurrent_login_failures_are_all_counted(engine) -> None:
    def fail(_: int) -> None:
        with session_scope(engine) as s:
            logins.failed(s, "10.0.0.9", 1000, 60)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(fail, range(40)))
    with session_scope(engine) as s:
        assert s.get(LoginFailure, "10.0.0.9").failures == 40
