"""Migration m001: photos carry copies of their post's shop, network and date and whether
shoppers see them (is_public), backfilled on upgrade and kept in step by every write."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlmodel import Session

from catalog import crud, moderation
from catalog.db import alembic_config, make_engine, migrate, migration_transaction, session_scope
from catalog.models import Photo

PRICE = (Decimal("45.00"), "EUR")
COPIES = (
    "SELECT shop_id, network, posted_at, is_public, price_amount, price_currency FROM photos"
    " WHERE id = :id"
)


def _copies(engine, photo_id: int) -> tuple:
    with engine.connect() as conn:
        shop, network, posted, public, amount, currency = conn.execute(
            text(COPIES), {"id": photo_id}
        ).one()
    if isinstance(posted, str):  # SQLite, read without the model's type
        posted = datetime.fromisoformat(posted)
    if posted is not None and posted.tzinfo is None:
        posted = posted.replace(tzinfo=UTC)
    if amount is not None:
        assert (Decimal(str(amount)), currency) == PRICE
    return shop, network, posted, bool(public)


def test_upgrade_backfills_the_copies_and_downgrade_removes_them(db_url: str) -> None:
    engine = make_engine(db_url)
    cfg = alembic_config(engine)
    below = ScriptDirectory.from_config(cfg).get_revision("m001").down_revision
    with migration_transaction(engine) as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, str(below))
    posted = "2026-10-01 12:30:00"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO shops (id, network, handle, display_name, profile_url, base_url,"
                " account_id, active, inactive_reason, watermark, crawl_state, created_at)"
                " VALUES (7, 'bluesky', 'knit', '', '', '', '', true, '', '', '{}', :at)"
            ),
            {"at": posted},
        )
        conn.execute(
            text(
                "INSERT INTO posts (id, shop_id, network, network_post_id, permalink, caption,"
                " title, price, price_amount, price_currency, vendor, product_type, tags, pinned,"
                " posted_at, fetched_at) VALUES (3, 7, 'bluesky', 'p3', '', '', '', '', '45.00',"
                " 'EUR', '', '', '[]', false, :at, :at)"
            ),
            {"at": posted},
        )
        for pid, status, dup in (
            (1, "auto_accepted", None),
            (2, "needs_review", None),
            (3, "approved", 1),  # a repost: not shown on its own
            (4, "partly_accepted", None),
        ):
            conn.execute(
                text(
                    "INSERT INTO photos (id, post_id, position, source_url, sha256, phash,"
                    " width, height, stored_path, thumb_path, duplicate_of_id, status,"
                    " model_version, reviewed_by, version, created_at)"
                    " VALUES (:id, 3, 0, '', :sha, '', 1, 1, '', '', :dup, :status, '', '', 1,"
                    " :at)"
                ),
                {"id": pid, "sha": f"{pid:064x}", "dup": dup, "status": status, "at": posted},
            )
    migrate(engine)
    if engine.dialect.name == "sqlite":  # photos altered in place: its triggers are still there
        with engine.connect() as conn:
            triggers = conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'photos'"
            ).scalars()
            assert "photo_vectors_ad" in set(triggers)
    at = datetime(2026, 10, 1, 12, 30, tzinfo=UTC)
    assert _copies(engine, 1) == (7, "bluesky", at, True)
    assert _copies(engine, 2) == (7, "bluesky", at, False)
    assert _copies(engine, 3) == (7, "bluesky", at, False)
    assert _copies(engine, 4) == (7, "bluesky", at, True)
    with migration_transaction(engine) as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, str(below))
    with engine.connect() as conn:
        columns = set(conn.execute(text("SELECT * FROM photos")).keys())
    assert not columns & {"shop_id", "network", "posted_at", "is_public", "price_amount"}
    assert {"status", "post_id"} <= columns
    migrate(engine)
    assert _copies(engine, 4) == (7, "bluesky", at, True)
    engine.dispose()


def test_every_write_keeps_the_copies_in_step(db_url: str) -> None:
    engine = make_engine(db_url)
    at = datetime(2026, 11, 2, 8, tzinfo=UTC)
    with session_scope(engine) as s:
        shop = crud.upsert_shop(s, "mastodon", "lina").id
        post = crud.upsert_post(s, shop, "mastodon", "1", posted_at=at, price="45 EUR").id
        one, two = (
            u.id
            for u in crud.add_photos(
                s,
                [
                    {"post_id": post, "sha256": "a" * 64, "status": "auto_accepted"},
                    {"post_id": post, "sha256": "b" * 64, "status": "needs_review"},
                ],
            )
        )
        three = crud.add_photo(s, post, "c" * 64, status="approved", duplicate_of_id=one).id
        moderation.add_moderator(s, "ana", "long enough password")
    assert _copies(engine, one) == (shop, "mastodon", at, True)
    assert _copies(engine, two) == (shop, "mastodon", at, False)
    assert _copies(engine, three) == (shop, "mastodon", at, False)  # a repost
    with session_scope(engine) as s:  # the single label write, as moderators and classify use it
        moderation.decide(s, two, 1, "ana", "accept")
        moderation.decide(s, one, 1, "ana", "reject")
        moderation.decide(s, three, 1, "ana", "accept")
    assert _copies(engine, two)[3] is True
    assert _copies(engine, one)[3] is False
    assert _copies(engine, three)[3] is False  # still a repost
    with Session(engine) as s:  # an ORM write (seeds, scripts)
        s.get(Photo, one).status = "approved"
        s.commit()
    assert _copies(engine, one)[3] is True
    engine.dispose()
