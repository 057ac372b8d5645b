"""Per-shop counters of one crawl, shared by spiders, pipelines and the progress display; and
the redaction of secrets from every message a crawl reports or logs."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

# A query parameter that carries a credential: access_token, oauth_token, api_key, apikey,
# client_secret, password, X-Amz-Signature, sig, code… — also when URL-encoded inside another
# URL's query. Its value is cut at the next separator.
_SECRET_PARAM = re.compile(
    r"(?P<name>(?:[?&;]|%26|%3F)"
    r"(?:[\w.-]*(?:token|key|secret|passw(?:or)?d|signature|credential|auth)[\w.-]*|sig|code)"
    r"(?:=|%3D))[^&#\s\"'<>]*",
    re.IGNORECASE,
)
_USERINFO = re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@", re.IGNORECASE)
REDACTED = "REDACTED"
_secrets: set[str] = set()


def register_secret(value: str) -> None:
    """A configured secret (a token) that must not appear in any message, wherever it is."""
    if value and len(value) >= 4:
        _secrets.add(value)


def redact(text: str) -> str:
    """`text` with the secrets in URLs (credential parameters, user:password@) and every
    registered secret replaced by REDACTED."""
    if not text:
        return text
    text = _SECRET_PARAM.sub(lambda m: m.group("name") + REDACTED, text)
    text = _USERINFO.sub(lambda m: m.group("scheme") + REDACTED + "@", text)
    for secret in _secrets:
        for form in {secret, quote(secret, safe="")}:
            text = text.replace(form, REDACTED)
    return text


def redact_logs() -> None:
    """Redact every log record this process makes from now on — ours, Scrapy's (its retry
    middleware logs the URLs it gives up on) and Twisted's — message and traceback alike."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "vitrina_redacts", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is logging's to report, not ours
            return record
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    factory.vitrina_redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


# A shop's status is its worst outcome: some posts refused < its pass failed < the shop or its
# network cannot be crawled at all.
_RANK = {"ok": 0, "partial": 1, "error": 2, "inactive": 3, "auth": 3}


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
    status: str = "ok"  # ok | partial (posts refused) | error | inactive | auth

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
        self.fatal = ""  # why the whole crawl stopped early (the media disk is full)
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
        message = redact(message)  # it goes to the summary, crawl_runs.errors and the screen
        with self._lock:
            if key is None:
                self.errors.append(message)
            else:
                rep = self.shops.setdefault(key, ShopReport(key))
                rep.errors.append(message)
                if _RANK.get(status, 2) >= _RANK.get(rep.status, 2):
                    rep.status = status
        self._changed()

    def mark(self, key: str, status: str) -> None:
        """Set a shop's status for a problem reported run-wide (its network's credentials)."""
        with self._lock:
            rep = self.shops.setdefault(key, ShopReport(key))
            if _RANK.get(status, 2) >= _RANK.get(rep.status, 2):
                rep.status = status
        self._changed()

    def failed_shops(self) -> list[str]:
        """Shops this crawl could not crawl: their pass failed, the shop is gone, or their
        network refused our credentials (refused posts alone are `partial`, not failed)."""
        return sorted(k for k, r in self.shops.items() if _RANK.get(r.status, 2) >= 2)

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
