"""What the four spiders share: shop tasks, paging with the watermark stop, error handling."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import scrapy
from scrapy import signals
from scrapy.exceptions import CloseSpider, DontCloseSpider
from scrapy.http import Response

from crawler.items import PageItem, PostData, RetryItem, RetryPhoto, ShopUpdate
from crawler.report import CrawlReport, redact
from crawler.spiders.checks import Refused, check_post, post_ref
from crawler.spiders.text import parse_time

# How often a crawl waiting on a shared frontier looks for pages other processes queued.
FRONTIER_POLL_SECONDS = 0.5

logger = logging.getLogger(__name__)


@dataclass
class ShopTask:
    """One shop to crawl this run, with where to start (see crawler.state)."""

    shop_id: int
    network: str
    handle: str
    base_url: str = ""
    account_id: str = ""
    seq: int = 0
    cursor: str | None = None
    stop_key: str = ""
    # The id of the post at the watermark, as the network wrote it (for `since_id`).
    watermark_id: str = ""
    posts_so_far: int = 0
    # Photos of this shop's stored posts that earlier crawls failed to download (claimed).
    retries: list[RetryPhoto] = field(default_factory=list)
    # The shop has a display name already (from config.toml or an earlier crawl).
    named: bool = False
    # Posts kept in this pass: one shown again (a pinned post, which Bluesky repeats in its
    # place on a later page) is neither kept nor counted twice.
    kept_ids: set[str] = field(default_factory=set)

    @property
    def key(self) -> str:
        return f"{self.network}:{self.handle}"


class Malformed(Exception):
    pass


class ShopSpider(scrapy.Spider):
    """Base class. Subclasses implement `first_requests(task)` and their parse callbacks, and
    call `page()` with each API page's posts."""

    network = ""

    def __init__(
        self,
        tasks: list[ShopTask] | None = None,
        report: CrawlReport | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.tasks = tasks or []
        self.report = report or CrawlReport()
        self.stopped_shops: set[int] = set()
        self._updates: list[ShopUpdate] = []  # found by check(), yielded by its callback

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> ShopSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._closed, signal=signals.spider_closed)
        if crawler.settings.get("REDIS_URL"):
            # A shared frontier can be empty for a moment while another process is mid-page:
            # stay a while before closing, so that work it queues next is shared too.
            crawler.signals.connect(spider._idle, signal=signals.spider_idle)
            crawler.signals.connect(spider._busy, signal=signals.response_received)
        return spider

    _idle_since: float | None = None

    def _closed(self, spider: Any = None, reason: str = "") -> None:
        if reason == "shutdown":  # Ctrl-C / SIGTERM: stored pages stay, the rest waits
            self.report.interrupted = True

    def _busy(self, *args: Any, **kwargs: Any) -> None:
        self._idle_since = None

    def _idle(self, *args: Any, **kwargs: Any) -> None:
        now = time.monotonic()
        if self._idle_since is None:
            self._idle_since = now
        if now - self._idle_since < self.settings.getfloat("VITRINA_FRONTIER_IDLE", 6.0):
            # Scrapy looks at the scheduler again only on its 5 s heartbeat: ask for a look
            # sooner, so that pages another process queues meanwhile are shared at once and the
            # crawl closes soon after its wait is over. (`_slot` is Scrapy's; hence the guard.)
            slot = getattr(self.crawler.engine, "_slot", None)
            if slot is not None:
                slot.nextcall.schedule(FRONTIER_POLL_SECONDS)
            raise DontCloseSpider

    @property
    def cfg(self) -> Any:
        """This network's settings section (catalog.config), passed through the crawler."""
        return self.settings.get("VITRINA_SETTINGS").networks.__getattribute__(self.network)

    @property
    def max_posts(self) -> int:
        return self.settings.getint("VITRINA_MAX_POSTS_PER_SHOP")

    async def start(self) -> Any:
        for task in self.tasks:
            self.report.shop(task.key)
            if task.retries:
                yield RetryItem(task.shop_id, task.key, self.network, task.retries)
            for request in self.first_requests(task):
                yield request

    def first_requests(self, task: ShopTask) -> Iterator[scrapy.Request]:
        raise NotImplementedError

    # ---- requests --------------------------------------------------------------------------

    def api_request(self, url: str, task: ShopTask, callback: Any, **meta: Any) -> scrapy.Request:
        """An API request: every status reaches the callback (which knows the network's errors);
        one download slot per network and host carries that network's concurrency and rate."""
        slot = f"{self.network}:{url.split('/')[2]}"
        if self.cfg.requests_per_second:
            # A configured rate ceiling is kept as is; AutoThrottle would lower it to latency.
            meta["autothrottle_dont_adjust_delay"] = True
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.on_failure,
            meta={"task": task, "handle_httpstatus_all": True, "download_slot": slot, **meta},
            headers={"Accept": "application/json"},
        )

    def on_failure(self, failure: Any) -> None:
        request = failure.request
        task: ShopTask = request.meta["task"]
        note = (
            " (not retried: the host name does not resolve)"
            if request.meta.get("vitrina_dns_failed")
            else ""
        )
        self.fail(task, f"request failed: {request.url}: {failure.getErrorMessage()}{note}")

    # ---- outcomes --------------------------------------------------------------------------

    def fail(self, task: ShopTask, message: str) -> None:
        """This shop stops for this run; its state stays where the last stored page left it."""
        logger.error("%s: %s", task.key, message)
        self.stopped_shops.add(task.shop_id)
        self.report.error(task.key, message)

    def deactivate(self, task: ShopTask, reason: str) -> None:
        """The account is gone: the shop is marked inactive by the item pipeline (the callback
        that found out yields `shop_updates()`) and stops for this run."""
        reason = redact(reason)  # stored in shops.inactive_reason
        logger.warning("%s: marking the shop inactive: %s", task.key, reason)
        self._updates.append(ShopUpdate(task.shop_id, task.key, inactive_reason=reason))
        self.stopped_shops.add(task.shop_id)
        self.report.error(task.key, f"shop marked inactive: {reason}", status="inactive")

    def auth_failed(self, task: ShopTask, message: str, *, close: bool = True) -> None:
        """Credentials rejected: nothing on this network can work, so its spider stops."""
        if self._auth_error:
            return
        self._auth_error = message
        text = f"{self.network}: {message} — every {self.network} shop is skipped this run"
        # Said once for the run, not once per shop as well: each shop is marked "auth".
        self.report.error(None, text, status="auth")
        for t in self.tasks:
            self.report.mark(t.key, "auth")
        if close:
            raise CloseSpider(f"auth_error: {message}")

    _auth_error = ""

    def remember_account(self, task: ShopTask, account_id: str, **fields: str) -> ShopUpdate:
        """The shop's resolved account, as an item to yield: the pipeline stores it. This run's
        later requests use it at once (the task holds it)."""
        task.account_id = account_id
        return ShopUpdate(task.shop_id, task.key, account_id=account_id, profile=dict(fields))

    def shop_updates(self) -> Iterator[ShopUpdate]:
        """The shop updates found while checking an answer (a gone account), to yield."""
        while self._updates:
            yield self._updates.pop(0)

    def json_of(self, response: Response) -> Any:
        """The JSON body, retried a few times if broken (proxies truncate), else Malformed."""
        try:
            return json.loads(response.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise Malformed(
                f"malformed JSON from {response.url} (HTTP {response.status}, "
                f"{len(response.body)} bytes): {exc}"
            ) from None

    def retry_malformed(self, response: Response, message: str) -> Iterator[scrapy.Request]:
        task: ShopTask = response.meta["task"]
        tries = response.meta.get("malformed_tries", 0)
        if tries < self.settings.getint("RETRY_TIMES"):
            logger.warning("%s: %s — asking again", task.key, message)
            retry = response.request.replace(dont_filter=True)  # type: ignore[union-attr]
            retry.meta["malformed_tries"] = tries + 1
            yield retry
        else:
            self.fail(task, f"{message}; page skipped, the next crawl resumes here")

    # ---- one post at a time -----------------------------------------------------------------

    def parse_each(
        self, task: ShopTask, raws: Any, parse: Callable[[Any], PostData | None]
    ) -> list[PostData]:
        """Parse a page's raw posts one by one: a post that cannot be read is refused with its
        reason (in the run's errors) and the others go on."""
        if not isinstance(raws, list):
            raise Malformed(f"expected a list of posts, got {type(raws).__name__}")
        posts = []
        for i, raw in enumerate(raws):
            try:
                post = parse(raw)
            except (Malformed, KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
                why = str(exc) if isinstance(exc, ValueError | Malformed) else repr(exc)
                self.refuse(task, post_ref(raw, i), f"unreadable: {why}")
                continue
            if post is not None:
                posts.append(post)
        return posts

    def refuse(self, task: ShopTask, what: str, reason: str) -> None:
        """One post is not stored; the shop's pass goes on, and it reports `partial`."""
        logger.warning("%s: %s refused: %s", task.key, what, reason)
        self.report.error(task.key, f"{what} refused: {reason}", status="partial")

    def give_up_message(self, response: Response) -> str:
        why = response.meta.get("vitrina_gave_up")
        tries = response.meta.get("retry_times", 0)
        if why:
            detail = f" ({why})"
        elif tries:
            detail = f" after {tries} retries"
        else:
            detail = ""  # an answer not worth asking again (a 4xx): asked once
        return f"HTTP {response.status} from {response.url}{detail}"

    # ---- paging ----------------------------------------------------------------------------

    def page(
        self,
        task: ShopTask,
        seq: int,
        posts: list[PostData],
        next_cursor: str | None,
        *,
        ordered: bool = True,
        base: str = "",
    ) -> tuple[PageItem, bool]:
        """Cut one API page at the watermark and at the first-crawl bound; returns the item and
        whether another page should be fetched. `ordered=False` (Shopify): the feed is not
        newest-first, so posts at or below the watermark are dropped but do not stop paging.
        Each post is checked first (crawler.spiders.checks); relative photo URLs resolve
        against `base`, the page's URL."""
        kept: list[PostData] = []
        seen: list[PostData] = []  # new posts, kept or not: the watermark moves over them all
        skipped = 0
        stop = False
        refused: list[tuple[str, str]] = []
        for raw_post in posts:
            old = bool(task.stop_key) and raw_post.key <= task.stop_key
            if old and not raw_post.pinned:
                if ordered:
                    stop = True
                    break
                continue
            if old:
                continue  # an old pinned post: already stored, and no reason to stop
            try:
                post, bad = check_post(raw_post, base)
            except Refused as exc:
                self.refuse(task, f"post {str(raw_post.network_post_id)[:80]}", str(exc))
                continue
            if bad and not post.photo_urls:
                reasons = "; ".join(dict.fromkeys(r for _, r in bad))
                self.refuse(task, f"post {post.network_post_id}", f"no photo to fetch: {reasons}")
                refused += bad
                continue
            for url, reason in bad:
                self.report.error(
                    task.key,
                    f"post {post.network_post_id}: photo {url[:120]} refused: {reason}",
                    status="partial",
                )
            # A refused post never sets the watermark: its id may be what was wrong with it.
            seen.append(post)
            if not post.photo_urls:
                # A video, a link or words alone: nothing to label, so not a catalogue post,
                # and not one of the shop's first max_posts_per_shop either.
                skipped += 1
                continue
            if post.network_post_id in task.kept_ids:
                continue  # already kept this pass (its pinned copy); the watermark sees it
            kept.append(post)
            task.kept_ids.add(post.network_post_id)
            task.posts_so_far += 1
            if not task.stop_key and task.posts_so_far >= self.max_posts:
                stop = True  # first crawl: bounded by crawler.max_posts_per_shop
                break
        final = stop or next_cursor is None
        # Pinned posts are shown out of order: they never set the watermark.
        newest = max((p for p in seen if not p.pinned), key=lambda p: p.key, default=None)
        top = (
            {"id": newest.network_post_id, "key": newest.key, "at": newest.posted_at}
            if newest
            else None
        )
        item = PageItem(
            shop_id=task.shop_id,
            shop=task.key,
            network=self.network,
            seq=seq,
            posts=kept,
            cursor=None if final else next_cursor,
            final=final,
            stop_key=task.stop_key,
            top=top,
            skipped=skipped,
            refused=refused,
        )
        return item, not final


def iso_key(timestamp: str, post_id: str) -> str:
    """A sortable key from an ISO timestamp (normalised to UTC) and an id breaking ties."""
    dt = parse_time(timestamp)
    stamp = dt.strftime("%Y-%m-%dT%H:%M:%S.%f") if dt else str(timestamp)
    return f"{stamp}|{post_id}"


def number_key(post_id: str) -> str:
    """Numeric ids (Mastodon snowflakes, Shopify ids) compare by value: pad to a fixed width."""
    return post_id.zfill(30)
