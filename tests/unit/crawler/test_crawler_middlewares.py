"""crawler.middlewares on Scrapy's own Request/Response objects and a real (unstarted) crawler:
every retry waits, a server's "slow down" is obeyed for the whole network, and the SSRF guard
drops requests to private addresses."""

from __future__ import annotations

import time

import pytest
from scrapy import Request, Spider
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.test import get_crawler
from twisted.internet.error import DNSLookupError

from crawler.middlewares import PoliteRetryMiddleware, SSRFGuardMiddleware

URL = "https://api.example/v1/feed"


def middleware(**settings: object) -> PoliteRetryMiddleware:
    base = {"VITRINA_RETRY_BACKOFF": 2.0, "VITRINA_MAX_RETRY_AFTER": 60.0, "RETRY_TIMES": 2}
    crawler = get_crawler(Spider, {**base, **settings})
    crawler.spider = Spider.from_crawler(crawler, "t")
    crawler.stats.open_spider()
    return PoliteRetryMiddleware.from_crawler(crawler)


def answer(status: int, **headers: str) -> tuple[Request, Response]:
    request = Request(URL)
    return request, Response(URL, status=status, headers=headers, request=request)


def waits(request: Request) -> float:
    return request.meta["not_before"] - time.monotonic()


def test_a_429_waits_as_long_as_the_server_asked_and_pauses_its_network() -> None:
    mw = middleware()
    retry = mw.process_response(*answer(429, **{"Retry-After": "7"}))
    assert isinstance(retry, Request) and retry.dont_filter
    assert 6 < waits(retry) <= 7 and retry.meta["rate_limit_retries"] == 1
    assert 6 < mw.paused_until["api.example"] - time.monotonic() <= 7
    assert mw.crawler.stats.get_value("vitrina/rate_limited") == 1


def test_a_wait_over_the_ceiling_gives_up_saying_why() -> None:
    request, response = answer(429, **{"Retry-After": "3600"})
    given = middleware().process_response(request, response)
    assert given is response
    assert given.meta["vitrina_gave_up"] == "asked to wait 3600s, over crawler.max_retry_after"


def test_server_errors_are_retried_after_a_jittered_backoff() -> None:
    retry = middleware().process_response(*answer(503))
    assert isinstance(retry, Request) and retry.meta["retry_times"] == 1
    assert 2.0 * 0.8 - 0.1 < waits(retry) <= 2.0 * 1.2
    request, response = answer(404)
    assert middleware().process_response(request, response) is response  # not worth a retry


def test_a_host_that_does_not_resolve_twice_fails_at_once() -> None:
    mw = middleware()
    first = mw.process_exception(Request(URL), DNSLookupError("api.example"))
    assert isinstance(first, Request)
    assert mw.process_exception(first, DNSLookupError("api.example")) is None
    assert first.meta["vitrina_dns_failed"] is True


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/x", "http://10.1.2.3/a.jpg"])
def test_private_addresses_are_dropped_unless_allowed(url: str) -> None:
    with pytest.raises(IgnoreRequest):
        SSRFGuardMiddleware([]).process_request(Request(url))
    host = url.split("/")[2].split(":")[0]
    assert SSRFGuardMiddleware([host.upper()]).process_request(Request(url)) is None
