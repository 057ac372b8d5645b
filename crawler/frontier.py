"""The shared Redis crawl frontier's keys (scrapy-redis request queues and duplicate filters).

The crawler drops them when a crawl ends normally; a crawl that was killed leaves them behind,
and the next crawl would then skip every page it had already queued or seen (a feed's first
page has the same URL every night). So a crawl that starts with no other crawl alive beside it
(crawler/run.py), and each pipeline run, starts from an empty frontier.
"""

from __future__ import annotations

from catalog.config import Settings


def frontier_keys(settings: Settings) -> list[str]:
    """The queue and duplicate-filter keys of every spider, as the crawler names them."""
    from crawler.run import SPIDERS
    from crawler.settings import for_crawl

    scrapy = for_crawl(settings, [])
    patterns = [scrapy.get("SCHEDULER_QUEUE_KEY", "%(spider)s:requests")]
    patterns.append(scrapy.get("SCHEDULER_DUPEFILTER_KEY", "%(spider)s:dupefilter"))
    return [p % {"spider": name} for name in SPIDERS for p in patterns]


def reset_frontier(settings: Settings) -> int:
    """Delete the spiders' queue and duplicate-filter keys; returns how many existed."""
    import redis

    client = redis.Redis.from_url(settings.crawler.frontier, socket_connect_timeout=10)
    try:
        return int(client.delete(*frontier_keys(settings)))
    finally:
        client.close()
