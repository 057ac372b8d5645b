"""Cached first pages and facet counts follow changes made by other processes at once.

Each web worker is its own process with its own cache; two apps on one database stand for two
workers (and the nightly job writing beside them). The cache lifetime is an hour here, so
anything these tests see change was noticed through the catalogue's version stamp or its
moderation events, not expiry. `stale_seconds` 0: a page a decision touches is recomputed by
the next request (the default, serving it while it is recomputed for at most 1 s, is in
test_web_cache_targeted.py).
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from catalog import moderation
from catalog.db import make_engine, session_scope
from catalog.models import Photo
from demo.seed import add_photo, add_post
from tests.support.web_helpers import grid_ids, make_app, seed


@pytest.fixture
def two_workers(db_url, settings_for):
    settings, _ = settings_for(db_url)
    settings = settings.model_copy(
        update={
            "web": settings.web.model_copy(
                update={"facet_cache_seconds": 3600, "stale_seconds": 0}
            )
        }
    )
    seeded = seed(settings)
    engine = make_engine(settings.database_url)
    yield TestClient(make_app(settings)), TestClient(make_app(settings)), seeded, engine, settings
    engine.dispose()


def _total(html: str) -> int:
    return int(re.search(r'id="total">(\d+)<', html).group(1))


def test_a_decision_taken_elsewhere_shows_on_the_next_request(two_workers) -> None:
    first, second, seeded, engine, _ = two_workers
    dress = seeded.photos["red_dress"]
    for client in (first, second):  # both caches hold the page and the counts
        assert dress in grid_ids(client.get("/?colour=red").text)
    before = _total(second.get("/?colour=red").text)
    with session_scope(engine) as s:  # a moderator, through some other process
        version = s.get(Photo, dress).version
        moderation.decide(s, dress, version, "ana", "correct", colour="blue")
    for client in (first, second):
        html = client.get("/?colour=red").text
        assert dress not in grid_ids(html) and _total(html) == before - 1
        assert dress in grid_ids(client.get("/?colour=blue").text)
        items = client.get("/api/v1/items?colour=red").json()["items"]
        assert dress not in {i["id"] for i in items}


def test_photos_added_by_the_nightly_job_show_without_waiting(two_workers) -> None:
    first, _, seeded, engine, settings = two_workers
    assert _total(first.get("/?category=Skirt").text) == 0
    with session_scope(engine) as s:
        post = add_post(s, seeded.shops["lina"], "mastodon", "99", caption="Pleated", days_ago=0)
        new = add_photo(s, settings.media_dir, post, "Skirt", "beige", seed=9)
    html = first.get("/?category=Skirt").text
    assert grid_ids(html) == {new} and _total(html) == 1
