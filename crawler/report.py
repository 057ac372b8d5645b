"""Per-shop counters of one crawl, shared by spiders, pipelines and the progress display; and
the redaction of secrets from every message a crawl reports or logs."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from catalog.records import CrawlStatus, CrawlSummary, ShopResult

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


class CrawlReport:
    """One crawl as it goes. Each shop's record is catalog.records.ShopResult: the crawler
    counts into it, and the summary, crawl_runs and the pipeline read the same type."""

    def __init__(self, on_change: Callable[[CrawlReport], None] | None = None):
        self.shops: dict[str, ShopResult] = {}
        self.errors: list[str] = []  # problems not tied to one shop (e.g. a network's auth)
        self.interrupted = False  # stopped by a signal before the spiders finished
        self.fatal = ""  # why the whole crawl stopped early (the media disk is full)
        self.on_change = on_change
        self._lock = threading.Lock()

    def shop(self, key: str) -> ShopResult:
        with self._lock:
            return self.shops.setdefault(key, ShopResult(shop=key))

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
                rep = self.shops.setdefault(key, ShopResult(shop=key))
                rep.errors.append(message)
                rep.worsen(status)
        self._changed()

    def mark(self, key: str, status: str) -> None:
        """Set a shop's status for a problem reported run-wide (its network's credentials)."""
        with self._lock:
            rep = self.shops.setdefault(key, ShopResult(shop=key))
            rep.worsen(status)
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self)

    def summary(self, run_id: int, seconds: float) -> CrawlSummary:
        with self._lock:
            shops = {k: r.model_copy(deep=True) for k, r in self.shops.items()}
            run_errors = list(self.errors)
        if self.fatal:
            status = CrawlStatus.error
            run_errors.insert(0, self.fatal)
        elif self.interrupted:
            status = CrawlStatus.interrupted
        elif run_errors or any(s.errors for s in shops.values()):
            status = CrawlStatus.partial
        else:
            status = CrawlStatus.ok
        return CrawlSummary(
            run_id=run_id,
            status=status,
            seconds=seconds,
            shops=shops,
            run_errors=run_errors,
            fatal=self.fatal,
        )
