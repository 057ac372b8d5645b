"""Item pipelines: PhotoPipeline downloads and stores a page's photos (Scrapy's FilesPipeline
does the downloading through the downloader and its middlewares); CatalogPipeline writes the
page's posts, photos and crawl state to the catalogue in one transaction. A RetryItem (photos
earlier crawls failed to download) takes the same path, onto the posts already stored."""

from __future__ import annotations

import asyncio
import errno
import functools
import hashlib
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.pipelines.files import FilesPipeline
from scrapy.utils.defer import deferred_from_coro
from sqlalchemy import or_, select, text, update
from twisted.python.failure import Failure

from catalog import crud
from catalog.db import make_engine, session_scope
from catalog.models import Photo, Shop
from catalog.records import PhotoFailure, download_failure, http_failure
from crawler import photos as ph
from crawler.items import PageItem, RetryItem, ShopUpdate
from crawler.report import CrawlReport
from crawler.spiders.text import parse_time
from crawler.state import commit_page

logger = logging.getLogger(__name__)


# Photo ids that may commit after a higher one (concurrent pages on PostgreSQL): far more than
# the photos of the pages several crawl processes store at the same moment.
CATCH_UP_OVERLAP = 1000


class PhotoFailed(Exception):
    """A photo could not be downloaded or was refused: the reason recorded for people, and
    its kind (catalog.records.PhotoFailure), which decides whether a later crawl retries it."""

    def __init__(self, reason: str, kind: PhotoFailure):
        super().__init__(reason)
        self.reason, self.kind = reason, kind


def _failure(reason: str, kind: PhotoFailure) -> dict[str, Any]:
    return {"error": reason, "kind": kind.value}


class StorageFull(Exception):
    """The media folder's disk is full (or over quota): no photo can be stored, so the crawl
    stops; the page is not stored and no photo is recorded as failed (none spends a retry)."""


_FULL = (errno.ENOSPC, errno.EDQUOT)


class _OneLinePhotoFailures(logging.Filter):
    """Scrapy's media pipeline logs each failed photo with a traceback; PhotoPipeline has
    already logged it as one line with its reason, so those records are dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None and record.args and isinstance(record.args, tuple):
            exc = getattr(record.args[0], "value", None)  # logger.exception(failure)
        if exc is None and hasattr(record.msg, "value"):
            exc = record.msg.value
        return not isinstance(exc, PhotoFailed | StorageFull)


logging.getLogger("scrapy.pipelines.media").addFilter(_OneLinePhotoFailures())
logging.getLogger("scrapy.pipelines.files").addFilter(_OneLinePhotoFailures())




NOT_DOWNLOADED = _failure("not downloaded", PhotoFailure.not_downloaded)

# Sent (with `item=`) when a page or its retried photos could not be stored: its photos are no
# longer "already stored" for the rest of this crawl.
item_not_stored = object()


def _url_key(url: str) -> bytes:
    return hashlib.sha1(url.encode()).digest()


class PhotoPipeline(FilesPipeline):
    """Downloads every photo of a page; validates, normalises and stores each in a worker thread
    (Pillow releases the GIL while it decodes, resizes and encodes) so the reactor keeps
    downloading meanwhile. Worker processes were measured too: no faster on two cores, as the
    bytes' trip between processes and the workers' start-up cost what the GIL did."""

    def __init__(self, store_uri: str, *, crawler: Crawler):
        super().__init__(store_uri, crawler=crawler)
        s = crawler.settings
        self.root = Path(store_uri)
        self.limits = {
            "max_pixels": s.getint("VITRINA_MAX_IMAGE_PIXELS"),
            "min_side": s.getint("VITRINA_MIN_IMAGE_SIDE"),
            "thumb_size": s.getint("VITRINA_THUMBNAIL_SIZE"),
        }
        self.pool = ThreadPoolExecutor(
            max_workers=s.getint("VITRINA_IMAGE_WORKERS", 2), thread_name_prefix="photos"
        )
        self._store = functools.partial(ph.store, self.root, self.limits)
        self.known_urls: set[bytes] = set()
        self.db_url = s.get("VITRINA_DATABASE_URL")
        self.maxsize = s.getint("DOWNLOAD_MAXSIZE")
        self.crawler = crawler
        crawler.signals.connect(self._bytes_received, signal=signals.bytes_received)
        crawler.signals.connect(self._not_stored, signal=item_not_stored)

    def _not_stored(self, item: PageItem | RetryItem) -> None:
        """A page that was not stored: its photos downloaded this crawl are not known after
        all, so a later page with one of them downloads and stores it."""
        for url, result in item.photos.items():
            if not result.get("known"):
                self.known_urls.discard(_url_key(url))

    def _bytes_received(self, data: bytes, request: Request, spider: Spider) -> None:
        """Count a photo's bytes: Scrapy cancels a body that grows past DOWNLOAD_MAXSIZE with
        no Content-Length with a bare CancelledError, which must read as "too large"."""
        if request.meta.get("photo"):
            got = request.meta.get("vitrina_bytes", 0) + len(data)
            request.meta["vitrina_bytes"] = got
            if got > self.maxsize:
                request.meta["vitrina_too_large"] = True

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PhotoPipeline:
        return cls(crawler.settings["FILES_STORE"], crawler=crawler)

    def open_spider(self, spider: Spider | None = None) -> None:
        super().open_spider()
        # URLs already stored need no second download (a resumed or overlapping page).
        engine = make_engine(self.db_url)
        with engine.connect() as conn:
            self.known_urls = {_url_key(u) for (u,) in conn.execute(select(Photo.source_url))}
        engine.dispose()

    def close_spider(self, spider: Spider | None = None) -> None:
        self.pool.shutdown(wait=True)

    def get_media_requests(self, item: Any, info: Any) -> list[Request]:
        if not isinstance(item, PageItem | RetryItem):
            return []
        return [Request(u, meta={"photo": True}) for u in item.photo_urls]

    def media_to_download(self, request: Request, info: Any, *, item: Any = None) -> Any:
        if _url_key(request.url) in self.known_urls:
            return {"known": True}
        return None

    def media_failed(self, failure: Failure, request: Request, info: Any) -> Any:
        exc = failure.value
        if isinstance(exc, StorageFull):
            raise exc
        if isinstance(exc, PhotoFailed):
            why = exc
        elif isinstance(exc, IgnoreRequest):  # the SSRF guard, a request our middleware refused
            why = PhotoFailed(str(exc) or "refused", PhotoFailure.refused)
        elif request.meta.get("vitrina_too_large") or "larger than download max size" in str(exc):
            # Lasting (the same file is as large tomorrow): never fetched again.
            why = PhotoFailed(
                f"too large: over {self.maxsize // 2**20} MB (the download limit)",
                PhotoFailure.too_large,
            )
        else:
            name = type(exc).__name__
            why = PhotoFailed(f"download failed: {name}: {exc}", download_failure(name, str(exc)))
        logger.warning("photo %s: %s", request.url, why)  # one line; its traceback is noise
        raise why

    async def media_downloaded(
        self, response: Response, request: Request, info: Any, *, item: Any = None
    ) -> dict[str, Any]:
        if response.status != 200:
            why = response.meta.get("vitrina_gave_up", "")
            raise PhotoFailed(
                f"download failed: HTTP {response.status}" + (f" ({why})" if why else ""),
                http_failure(response.status),
            )
        body = response.body
        if not body:
            raise PhotoFailed("download failed: empty body", PhotoFailure.network)
        loop = asyncio.get_running_loop()
        try:
            meta = await loop.run_in_executor(self.pool, self._store, body)
        except ph.PhotoRejected as exc:
            raise PhotoFailed(exc.reason, exc.kind) from None
        except OSError as exc:
            if exc.errno not in _FULL:
                raise
            message = (
                f"the media folder {self.root} is full ({exc.strerror}): the crawl stopped; "
                "free some space and crawl again (nothing was recorded as failed)"
            )
            self.report_full(message)
            raise StorageFull(message) from None
        self.known_urls.add(_url_key(request.url))
        return {"ok": True, **meta.__dict__}

    def report_full(self, message: str) -> None:
        report = getattr(self.crawler.spider, "report", None)
        if report is not None and not report.fatal:
            report.fatal = message
            logger.error("%s", message)

    def item_completed(self, results: list[Any], item: Any, info: Any) -> Any:
        if isinstance(item, PageItem | RetryItem):
            for url, (ok, result) in zip(item.photo_urls, results, strict=True):
                if ok:
                    item.photos[url] = result
                else:
                    exc = result.value if isinstance(result, Failure) else result
                    if isinstance(exc, PhotoFailed):
                        item.photos[url] = _failure(exc.reason, exc.kind)
                    else:
                        item.photos[url] = _failure(f"failed: {exc!r}", PhotoFailure.error)
        return item


def _parse_time(value: str) -> datetime | None:
    # In UTC: SQLite keeps a datetime's wall clock and drops its offset, so a +01:00 time
    # stored as given would read back an hour late.
    return parse_time(value)


class CatalogPipeline:
    """Stores a page: posts, photos (exact duplicates by sha256, near-duplicates by perceptual
    hash), refused media and the shop's crawl state, all in one transaction."""

    def __init__(self, crawler: Crawler):
        s = crawler.settings
        self.crawler = crawler
        self.engine = make_engine(s.get("VITRINA_DATABASE_URL"))
        self.index = ph.PhashIndex(s.getint("VITRINA_NEAR_DUPLICATE_DISTANCE"))
        self.synced = 0  # the highest photo id the index has looked at
        self.report = CrawlReport()
        self.run_id = s.getint("VITRINA_RUN_ID")  # the crawl run that claimed RetryItems
        self.media_root = Path(s.get("FILES_STORE") or ".")
        self._stopping = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CatalogPipeline:
        return cls(crawler)

    def open_spider(self, spider: Spider | None = None) -> None:
        # The spider carries the run's report (settings are deep-copied; a report is shared).
        self.report = getattr(self.crawler.spider, "report", self.report)
        with self.engine.connect() as conn:
            self._catch_up(conn)

    def _catch_up(self, conn: Any) -> None:
        """Index the originals stored since the last look, by this process's other spiders (one
        per network) or by other crawl processes: the same product posted on two networks the
        same night is then one photo and a near-duplicate. Ids are not committed in id order on
        PostgreSQL, so each look starts CATCH_UP_OVERLAP ids back (the index ignores repeats)."""
        rows = conn.execute(
            select(Photo.id, Photo.phash)
            .where(
                Photo.id > self.synced - CATCH_UP_OVERLAP,
                Photo.phash != "",
                Photo.duplicate_of_id.is_(None),
            )
            .order_by(Photo.id)
        )
        for photo_id, phash in rows:
            self.index.add(photo_id, phash)
            self.synced = max(self.synced, photo_id)

    def close_spider(self, spider: Spider | None = None) -> None:
        self.engine.dispose()

    def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        if self.report.fatal:
            # The disk is full: store nothing more (this page is fetched again by the next
            # crawl, its photos spend no retry), and stop this network's spider.
            if not self._stopping and self.crawler.engine is not None:
                self._stopping = True
                deferred_from_coro(self.crawler.engine.close_spider_async(reason="storage full"))
            return item  # not stored; silently, as the crawl's error says it all
        if isinstance(item, RetryItem):
            return self._stored_or_undone(item, self._store_retries)
        if isinstance(item, ShopUpdate):
            return self._store_shop_update(item)
        if not isinstance(item, PageItem):
            return item
        return self._stored_or_undone(item, self._store_page)

    def _stored_or_undone(self, item: Any, store: Any) -> Any:
        """Store a page (or retried photos) in one transaction; if the commit fails for a
        reason other than a kill (a constraint, a database error), the photo files written for
        it go too, and its shop says so: the next crawl fetches the page again."""
        try:
            return store(item)
        except Exception as exc:
            self.drop_unstored_files(item)
            self.crawler.signals.send_catch_log(signal=item_not_stored, item=item)
            why = (str(exc).strip().splitlines() or [""])[0][:300]
            what = f"page {item.seq}" if isinstance(item, PageItem) else "retried photos"
            message = (
                f"{what} not stored ({type(exc).__name__}: {why}); "
                "the next crawl fetches it again"
            )
            logger.error("%s: %s", item.shop, message)
            self.report.error(item.shop, message)
            return item

    def drop_unstored_files(self, item: PageItem | RetryItem) -> int:
        """Remove the photo and thumbnail files this crawl wrote for an item that was not
        stored, except those a stored photo uses (files are content-addressed: another page may
        have stored the same photo meanwhile). One narrow race is left: another crawl process
        that found this very file written and commits its row after this check. Returns how
        many files went."""
        written = {rel for r in item.photos.values() for rel in r.get("new_files", ())}
        if not written:
            return 0
        try:
            with self.engine.connect() as conn:
                used = conn.execute(
                    select(Photo.stored_path, Photo.thumb_path).where(
                        or_(Photo.stored_path.in_(written), Photo.thumb_path.in_(written))
                    )
                ).all()
        except Exception:  # the database is gone too: keep them (a re-crawl reuses them)
            logger.warning("%s: could not check which photo files are unused", item.shop)
            return 0
        removed = 0
        for rel in written - {path for row in used for path in row}:
            try:
                (self.media_root / rel).unlink()
                removed += 1
            except FileNotFoundError:
                pass
        return removed

    def _store_page(self, item: PageItem) -> PageItem:
        counts = {
            "pages": 1,
            "new_posts": 0,
            "new_photos": 0,
            "duplicates": 0,
            "near_duplicates": 0,
            "rejected": 0,
            "skipped": item.skipped,
        }
        with session_scope(self.engine) as session:
            # Take the shop row's write lock first: crawl state is read-modify-write, and another
            # crawl process may be storing another page of the same shop.
            session.execute(
                update(Shop).where(Shop.id == item.shop_id).values(id=Shop.id)
                if session.get_bind().dialect.name == "sqlite"
                else text("SELECT id FROM shops WHERE id = :id FOR UPDATE").bindparams(
                    id=item.shop_id
                )
            )
            stored_posts = crud.upsert_posts(
                session,
                item.shop_id,
                item.network,
                [
                    {
                        "network_post_id": post.network_post_id,
                        "permalink": post.permalink[:2048],
                        "caption": post.caption,
                        "title": post.title[:1024],
                        "price": post.price[:64],
                        "vendor": post.vendor[:255],
                        "product_type": post.product_type[:255],
                        "tags": post.tags,
                        "pinned": post.pinned,
                        "posted_at": _parse_time(post.posted_at),
                    }
                    for post in item.posts
                ],
            )
            counts["new_posts"] = sum(p.created for p in stored_posts)
            found: list[tuple[int, int, str, dict[str, Any]]] = []
            for url, reason in item.refused:  # photos of posts refused whole
                counts["rejected"] += 1
                crud.record_rejected_media(
                    session, url, f"refused: {reason}", kind=PhotoFailure.refused
                )
            for post, stored in zip(item.posts, stored_posts, strict=True):
                for url, reason in post.refused_photos:  # URLs no client can fetch
                    counts["rejected"] += 1
                    crud.record_rejected_media(
                        session, url, f"refused: {reason}", stored.id, kind=PhotoFailure.refused
                    )
                for position, url in enumerate(post.photo_urls):
                    result = item.photos.get(url, NOT_DOWNLOADED)
                    if "error" in result:
                        counts["rejected"] += 1
                        crud.record_rejected_media(
                            session, url, result["error"], stored.id, position, kind=result["kind"]
                        )
                    elif not result.get("known"):  # known: stored by an earlier crawl
                        found.append((stored.id, position, url, result))
            added = self._add_photos(session, found, counts)
            shop = session.get(Shop, item.shop_id)
            assert shop is not None
            result = commit_page(
                shop.crawl_state or {},
                seq=item.seq,
                cursor=item.cursor,
                final=item.final,
                top=item.top,
                stop_key=item.stop_key,
                posts=len(item.posts),
            )
            shop.crawl_state = result.state
            if result.finished:
                if result.top is not None:
                    shop.watermark = result.top["id"][:255]
                    shop.watermark_at = _parse_time(result.top.get("at", ""))
                shop.last_crawled_at = datetime.now(UTC)
            session.add(shop)
        # Only after the commit: a rolled-back page must not match future near-duplicates.
        for photo_id, phash in added:
            self.index.add(photo_id, phash)
        self.report.add(item.shop, **counts)
        return item

    def _add_photos(
        self,
        session: Any,
        found: list[tuple[int, int, str, dict[str, Any]]],
        counts: dict[str, int],
    ) -> list[tuple[int, str]]:
        """Store downloaded photos, each (post id, position, URL, PhotoPipeline's result):
        originals, near-duplicates of a stored photo or of an original among these (pointing
        at it), exact copies skipped; counted in `counts`. Two statements: originals, then the
        near-duplicates. Returns the new originals' (id, phash) for the index, after commit."""
        if found:
            self._catch_up(session.connection())
        originals: list[dict[str, Any]] = []
        nears: list[tuple[dict[str, Any], int | str]] = []  # (row, photo id or sha256)
        local = ph.PhashIndex(self.index.max_distance)  # position in `originals`
        seen: set[str] = set()
        for post_id, position, url, result in found:
            if result["sha256"] in seen:
                counts["duplicates"] += 1  # the same file twice on this page
                continue
            seen.add(result["sha256"])
            row = {
                "post_id": post_id,
                "sha256": result["sha256"],
                "position": position,
                "source_url": url,
                "phash": result["phash"],
                "width": result["width"],
                "height": result["height"],
                "stored_path": result["stored_path"],
                "thumb_path": result["thumb_path"],
            }
            if (near := self.index.nearest(result["phash"])) is not None:
                nears.append((row, near))
            elif (i := local.nearest(result["phash"])) is not None:
                nears.append((row, originals[i]["sha256"]))
            else:
                local.add(len(originals), result["phash"])
                originals.append(row)
        added: list[tuple[int, str]] = []
        photo_ids: dict[str, int] = {}
        for row, up in zip(originals, crud.add_photos(session, originals), strict=True):
            photo_ids[row["sha256"]] = up.id
            if up.created:
                counts["new_photos"] += 1
                added.append((up.id, row["phash"]))
            else:
                counts["duplicates"] += 1  # an exact copy of a stored photo
        near_rows = [
            row | {"duplicate_of_id": t if isinstance(t, int) else photo_ids[t]} for row, t in nears
        ]
        for up in crud.add_photos(session, near_rows):
            counts["near_duplicates" if up.created else "duplicates"] += 1
        return added

    def _store_shop_update(self, item: ShopUpdate) -> ShopUpdate:
        with session_scope(self.engine) as session:
            if item.account_id or item.profile:
                crud.remember_account(session, item.shop_id, item.account_id, item.profile)
            if item.inactive_reason is not None:
                crud.deactivate_shop(session, item.shop_id, item.inactive_reason)
        return item

    def _store_retries(self, item: RetryItem) -> RetryItem:
        """Photos earlier crawls failed to download, fetched again: those that came are stored
        on their posts like any photo, and their rejected_media rows go, in one transaction (a
        crawl killed before it leaves the rows for the next); those that failed again count
        one more attempt."""
        counts = {
            "retried": len(item.retries),
            "recovered": 0,
            "new_photos": 0,
            "duplicates": 0,
            "near_duplicates": 0,
        }
        with session_scope(self.engine) as session:
            found: list[tuple[int, int, str, dict[str, Any]]] = []
            stored: list[int] = []
            for r in item.retries:
                result = item.photos.get(r.url, NOT_DOWNLOADED)
                if "error" in result:
                    crud.retry_failed(
                        session, r.rejected_id, self.run_id, result["error"], result["kind"]
                    )
                    continue
                counts["recovered"] += 1
                stored.append(r.rejected_id)
                if not result.get("known"):  # known: stored since, from another post
                    found.append((r.post_id, r.position, r.url, result))
            added = self._add_photos(session, found, counts)
            crud.forget_rejected_media(session, stored)
        for photo_id, phash in added:
            self.index.add(photo_id, phash)
        self.report.add(item.shop, **counts)
        return item
