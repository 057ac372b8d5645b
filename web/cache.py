"""A small in-process TTL cache for facet counts and first pages, dropped on catalogue changes.

Single-flight: when many requests miss the same key at once, one computes and the others wait
for its result instead of all running the same expensive query (a thundering herd). Once a
value has expired, requests arriving while it is being recomputed get the previous value
(stale-while-revalidate), so an expiry never stalls every client; `clear()` drops stale values
too, so after a moderator's decision nobody is served old counts. `sync(version)` clears it
when the catalogue's version stamp differs from the one its values were computed under, which is
how a decision taken in one web process reaches the caches of the others.
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
        self._version: Hashable = None

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        if self.seconds <= 0:
            return compute()
        with self._lock:
            entry = self._data.get(key)
            if entry is not None and entry[0] > time.monotonic():
                self._data.move_to_end(key)
                return entry[1]
            flight = self._inflight.setdefault(key, threading.Lock())
        if entry is not None and not flight.acquire(blocking=False):
            return entry[1]  # expired, and someone is already recomputing it
        if entry is None:
            flight.acquire()
        try:
            with self._lock:
                fresh = self._data.get(key)
                if fresh is not None and fresh[0] > time.monotonic():
                    return fresh[1]
                generation = self._generation
            value = compute()
            with self._lock:
                # A clear() during the computation means the value may be stale: do not keep it.
                if generation == self._generation:
                    self._data[key] = (time.monotonic() + self.seconds, value)
                    self._data.move_to_end(key)
                    while len(self._data) > self.max_entries:
                        self._data.popitem(last=False)
            return value
        finally:
            with self._lock:
                if self._inflight.get(key) is flight:
                    del self._inflight[key]
            flight.release()

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._generation += 1

    def sync(self, version: Hashable) -> None:
        """Drop every value if the data they came from has changed since (see module doc)."""
        with self._lock:
            if version == self._version:
                return
            self._version = version
        self.clear()
