"""The shared Redis crawl frontier, seen from the pipeline: each pipeline run, holding the
pipeline lock (no other run may be crawling), starts from an empty frontier. The keys and their
reset live with the crawler (crawler/frontier.py), which also clears what a killed crawl left."""

from __future__ import annotations

from crawler.frontier import frontier_keys, reset_frontier

__all__ = ["frontier_keys", "reset_frontier"]
