"""A small in-process TTL cache for facet counts, cleared when a moderator changes a label.

Single-flight: when many requests miss the same key at once, one computes and the others wait
for its result instead of all running the same expensive query (a thundering herd).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class TTLCache:
    def __init__(self, seconds: float, max_entries: int = 1024) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self._data: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._inflight: dict[Hashable, threading.Lock] = {}
        self._generation = 0

    def _fresh(self, key: Hashable) -> tuple[bool, Any]:
        hit = self._data.get(key)
        if hit is not None and hit[0] > time.monotonic():
            self._data.move_to_end(key)
            return True, hit[1]
        return False, None

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        if self.seconds <= 0:
            return compute()
        with self._lock:
            found, value = self._fresh(key)
            if found:
                return value
            flight = self._inflight.setdefault(key, threading.Lock())
        with flight:  # one computation per key at a time; latecomers reuse its result
            with self._lock:
                found, value = self._fresh(key)
                if found:
                    return value
                generation = self._generation
            value = compute()
            with self._lock:
                # A clear() during the computation means the value may be stale: do not keep it.
                if generation == self._generation:
                    self._data[key] = (time.monotonic() + self.seconds, value)
                    self._data.move_to_end(key)
                    while len(self._data) > self.max_entries:
                        self._data.popitem(last=False)
                self._inflight.pop(key, None)
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._generation += 1
