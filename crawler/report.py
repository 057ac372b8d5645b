"""Per-shop counters of one crawl, shared by spiders, pipelines and the progress display."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ShopReport:
    shop: str
    pages: int = 0
    new_posts: int = 0
    new_photos: int = 0
    duplicates: int = 0
    near_duplicates: int = 0
    rejected: int = 0
    skipped: int = 0  # new posts without a photo (videos, links, words alone), not stored
    # Photos earlier crawls failed to download, fetched again; and those now in the catalogue
    # (also counted above as new photos, near-duplicates or duplicates).
    retried: int = 0
    recovered: int = 0
    errors: list[str] = field(default_factory=list)
    status: str = "ok"  # ok | error | inactive | auth

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["errors"] = len(self.errors)
        d["error_messages"] = list(self.errors)
        return d


class CrawlReport:
    def __init__(self, on_change: Callable[[CrawlReport], None] | None = None):
        self.shops: dict[str, ShopReport] = {}
        self.errors: list[str] = []  # problems not tied to one shop (e.g. a network's auth)
        self.interrupted = False  # stopped by a signal before the spiders finished
        self.on_change = on_change
        self._lock = threading.Lock()

    def shop(self, key: str) -> ShopReport:
        with self._lock:
            return self.shops.setdefault(key, ShopReport(key))

    def add(self, key: str, **counts: int) -> None:
        rep = self.shop(key)
        with self._lock:
            for name, n in counts.items():
                setattr(rep, name, getattr(rep, name) + n)
        self._changed()

    def error(self, key: str | None, message: str, status: str = "error") -> None:
        with self._lock:
            if key is None:
                self.errors.append(message)
            else:
                rep = self.shops.setdefault(key, ShopReport(key))
                rep.errors.append(message)
                if rep.status == "ok" or status in ("inactive", "auth"):
                    rep.status = status
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self)

    def totals(self) -> dict[str, int]:
        keys = (
            "pages",
            "new_posts",
            "new_photos",
            "duplicates",
            "near_duplicates",
            "rejected",
            "skipped",
            "retried",
            "recovered",
        )
        out = {k: sum(getattr(r, k) for r in self.shops.values()) for k in keys}
        out["errors"] = sum(len(r.errors) for r in self.shops.values()) + len(self.errors)
        return out
