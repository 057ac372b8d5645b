"""Faults the emulator injects on demand, so every failure path of the crawler can be shown."""

from __future__ import annotations

import hashlib
import random
import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Faults:
    latency_ms: float = 0.0  # added to every response
    error_rate: float = 0.0  # fraction of requests answered with a 5xx
    fail_first: int = 0  # every distinct URL fails this many times (503) before succeeding
    # 429 bursts: after every `burst_every` requests, the next `burst_length` are refused.
    burst_every: int = 0
    burst_length: int = 0
    retry_after: float | None = None  # Retry-After seconds on 429s; None = header absent
    rate_limit_reset: float = 1.0  # seconds until the window resets, in the APIs' own headers
    slow_rate: float = 0.0  # fraction of requests delayed by slow_ms more
    slow_ms: float = 0.0
    truncated_rate: float = 0.0  # fraction of photos whose file is cut short (always the same ones)
    corrupt_rate: float = 0.0  # fraction of photos that are not images at all
    malformed_rate: float = 0.0  # fraction of API responses with a broken JSON body
    malformed_handles: set[str] = field(default_factory=set)  # these shops' pages always broken
    # Photo key → how many requests for that photo fail (503) before one succeeds; counted over
    # the emulator's life, so a photo can fail a whole crawl and come back for the next.
    failing_photos: dict[str, int] = field(default_factory=dict)
    seed: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()
        self._seen: Counter[str] = Counter()
        self._photo_asked: Counter[str] = Counter()
        self._requests = 0

    def roll(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def fails_first(self, url: str) -> bool:
        if self.fail_first <= 0:
            return False
        with self._lock:
            self._seen[url] += 1
            return self._seen[url] <= self.fail_first

    def photo_fails(self, key: str) -> bool:
        if key not in self.failing_photos:
            return False
        with self._lock:
            self._photo_asked[key] += 1
            return self._photo_asked[key] <= self.failing_photos.get(key, 0)

    def in_burst(self) -> bool:
        with self._lock:
            self._requests += 1
            if self.burst_every <= 0 or self.burst_length <= 0:
                return False
            cycle = self._requests % (self.burst_every + self.burst_length)
            return cycle >= self.burst_every or cycle == 0

    def photo_fault(self, key: str) -> str:
        """'truncated', 'corrupt' or '' — fixed per photo, like a broken upload stays broken."""
        h = int(hashlib.sha256(f"{self.seed}:{key}".encode()).hexdigest()[:8], 16) / 2**32
        if h < self.truncated_rate:
            return "truncated"
        if h < self.truncated_rate + self.corrupt_rate:
            return "corrupt"
        return ""
