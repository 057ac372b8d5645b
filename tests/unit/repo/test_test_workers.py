"""The suite's parallel workers never share a Redis database (tests/support/common.py)."""

from __future__ import annotations

from tests.support.common import worker_redis_url


def test_each_worker_gets_its_own_redis_database() -> None:
    base = "redis://127.0.0.1:6379/15"
    assert worker_redis_url(base, None) == base  # no workers: the database given
    urls = [worker_redis_url(base, f"gw{n}") for n in range(16)]
    assert urls[:3] == [base, "redis://127.0.0.1:6379/14", "redis://127.0.0.1:6379/13"]
    assert len(set(urls)) == 16  # wraps at 0, never past Redis's 16 databases
    assert worker_redis_url("redis://:pw@cache:6380/1", "gw2") == "redis://:pw@cache:6380/15"
    assert worker_redis_url("redis://127.0.0.1:6379", "gw1") == "redis://127.0.0.1:6379/15"
