"""The shared Redis crawl frontier, seen from the pipeline.

scrapy-redis keeps each spider's request queue and duplicate filter in Redis (key names from
catalog/frontier_keys.py, which crawler/settings.py configures scrapy-redis with). The crawler
drops them when a crawl ends normally; a crawl that was killed leaves them behind, and
tomorrow's crawl would then skip every page it had already queued or seen (a feed's first page
has the same URL every night). So each pipeline run, holding the pipeline lock (no other run
may be crawling), starts from an empty frontier.
"""

from __future__ import annotations

from catalog import frontier_keys as keys
from catalog.config import Settings


def frontier_keys(settings: Settings) -> list[str]:
    """The queue and duplicate-filter keys of every spider, as the crawler names them."""
    return keys.frontier_keys(settings.database_url)


def reset_frontier(settings: Settings) -> int:
    """Delete the spiders' queue and duplicate-filter keys; returns how many existed."""
    import redis

    client = redis.Redis.from_url(settings.crawler.frontier, socket_connect_timeout=10)
    try:
        return int(client.delete(*frontier_keys(settings)))
    finally:
        client.close()
