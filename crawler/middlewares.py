"""Downloader middlewares: the SSRF guard, and retries that wait (backoff, 429s, rate limits)."""

from __future__ import annotations

import asyncio
import logging
import random
import time

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from twisted.internet.error import DNSLookupError

try:  # Scrapy ≥ 2.13 wraps the resolver's error in its own
    from scrapy.exceptions import CannotResolveHostError
except ImportError:  # pragma: no cover - older Scrapy raises Twisted's alone
    CannotResolveHostError = DNSLookupError  # type: ignore[assignment,misc]

from crawler import ratelimit
from crawler.ssrf import Refused, check_url

logger = logging.getLogger(__name__)


class SSRFGuardMiddleware:
    """Refuses requests to loopback/private/link-local addresses unless allowlisted."""

    def __init__(self, allowed: list[str]):
        self.allowed = frozenset(h.lower() for h in allowed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SSRFGuardMiddleware:
        return cls(crawler.settings.getlist("VITRINA_ALLOWED_PRIVATE_HOSTS"))

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        try:
            check_url(request.url, self.allowed)
        except Refused as exc:
            raise IgnoreRequest(str(exc)) from None


def _slot(request: Request) -> str:
    return request.meta.get("download_slot") or (request.url.split("/")[2])


class PoliteRetryMiddleware(RetryMiddleware):
    """Scrapy's RetryMiddleware, but every retry waits: exponential backoff with jitter for 5xx
    and timeouts; for "slow down" answers (429, Instagram's rate-limit codes) the wait the server
    asked for (Retry-After, X-RateLimit-Reset, RateLimit-Reset), else backoff. While a network
    says slow down, its other requests wait too. A wait over `max_retry_after` gives up."""

    def __init__(self, crawler: Crawler):
        super().__init__(crawler.settings)
        self.crawler = crawler
        s = crawler.settings
        self.backoff = s.getfloat("VITRINA_RETRY_BACKOFF", 1.0)
        self.max_wait = s.getfloat("VITRINA_MAX_RETRY_AFTER", 300.0)
        self.rate_limit_retries = max(8, self.max_retry_times)
        self.paused_until: dict[str, float] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PoliteRetryMiddleware:
        return cls(crawler)

    def _backoff(self, attempt: int) -> float:
        return self.backoff * (2 ** max(0, attempt - 1)) * random.uniform(0.8, 1.2)

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        wait = max(request.meta.get("not_before", 0.0), self.paused_until.get(_slot(request), 0))
        delay = wait - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        if request.meta.get("dont_retry"):
            return response
        if ratelimit.is_rate_limited(response.status, response.headers, response.body):
            return self._rate_limited(request, response)
        if ratelimit.exhausted_budget(response.headers):
            wait = ratelimit.server_wait(response.headers) or self._backoff(1)
            self._pause(request, min(wait, self.max_wait))
        result = super().process_response(request, response)
        if isinstance(result, Request):
            self._delay(result, self._backoff(result.meta.get("retry_times", 1)))
        return result

    def process_exception(
        self, request: Request, exception: Exception, spider: Spider | None = None
    ) -> Request | Response | None:
        if (
            isinstance(exception, DNSLookupError | CannotResolveHostError)
            and request.meta.get("retry_times", 0) >= 1
        ):
            # A host name that does not resolve twice in a row is a wrong URL or a gone
            # instance, not a passing fault: fail now instead of backing off through every try.
            request.meta["vitrina_dns_failed"] = True
            return None
        result = super().process_exception(request, exception)
        if isinstance(result, Request):
            self._delay(result, self._backoff(result.meta.get("retry_times", 1)))
        return result

    def _rate_limited(self, request: Request, response: Response) -> Request | Response:
        attempt = request.meta.get("rate_limit_retries", 0) + 1
        asked = ratelimit.server_wait(response.headers)
        wait = asked if asked is not None else self._backoff(attempt)
        stats = self.crawler.stats
        if stats:
            stats.inc_value("vitrina/rate_limited")
        if wait > self.max_wait or attempt > self.rate_limit_retries:
            why = (
                f"asked to wait {wait:.0f}s, over crawler.max_retry_after"
                if wait > self.max_wait
                else f"still rate limited after {attempt - 1} waits"
            )
            logger.warning("giving up on %s: HTTP %s, %s", request.url, response.status, why)
            response.meta["vitrina_gave_up"] = why  # type: ignore[index]
            return response
        logger.info(
            "rate limited on %s (HTTP %s): waiting %.2fs", _slot(request), response.status, wait
        )
        self._pause(request, wait)
        retry = request.replace(dont_filter=True)
        retry.meta["rate_limit_retries"] = attempt
        self._delay(retry, wait)
        return retry

    def _pause(self, request: Request, wait: float) -> None:
        slot = _slot(request)
        self.paused_until[slot] = max(self.paused_until.get(slot, 0), time.monotonic() + wait)

    @staticmethod
    def _delay(request: Request, wait: float) -> None:
        request.meta["not_before"] = time.monotonic() + wait
