"""Scrapy settings for Vitrina's crawl, derived from config.toml (catalog.config.Settings).

The module-level names are the static part (like a Scrapy project's settings.py); `for_crawl`
adds what comes from the operator's configuration."""

from __future__ import annotations

import os
from typing import Any

from catalog import frontier_keys
from catalog.config import Settings

BOT_NAME = "vitrina"
SPIDER_MODULES = ["crawler.spiders"]
ROBOTSTXT_OBEY = False  # documented APIs, not web pages; politeness is enforced below
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
# Only the components a crawl uses. Scrapy imports every entry of the *_BASE dicts, even one set
# to None, to normalise its name: the remote-control extension alone pulled in aiohttp (≈0.5 s of
# CPU at each crawl's start), the cookies middleware tldextract. What is left out here: telnet,
# remote control, memory debugger/usage, feed export, spider state, periodic log stats, robots.txt
# (ROBOTSTXT_OBEY is off), HTTP auth, meta refresh, cookies (COOKIES_ENABLED is off), HTTP cache.
EXTENSIONS_BASE = {
    "scrapy.extensions.corestats.CoreStats": 0,
    "scrapy.extensions.logcount.LogCount": 0,
    "scrapy.extensions.closespider.CloseSpider": 0,
    "scrapy.extensions.throttle.AutoThrottle": 0,
}
DOWNLOADER_MIDDLEWARES_BASE = {
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": 50,
    "scrapy.downloadermiddlewares.downloadtimeout.DownloadTimeoutMiddleware": 350,
    "scrapy.downloadermiddlewares.defaultheaders.DefaultHeadersMiddleware": 400,
    "scrapy.downloadermiddlewares.useragent.UserAgentMiddleware": 500,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": 550,
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": 590,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": 600,
    "scrapy.downloadermiddlewares.httpproxy.HttpProxyMiddleware": 750,
    "scrapy.downloadermiddlewares.stats.DownloaderStats": 850,
}
LOG_LEVEL = "WARNING"
LOG_INSTALL_ROOT_HANDLER = True
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
# Scrapy's downloader with the per-slot concurrency limit kept (see crawler/downloader.py).
DOWNLOADER = "crawler.downloader.Downloader"
DOWNLOADER_MIDDLEWARES = {
    "crawler.middlewares.SSRFGuardMiddleware": 50,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.PoliteRetryMiddleware": 550,
}
ITEM_PIPELINES = {
    "crawler.pipelines.PhotoPipeline": 100,
    "crawler.pipelines.CatalogPipeline": 800,
}
# Photo files are content-addressed by the pipeline; Scrapy's own file expiry does not apply.
FILES_EXPIRES = 0
MEDIA_ALLOW_REDIRECTS = True
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408]
HTTPERROR_ALLOW_ALL = False
DNS_TIMEOUT = 20
DOWNLOAD_MAXSIZE = 64 * 1024 * 1024  # a photo larger than this is not a product photo
DOWNLOAD_WARNSIZE = 16 * 1024 * 1024
# Memory: a crawl of many shops must not hold every pending request in RAM at once.
SCHEDULER_PRIORITY_QUEUE = "scrapy.pqueues.DownloaderAwarePriorityQueue"
SCRAPER_SLOT_MAX_ACTIVE_SIZE = 20_000_000


def import_http_handler() -> None:
    """Import Scrapy's HTTP download handler with a cheap inspect.stack(). Its TLS modules make
    deprecated aliases at import time, and scrapy.utils.deprecate.create_deprecated_class calls
    inspect.stack() and inspect.getmodule() only to name the calling module: frame info with
    source for every frame of the (deep, inside the reactor) import stack, and a walk of every
    loaded module, 0.3-0.8 s of CPU at every crawl's start. The frame's globals name it."""
    import inspect
    import sys

    def stack(context: int = 1) -> list[tuple[Any]]:
        frames, f = [], sys._getframe(1)
        while f is not None:
            frames.append((f,))
            f = f.f_back
        return frames

    def getmodule(obj: Any, _filename: str | None = None) -> Any:
        return sys.modules.get(getattr(obj, "f_globals", {}).get("__name__", ""))

    real = inspect.stack, inspect.getmodule
    inspect.stack, inspect.getmodule = stack, getmodule  # type: ignore[assignment]
    try:
        import scrapy.core.downloader.handlers.http11  # noqa: F401
    finally:
        inspect.stack, inspect.getmodule = real


def _api_slots(settings: Settings, shops: list[Any]) -> dict[str, dict[str, Any]]:
    """One download slot per network and host, with that network's concurrency and rate."""
    slots: dict[str, dict[str, Any]] = {}
    for shop in shops:
        cfg = getattr(settings.networks, shop.network)
        if shop.network == "instagram":
            host = settings.networks.instagram.base_url
        elif shop.network == "bluesky":
            host = settings.networks.bluesky.base_url
        else:
            host = shop.base_url
        netloc = host.split("/")[2] if "//" in host else host
        slots[f"{shop.network}:{netloc}"] = {
            "concurrency": cfg.concurrency,
            "delay": 1.0 / cfg.requests_per_second if cfg.requests_per_second else 0.0,
            "jitter": 0,
        }
    return slots


def for_crawl(settings: Settings, shops: list[Any], **extra: Any) -> dict[str, Any]:
    c = settings.crawler
    out: dict[str, Any] = {k: v for k, v in globals().items() if k.isupper()}
    out |= {
        "USER_AGENT": settings.user_agent,
        "CONCURRENT_REQUESTS": c.concurrent_requests,
        "CONCURRENT_REQUESTS_PER_DOMAIN": c.concurrent_requests_per_domain,
        "DOWNLOAD_DELAY": c.download_delay,
        "AUTOTHROTTLE_ENABLED": c.autothrottle,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": c.autothrottle_target_concurrency,
        "AUTOTHROTTLE_START_DELAY": c.download_delay,
        "AUTOTHROTTLE_MAX_DELAY": max(c.max_retry_after, 10.0),
        "DOWNLOAD_TIMEOUT": c.request_timeout,
        "RETRY_TIMES": c.retry_times,
        "DOWNLOAD_SLOTS": _api_slots(settings, shops),
        "FILES_STORE": str(settings.media_dir),
        "VITRINA_SETTINGS": settings,
        "VITRINA_DATABASE_URL": settings.database_url,
        "VITRINA_MAX_POSTS_PER_SHOP": c.max_posts_per_shop,
        "VITRINA_ALLOWED_PRIVATE_HOSTS": list(c.allowed_private_hosts),
        "VITRINA_RETRY_BACKOFF": c.retry_backoff,
        "VITRINA_MAX_RETRY_AFTER": c.max_retry_after,
        "VITRINA_MAX_IMAGE_PIXELS": settings.storage.max_image_pixels,
        "VITRINA_MIN_IMAGE_SIDE": settings.storage.min_image_side,
        "VITRINA_THUMBNAIL_SIZE": settings.storage.thumbnail_size,
        "VITRINA_IMAGE_WORKERS": c.image_workers or os.cpu_count() or 1,
        "VITRINA_NEAR_DUPLICATE_DISTANCE": settings.storage.near_duplicate_distance,
    }
    if c.frontier:
        # scrapy-redis: crawl processes on the same catalogue share one request queue and one
        # duplicate filter (keys named after the catalogue, so two installs never mix). The
        # filter is dropped when a crawl ends: tomorrow's first pages must be fetched again.
        url = settings.database_url
        out |= {
            "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
            "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
            "SCHEDULER_PERSIST": False,
            "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",
            "SCHEDULER_QUEUE_KEY": frontier_keys.queue_key(url),
            "SCHEDULER_DUPEFILTER_KEY": frontier_keys.dupefilter_key(url),
            "DUPEFILTER_KEY": frontier_keys.dupefilter_key(url),
            "REDIS_URL": c.frontier,
            "SCHEDULER_IDLE_BEFORE_CLOSE": 1,
        }
    out |= extra
    return out
