"""The facet cache: expiry, clearing, and one computation per key under concurrency."""

from __future__ import annotations

import threading
import time

from web.cache import TTLCache


def test_values_expire_and_clear() -> None:
    cache = TTLCache(0.2)
    calls = []
    compute = lambda: calls.append(1) or len(calls)  # noqa: E731
    assert cache.get_or_compute("k", compute) == 1
    assert cache.get_or_compute("k", compute) == 1
    cache.clear()
    assert cache.get_or_compute("k", compute) == 2
    time.sleep(0.25)
    assert cache.get_or_compute("k", compute) == 3
    assert TTLCache(0).get_or_compute("k", compute) == 4  # 0 s: never cached


def test_concurrent_misses_compute_once() -> None:
    cache = TTLCache(60)
    calls = []

    def slow() -> int:
        calls.append(1)
        time.sleep(0.2)
        return 42

    results = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get_or_compute("k", slow)))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [42] * 8 and len(calls) == 1


def test_value_computed_across_a_clear_is_not_kept() -> None:
    cache = TTLCache(60)

    def racing() -> str:
        cache.clear()  # a moderator decided while the counts were being computed
        return "stale"

    assert cache.get_or_compute("k", racing) == "stale"
    assert cache.get_or_compute("k", lambda: "fresh") == "fresh"


def test_expired_value_is_served_while_one_request_recomputes() -> None:
    cache = TTLCache(0.1)
    assert cache.get_or_compute("k", lambda: "old") == "old"
    time.sleep(0.15)
    started, release = threading.Event(), threading.Event()

    def slow() -> str:
        started.set()
        release.wait(5)
        return "new"

    worker = threading.Thread(target=lambda: cache.get_or_compute("k", slow))
    worker.start()
    started.wait(5)
    # meanwhile other requests are answered at once with the previous counts
    assert cache.get_or_compute("k", lambda: "unexpected") == "old"
    release.set()
    worker.join()
    assert cache.get_or_compute("k", lambda: "unexpected") == "new"
    cache.clear()  # after a moderator's decision: no stale value, a fresh computation
    assert cache.get_or_compute("k", lambda: "fresh") == "fresh"


def test_sync_keeps_values_for_the_same_version_and_drops_them_for_a_new_one() -> None:
    cache = TTLCache(60)
    cache.sync((1, 2))
    assert cache.get_or_compute("k", lambda: "a") == "a"
    cache.sync((1, 2))
    assert cache.get_or_compute("k", lambda: "unexpected") == "a"
    cache.sync((1, 3))  # e.g. a moderator's event in another process
    assert cache.get_or_compute("k", lambda: "b") == "b"
