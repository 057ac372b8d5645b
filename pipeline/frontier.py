"""The shared Redis crawl frontier, seen from the pipeline.

scrapy-redis keeps its request queue and duplicate filter in Redis under `<spider>:requests` and
`<spider>:dupefilter`, and the crawler persists them (SCHEDULER_PERSIST). Within one run that is
what lets several crawl processes share the work without fetching a page twice; across runs it
would make tonight's crawl skip every first page already fetched last night (a feed's first page
has the same URL every night). So each pipeline run, holding the pipeline lock, starts from an
empty frontier: nothing else may be crawling then.
"""

from __future__ import annotations

from crawler.run import SPIDERS


def frontier_keys() -> list[str]:
    return [f"{name}:{kind}" for name in SPIDERS for kind in ("requests", "dupefilter")]


def reset_frontier(url: str) -> int:
    """Delete the spiders' queue and duplicate-filter keys; returns how many existed."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=10)
    try:
        return int(client.delete(*frontier_keys()))
    finally:
        client.close()
