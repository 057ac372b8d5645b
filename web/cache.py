"""The web processes' catalogue cache: facet counts, first pages, "more like this".

`TTLCache` is generic. Single-flight: when many requests miss the same key at once, one
computes and the others wait for its result instead of all running the same expensive query (a
thundering herd). Once a value has expired, requests arriving while it is being recomputed get
the previous value (with `background`, it is recomputed off-request and no request waits).
`clear()` drops every value, stale ones too (nobody is served old data after it);
`sync(version)` clears when a version stamp differs from the one the values came from.
`invalidate(test)` marks the values a change touches stale: each is still served for at most
`stale_seconds` while it is recomputed in the background, then requests wait for the new value
(with `stale_seconds` 0 they are dropped and the next request recomputes them); a value that
shows the changed photo as it was is dropped at once.

`CatalogueCache` is how one web process follows the others' writes without emptying itself:
on each request it reads the catalogue's stamp (new photos, predictions or shops: clear all) and
the moderation events it has not seen yet (catalog.changes). For each decision the cached
counts are corrected in place, exactly, and only the pages the photo is on or may now enter, and
views filtered by words, are marked stale. Counts are computed in one database snapshot that
also says which events it already includes, so no decision is counted twice or missed.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from catalog import changes
from catalog.changes import PhotoChange, PhotoFacts
from catalog.queries import Facets, Filters, Page

STALE, DROP = 1, 2  # what a change does to a cached value (TTLCache.invalidate)
# How long an event id missing between seen ones (a PostgreSQL transaction that took its id
# earlier and commits later, or one rolled back) is waited for before it is given up on.
HOLE_SECONDS = 5.0
LOG_SECONDS = 120.0  # changes kept to correct counts computed while they happened
COUNTED_LIFETIME = 10  # × seconds: how long corrected counts are kept before a recount


@dataclass
class _Entry:
    value: Any
    expires: float
    compute: Callable[[], Any] | None = None  # opens its own session: runs in the background
    stale_since: float | None = None


class TTLCache:
    def __init__(
        self, seconds: float, max_entries: int = 1024, *, stale_seconds: float = 1.0
    ) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self.stale_seconds = stale_seconds
        self._data: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._lock = threading.RLock()
        self._inflight: dict[Hashable, threading.Lock] = {}
        # In-flight keys invalidated meanwhile: (when, STALE or DROP).
        self._crossed: dict[Hashable, tuple[float, int]] = {}
        self._generation = 0
        self._version: Hashable = None
        self._pool: ThreadPoolExecutor | None = None

    # ---- reading ----------------------------------------------------------------------

    def get_or_compute(
        self, key: Hashable, compute: Callable[[], Any], *, background: bool = False
    ) -> Any:
        """The value for `key`, computing it if missing. `background`: `compute` needs no
        request (it opens its own session), so a stale value may be refreshed off-request."""
        if self.seconds <= 0:
            return compute()
        now = time.monotonic()
        with self._lock:
            entry = self._data.get(key)
            if entry is not None:
                if entry.stale_since is None and entry.expires > now:
                    self._data.move_to_end(key)
                    return entry.value
                stale = entry.stale_since
                if stale is not None and background and now - stale < self.stale_seconds:
                    self._refresh_later(key, compute)
                    return entry.value
                if stale is None and background:
                    self._refresh_later(key, compute)  # expired: the old value meanwhile
                    return entry.value
            flight = self._inflight.setdefault(key, threading.Lock())
        if entry is not None and entry.stale_since is None and not flight.acquire(blocking=False):
            return entry.value  # expired, and someone is already recomputing it
        if entry is None or entry.stale_since is not None:
            flight.acquire()  # a stale value past its bound is not served: wait for the new one
        try:
            return self._compute(key, compute if background else None, compute)
        finally:
            self._land(key, flight)

    def peek(self, key: Hashable) -> Any:
        """The value kept for `key`, if it is fresh; None otherwise (nothing is computed)."""
        with self._lock:
            entry = self._data.get(key)
            if entry is None or entry.stale_since is not None or entry.expires <= time.monotonic():
                return None
            self._data.move_to_end(key)
            return entry.value

    def derived(self, key: Hashable, sources: tuple[Any, ...], make: Callable[[], Any]) -> Any:
        """A value made from other cached values `sources` (a page, its counts): kept under
        `key` with them, and made again when they are other objects (a decision corrected the
        counts). One entry per key, so the versions a stream of decisions makes do not crowd
        the cache's other values out (the HTML fragments, the items API's first pages)."""
        made = self.peek(key)
        if made is not None and all(a is b for a, b in zip(made[0], sources, strict=True)):
            return made[1]
        value = make()
        self.put(key, (sources, value))
        return value

    def put(self, key: Hashable, value: Any) -> None:
        """Keep `value` for `key` (a value that says itself whether it is still valid)."""
        if self.seconds <= 0:
            return
        with self._lock:
            self._data[key] = _Entry(value, time.monotonic() + self.seconds)
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def _compute(
        self, key: Hashable, keep: Callable[[], Any] | None, compute: Callable[[], Any]
    ) -> Any:
        with self._lock:
            fresh = self._data.get(key)
            if fresh is not None and fresh.stale_since is None and fresh.expires > time.monotonic():
                return fresh.value
            generation = self._generation
            self._crossed.pop(key, None)
        value = compute()
        with self._lock:
            # A clear() during the computation means the value may be stale: do not keep it.
            if generation == self._generation:
                value = self._fix(key, value)
                crossed, how = self._crossed.pop(key, (None, 0))
                if how == DROP or (how and (self.stale_seconds <= 0 or keep is None)):
                    return value  # invalidated meanwhile: the next request recomputes
                self._data[key] = _Entry(
                    value, time.monotonic() + self._lifetime(value), keep, stale_since=crossed
                )
                self._data.move_to_end(key)
                while len(self._data) > self.max_entries:
                    self._data.popitem(last=False)
        return value

    def _lifetime(self, value: Any) -> float:
        return self.seconds

    def _land(self, key: Hashable, flight: threading.Lock) -> None:
        with self._lock:
            if self._inflight.get(key) is flight:
                del self._inflight[key]
        flight.release()

    def _refresh_later(self, key: Hashable, compute: Callable[[], Any]) -> None:
        """Recompute a stale value on a background thread, unless that is already going on
        (called under the lock)."""
        if key in self._inflight:
            return
        flight = self._inflight[key] = threading.Lock()
        flight.acquire()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(2, thread_name_prefix="cache-refresh")

        def run() -> None:
            try:
                self._compute(key, compute, compute)
            except Exception:  # noqa: BLE001  the next request computes it and sees the error
                with self._lock:
                    self._data.pop(key, None)
            finally:
                self._land(key, flight)

        self._pool.submit(run)

    def _fix(self, key: Hashable, value: Any) -> Any:
        """A value about to be stored, brought up to date (under the lock); see CatalogueCache."""
        return value

    # ---- changes -----------------------------------------------------------------------

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._crossed.clear()
            self._generation += 1

    def sync(self, version: Hashable) -> None:
        """Drop every value if the data they came from has changed since (see module doc)."""
        with self._lock:
            if version == self._version:
                return
            self._version = version
        self.clear()

    def invalidate(self, touched: Callable[[Hashable, Any], int]) -> int:
        """Mark stale every value `touched(key, value)` says a change reached (STALE), drop
        those it says must not be served again (DROP, or any with stale_seconds 0), and note
        in-flight keys it reaches; returns how many."""
        now = time.monotonic()
        marked = 0
        with self._lock:
            for key, entry in list(self._data.items()):
                how = touched(key, entry.value)
                if how == DROP or (how and entry.stale_since is None):
                    marked += 1
                    if how == DROP or self.stale_seconds <= 0 or entry.compute is None:
                        del self._data[key]
                    else:
                        entry.stale_since = now
            for key in self._inflight:
                how = touched(key, None)
                if how and self._crossed.get(key, (0, 0))[1] < how:
                    self._crossed[key] = (now, how)
        return marked

    def update(self, change: Callable[[Hashable, Any], Any]) -> None:
        """Replace values in place: `change(key, value)` returns the new value (the same
        object: unchanged)."""
        with self._lock:
            for key, entry in self._data.items():
                entry.value = change(key, entry.value)


# ---- the catalogue's cache ---------------------------------------------------------------


@dataclass(frozen=True)
class Counted:
    """Counts (Facets, currency counts) and the moderation events they include: every event
    up to `floor`, and `included` above it."""

    value: Any
    floor: int
    included: frozenset[int] = frozenset()

    def has(self, event_id: int) -> bool:
        return event_id <= self.floor or event_id in self.included


@dataclass
class _Tracker:
    """The moderation events this process has applied: all up to `floor`, `seen` above it."""

    floor: int = -1  # -1: not started
    seen: dict[int, float] = field(default_factory=dict)  # id → when noticed
    gap_since: float | None = None
    log: list[tuple[float, PhotoChange]] = field(default_factory=list)
    log_floor: int = -1  # changes up to here are no longer in `log`


class CatalogueCache(TTLCache):
    def __init__(
        self,
        seconds: float,
        max_entries: int = 1024,
        *,
        stale_seconds: float = 1.0,
        everything: bool = False,
    ) -> None:
        super().__init__(seconds, max_entries, stale_seconds=stale_seconds)
        # everything: any change empties the cache (web.invalidation "global", the baseline).
        self.everything = everything
        self._stamp: Hashable = None
        self._events = _Tracker()
        self._following = threading.Lock()

    @property
    def floor(self) -> int:
        """Read before a snapshot is taken: the events it surely includes."""
        return self._events.floor

    def follow(self, session: Session) -> None:
        """Bring the cache up to date with the catalogue (one cheap query; a second one when
        there are moderation events this process has not applied)."""
        if self.seconds <= 0:
            return
        stamp, newest = changes.catalogue_stamp(session)
        if self.everything:
            self.sync((stamp, newest))
            return
        with self._lock:
            fresh_start = stamp != self._stamp or self._events.floor < 0
            if fresh_start:
                self._stamp = stamp
                self._events = _Tracker(floor=newest, log_floor=newest)
                self.clear()
                return
            if newest <= self._events.floor:
                return
        # One request at a time reads and applies the new events: the others, which would
        # read and apply the same ones, wait for it (then usually have nothing left to do).
        with self._following:
            with self._lock:
                if newest <= self._events.floor:
                    return
                floor, skip = self._events.floor, set(self._events.seen)
            found = changes.photo_changes(session, floor, skip)
            with self._lock:
                if self._events.floor != floor:  # a clear in between: start from there
                    found = [c for c in found if c.event_id > self._events.floor]
                self._apply([c for c in found if c.event_id not in self._events.seen])

    def _apply(self, found: list[PhotoChange]) -> None:
        now = time.monotonic()
        events = self._events
        for change in found:
            events.seen[change.event_id] = now
            events.log.append((now, change))
            if not change.known:
                # The photo is gone or the event cannot be read: start afresh.
                self.clear()
                events.log.clear()
                events.log_floor = max(events.log_floor, change.event_id)
                continue
            self.update(partial(_counted, change=change))
            self.invalidate(partial(_touched, change=change))
        # Advance the floor over consecutive ids; give up on a gap older than HOLE_SECONDS.
        while events.floor + 1 in events.seen:
            events.floor += 1
            del events.seen[events.floor]
        if events.seen:
            events.gap_since = events.gap_since or now
            if now - events.gap_since > HOLE_SECONDS:
                events.floor = min(events.seen) - 1
                events.gap_since = None
                self._apply([])
                return
        else:
            events.gap_since = None
        while events.log and now - events.log[0][0] > LOG_SECONDS:
            events.log_floor = max(events.log_floor, events.log.pop(0)[1].event_id)

    def _lifetime(self, value: Any) -> float:
        # Counts kept exact by every decision are recounted less often (each recount of every
        # cached view costs the shared CPU); pages and the rest keep `seconds`.
        return self.seconds * (COUNTED_LIFETIME if isinstance(value, Counted) else 1)

    def _fix(self, key: Hashable, value: Any) -> Any:
        """Counts from a snapshot get the changes this process applied that it lacks."""
        if not isinstance(value, Counted):
            return value
        if value.floor < self._events.log_floor:
            return value.value  # older than the log: not Counted, so the next change recounts
        for _, change in self._events.log:
            if change.known and not value.has(change.event_id):
                value = _counted(key, value, change)
        return value


def _counted(key: Hashable, value: Any, change: PhotoChange) -> Any:
    """Counts with `change` added, if they lack it and their view can be counted in Python."""
    if not isinstance(value, Counted) or value.has(change.event_id):
        return value
    kind, filters = key[0], key[1]  # type: ignore[index]
    if filters.q:
        return value  # words: recounted (_touched marks it stale)
    new: Facets | list[tuple[str, int]]
    if kind == "facets":
        new = changes.adjust_facets(value.value, filters, change)
    elif kind == "currencies":
        new = changes.adjust_currencies(value.value, filters, change)
    else:
        return value
    if new is value.value:
        # Nothing of this view moved: kept as it is (applying the change again, as _fix
        # may, moves nothing either), and the page fragments made from it stay valid.
        return value
    return Counted(new, value.floor, value.included | {change.event_id})


def _touched(key: Hashable, value: Any, change: PhotoChange) -> int:
    """What `change` does to a cached value (None: in flight): 0 nothing, STALE it may now
    show more (refreshed within stale_seconds), DROP it shows the photo as it was (a rejected
    photo must not be served again)."""
    if not isinstance(key, tuple) or not key:
        return DROP
    kind = key[0]
    if kind in ("html", "json"):
        return 0  # fragments and answers hold the very data they show, checked on each use
    facts = [f for f, _ in change.facts()]
    if kind in ("facets", "currencies"):
        filters: Filters = key[1]
        if value is None:
            return 0  # a snapshot in flight is brought up to date by _fix
        if not isinstance(value, Counted):
            return DROP  # older than the log (_fix): recount
        return STALE if filters.q and any(changes.touches_counts(filters, f) for f in facts) else 0
    if kind == "page":
        if value is None or any(i.id == change.photo_id for i in value.items):
            return DROP
        return STALE if any(_on_page(key[1], value, change.photo_id, f) for f in facts) else 0
    if kind == "similar":
        if value is None or key[1] == change.photo_id:
            return DROP
        if any(getattr(i, "id", None) == change.photo_id for i in value):
            return DROP
        before, after = change.before, change.after
        if before is not None and after is not None and after.public and not before.public:
            return STALE  # newly public: it may be like any photo
        return 0
    return DROP


def _on_page(filters: Filters, page: Page, photo_id: int, facts: PhotoFacts) -> bool:
    """The photo matches this first page's view and sorts before its last item."""
    if not changes.matches(filters, facts):
        return False
    if page.next_cursor is None or not page.items:
        return True  # the whole view is on the page
    last = page.items[-1]
    if filters.sort == "newest":
        at, last_at = facts.posted_at, changes.as_utc(last.posted_at)
        if at is None or last_at is None:
            return at is not None or (last_at is None and photo_id > last.id)
        return (at, photo_id) > (last_at, last.id)
    amount, last_amount = facts.price_amount, last.price_amount
    if amount is None or last_amount is None:
        return amount is not None or last_amount is None
    up = filters.sort == "price_asc"
    return (
        (amount, photo_id) < (last_amount, last.id)
        if up
        else ((amount, photo_id) > (last_amount, last.id))
    )


def snapshot(engine: Engine) -> Session:
    """A session whose reads all see one snapshot of the database (SQLite: a read transaction
    started explicitly, as pysqlite starts none for SELECTs; PostgreSQL: repeatable read)."""
    session = Session(engine)
    if engine.dialect.name == "sqlite":
        session.connection().exec_driver_sql("BEGIN")
    else:
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    return session


def counted(cache: CatalogueCache, engine: Engine, count: Callable[[Session], Any]) -> Any:
    """`count(session)` in one snapshot, with the events above the cache's floor it includes."""
    floor = cache.floor
    with snapshot(engine) as session:
        value = count(session)
        included = changes.event_ids_since(session, floor)
        session.rollback()
    return Counted(value, floor, frozenset(included))


def own_session(engine: Engine, read: Callable[[Session], Any]) -> Callable[[], Any]:
    """`read` with a session of its own: can run after the request's has closed."""

    def run() -> Any:
        with Session(engine) as session:
            return read(session)

    return run


__all__ = ["CatalogueCache", "Counted", "TTLCache", "counted", "own_session", "snapshot"]
