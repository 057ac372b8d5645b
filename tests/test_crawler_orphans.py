"""A page whose commit fails for a reason that is not a kill (a database error mid-commit) leaves
no photo files behind: those written for it go with it, and the shop says the page was not
stored. The database refuses for real: a SQLite trigger aborts every photo insert."""

from __future__ import annotations

from pathlib import Path

from catalog.db import make_engine
from catalog.models import Photo, Post
from crawler.emulator.catalogue import Catalogue
from crawler.emulator.server import EmulatorServer
from crawler.run import crawl_subprocess
from tests.test_crawler_crawl import rows, setup

SHOP = ("mastodon", "masto_shop")
REFUSE = (
    "CREATE TRIGGER refuse_photos BEFORE INSERT ON photos "
    "BEGIN SELECT RAISE(ABORT, 'photos refused by the test trigger'); END"
)


def files(media: Path) -> set[str]:
    return {str(p.relative_to(media)) for p in media.rglob("*") if p.is_file()}


def test_a_page_whose_commit_fails_leaves_no_photo_files(tmp_path: Path, sqlite_url: str):
    cat = Catalogue(seed=11)
    cat.add_shop(*SHOP)
    cat.add_posts(*SHOP, 3, 2)
    media = tmp_path / "media"
    engine = make_engine(sqlite_url)
    with EmulatorServer(cat, image_size=(200, 250)) as emu:
        cfg = setup(tmp_path, sqlite_url, emu, shops=[SHOP])
        with engine.begin() as conn:
            conn.exec_driver_sql(REFUSE)
        failed = crawl_subprocess(cfg)
        assert rows(sqlite_url, Post) == [] and rows(sqlite_url, Photo) == []
        assert files(media) == set()  # the six photos and thumbnails written went again
        shop = failed.shops["mastodon:masto_shop"]
        assert failed.status == "partial" and shop.errors
        assert any(
            "not stored" in m and "photos refused by the test trigger" in m
            for m in shop.errors
        ), shop.errors
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER refuse_photos")
        again = crawl_subprocess(cfg)  # the page was not stored: fetched again, in full
    engine.dispose()
    assert again.status == "ok"
    photos = rows(sqlite_url, Photo)
    assert len(rows(sqlite_url, Post)) == 3 and len(photos) == 6
    assert files(media) == {p.stored_path for p in photos} | {p.thumb_path for p in photos}
