"""Targeted invalidation: a moderator's decision in another process corrects the cached counts
at once and exactly, reaches only the cached pages it touches (within web.stale_seconds, the
new page computed in the background meanwhile), and leaves every other cached view alone."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from catalog import moderation
from catalog.db import make_engine, session_scope
from catalog.models import Photo
from demo.seed import add_photo, add_post
from tests.support.web_helpers import grid_ids, make_app, seed

VIEWS = [
    "",
    "colour=red",
    "category=Dress",
    "category=Dress&colour=red",
    "network=bluesky",
    "network=mastodon&colour=blue",
    "from=2026-10-28&to=2026-10-31",
    "min_price=10&max_price=100",
    "currency=EUR&category=Dress",
    "sort=price_desc",
    "q=dress",
]


@pytest.fixture
def site(db_url, settings_for):
    settings, _ = settings_for(db_url, "[web]\nfacet_cache_seconds = 3600\n")
    seeded = seed(settings)
    engine = make_engine(settings.database_url)
    with session_scope(engine) as s:  # a priced post, for the price filters and currencies
        post = add_post(s, seeded.shops["lina"], "mastodon", "p", caption="Silk dress 45 €")
        seeded.photos["priced"] = add_photo(s, settings.media_dir, post, "Dress", "red", seed=20)
    cached = make_app(settings)
    uncached = make_app(
        settings.model_copy(
            update={"web": settings.web.model_copy(update={"facet_cache_seconds": 0})}
        )
    )
    yield cached, TestClient(cached), TestClient(uncached), seeded, engine
    engine.dispose()


def _decide(engine, photo_id: int, action: str, **labels: str) -> None:
    """A moderator's decision, taken in some other process."""
    with session_scope(engine) as s:
        version = s.get(Photo, photo_id).version
        moderation.decide(s, photo_id, version, "ann", action, **labels)


def _counts(client: TestClient, view: str) -> tuple:
    body = client.get(f"/api/v1/items?{view}").json()
    return body["total"], body["facets"]


def _queries(app) -> list[str]:
    """SQL the app runs from requests (background refreshes left out), from now on."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        if not threading.current_thread().name.startswith("cache-refresh"):
            seen.append(statement)

    for engine in {app.state.engine, app.state.cache_engine}:
        event.listen(engine, "before_cursor_execute", record)
    return seen


def test_counts_are_corrected_in_place_and_stay_exact(site) -> None:
    app, cached, uncached, seeded, engine = site
    for view in VIEWS:
        cached.get(f"/api/v1/items?{view}")
        cached.get(f"/?{view}")
    decisions = [
        (seeded.photos["review_dress"], "accept", {}),  # joins the catalogue
        (seeded.photos["red_dress"], "correct", {"colour": "blue"}),
        (seeded.photos["green_hoodie"], "reject", {}),  # leaves it
        (seeded.photos["priced"], "correct", {"category": "Skirt"}),
        (seeded.photos["review_tee"], "correct", {"category": "Shirt", "colour": "white"}),
    ]
    statements = _queries(app)
    for photo, action, labels in decisions:
        _decide(engine, photo, action, **labels)
        for view in VIEWS:
            if "q=" in view:
                continue
            assert _counts(cached, view) == _counts(uncached, view), (action, view)
        # A view with words is counted again (whether the photo matches them is the index's
        # to say): in the background, the old counts served for at most stale_seconds.
        start = time.monotonic()
        while _counts(cached, "q=dress") != _counts(uncached, "q=dress"):
            assert time.monotonic() - start < 2, action
            time.sleep(0.05)
    # No view without words was counted again.
    counted = [s for s in statements if "GROUP BY" in s]
    assert all("posts_fts" in s or "to_tsquery" in s for s in counted), counted


def test_a_decision_reaches_only_the_pages_it_touches_within_two_seconds(site) -> None:
    app, cached, _, seeded, engine = site
    dress = seeded.photos["red_dress"]
    for view in ("colour=red", "category=Hoodie", "colour=blue"):
        cached.get(f"/?{view}")
    assert dress in grid_ids(cached.get("/?colour=red").text)
    statements = _queries(app)
    _decide(engine, dress, "correct", colour="blue")
    cached.get("/?category=Hoodie")  # neither before nor after the decision in this view
    assert not [s for s in statements if "GROUP BY" in s or "LIMIT" in s], statements
    start = time.monotonic()
    while dress in grid_ids(cached.get("/?colour=red").text) or dress not in grid_ids(
        cached.get("/?colour=blue").text
    ):
        assert time.monotonic() - start < 2, "the decision did not show within 2 s"
        time.sleep(0.05)


def test_a_stream_of_decisions_keeps_one_fragment_and_one_answer_per_view(site) -> None:
    """The page fragments and the API's first-page answers are made again when a decision
    moves their counts, and replace the old ones: dead versions do not pile up in the cache
    (pushing live pages and counts out of it), and what is sent stays exact."""
    app, cached, uncached, seeded, engine = site
    views = [v for v in VIEWS if "q=" not in v]
    for view in views:
        cached.get(f"/?{view}")
        cached.get(f"/api/v1/items?{view}")

    def kinds() -> dict[str, int]:
        with app.state.catalogue_cache._lock:
            keys = list(app.state.catalogue_cache._data)
        return {k: sum(1 for key in keys if key[0] == k) for k in ("html", "json")}

    before = kinds()
    assert before == {"html": 2 * len(views), "json": len(views)}
    dress = seeded.photos["red_dress"]
    for colour in ("blue", "red", "blue", "red", "blue", "red"):
        _decide(engine, dress, "correct", colour=colour)
        for view in views:  # counts at once; the photos within stale_seconds
            assert _counts(cached, view) == _counts(uncached, view), (colour, view)
            assert f">{_counts(uncached, view)[0]}<" in cached.get(f"/?{view}").text, view
        start = time.monotonic()
        for view in views:
            path = f"/api/v1/items?{view}"
            while cached.get(path).content != uncached.get(path).content:
                assert time.monotonic() - start < 2, (colour, view)
                time.sleep(0.05)
    assert kinds() == before
