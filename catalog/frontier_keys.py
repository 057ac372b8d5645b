"""The Redis key names of the shared crawl frontier (scrapy-redis): the crawler configures
them, the pipeline empties them before each run; both take them from here."""

from __future__ import annotations

import hashlib

from catalog.taxonomy import NETWORKS


def namespace(database_url: str) -> str:
    """Keys named after the catalogue, so two installs on one Redis never mix."""
    return "vitrina:" + hashlib.sha1(database_url.encode()).hexdigest()[:10]


def queue_key(database_url: str) -> str:
    """scrapy-redis's SCHEDULER_QUEUE_KEY pattern (%(spider)s: the spider's name)."""
    return namespace(database_url) + ":%(spider)s:requests"


def dupefilter_key(database_url: str) -> str:
    return namespace(database_url) + ":%(spider)s:dupefilter"


def frontier_keys(database_url: str) -> list[str]:
    """Every spider's queue and duplicate-filter key (a spider is named after its network)."""
    patterns = (queue_key(database_url), dupefilter_key(database_url))
    return [p % {"spider": network} for network in NETWORKS for p in patterns]
