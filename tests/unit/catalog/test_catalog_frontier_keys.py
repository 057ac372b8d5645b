"""catalog.frontier_keys: one Redis key name per spider and kind, named after the catalogue."""

from __future__ import annotations

from catalog.frontier_keys import dupefilter_key, frontier_keys, namespace, queue_key
from catalog.taxonomy import NETWORKS


def test_two_catalogues_on_one_redis_never_share_keys() -> None:
    a, b = "sqlite:///a/catalogue.db", "postgresql://db/vitrina"
    assert namespace(a) != namespace(b) and namespace(a) == namespace(a)
    assert namespace(a).startswith("vitrina:")
    assert set(frontier_keys(a)).isdisjoint(frontier_keys(b))


def test_every_network_has_a_queue_and_a_dupefilter() -> None:
    url = "sqlite:///x.db"
    keys = frontier_keys(url)
    assert len(keys) == len(set(keys)) == 2 * len(NETWORKS)
    for network in NETWORKS:
        # scrapy-redis fills %(spider)s with the spider's name, which is its network's
        assert queue_key(url) % {"spider": network} in keys
        assert dupefilter_key(url) % {"spider": network} in keys
    assert f"{namespace(url)}:mastodon:requests" in keys
