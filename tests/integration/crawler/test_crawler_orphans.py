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
from tests.support.crawl import rows, setup

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
            "not stored" in m and "photos refused by the test trigger" in m for m in shop.errors
        ), shop.errors
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER refuse_photos")
        again = crawl_subprocess(cfg)  # the page was not stored: fetched again, in full
    engine.dispose()
    assert again.status == "ok"
    photos = rows(sqlite_url, Photo)
    assert len(rows(sqlite_url, Post)) == 3 and len(photos) == 6
    assert files(media) == {p.stored_path for p in photos} | {p.thumb_path for p in photos}


def test_a_page_not_stored_leaves_its_photos_unknown_to_the_rest_of_the_crawl(
    tmp_path: Path, sqlite_url: str
):
    """The two real item pipelines of one crawl: after a page's commit fails, a later page with
    the same photo must download and store it, not take it for one already stored."""
    import io

    from PIL import Image
    from scrapy.utils.test import get_crawler

    from catalog import crud
    from catalog.db import session_scope
    from crawler import photos as ph
    from crawler.items import PageItem, PostData
    from crawler.pipelines import CatalogPipeline, PhotoPipeline, _url_key

    media = tmp_path / "media"
    crawler = get_crawler(
        settings_dict={"FILES_STORE": str(media), "VITRINA_DATABASE_URL": sqlite_url}
    )
    photos_pipe = PhotoPipeline.from_crawler(crawler)
    catalog_pipe = CatalogPipeline.from_crawler(crawler)
    engine = make_engine(sqlite_url)
    with session_scope(engine) as s:
        shop = crud.upsert_shop(s, *SHOP, base_url="https://masto.example")
    buf = io.BytesIO()
    Image.new("RGB", (300, 360), (180, 40, 60)).save(buf, "JPEG")
    limits = {"max_pixels": 10**8, "min_side": 100, "thumb_size": 128}
    stored = ph.store(media, limits, buf.getvalue())
    url = "https://files.example/red.jpg"
    photos_pipe.known_urls.add(_url_key(url))  # as media_downloaded does once it has stored it
    item = PageItem(
        shop.id,
        "mastodon:masto_shop",
        "mastodon",
        0,
        [PostData("1", "1".zfill(30), photo_urls=[url])],
        None,
        True,
    )
    item.photos[url] = {"ok": True, **stored.__dict__}
    with engine.begin() as conn:
        conn.exec_driver_sql(REFUSE)
    catalog_pipe.process_item(item)
    photos_pipe.close_spider()
    engine.dispose()
    assert files(media) == set() and len(stored.new_files) == 2
    assert _url_key(url) not in photos_pipe.known_urls
