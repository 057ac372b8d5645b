"""Photo embeddings on the real vector indexes (sqlite-vec, PostgreSQL) and "more like this":
the query, the JSON API and the photo page, on SQLite and on PostgreSQL."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from catalog import vectors
from catalog.db import make_engine, session_scope
from catalog.queries import Filters
from tests.support.similar import ANGLES, seed_similar, unit
from tests.support.web_helpers import make_app


@pytest.fixture
def site(db_url, settings_for):  # type: ignore[no-untyped-def]
    settings, _ = settings_for(db_url)
    photos = seed_similar(settings)
    engine = make_engine(settings.database_url)
    with TestClient(make_app(settings)) as client:
        yield engine, client, photos
    engine.dispose()


def names(found, photos) -> list[str]:  # type: ignore[no-untyped-def]
    by_id = {v: k for k, v in photos.items()}
    return [by_id[s.item.id] for s in found]


def test_vectors_round_trip_replace_and_nearest(site) -> None:  # type: ignore[no-untyped-def]
    engine, _client, photos = site
    with session_scope(engine) as s:
        got = vectors.get(s, photos["lina_dress3"])
        assert got is not None and np.allclose(got, unit(0.2), atol=1e-6)
        vectors.store(s, photos["lina_dress3"], unit(0.9), "next-model")  # replaced, not added
        assert vectors.versions(s) == {"test-model": len(ANGLES) - 1, "next-model": 1}
        near = vectors.nearest(s, unit(0.0), 3)
        nearest_three = [photos[n] for n in ("red_dress", "red_dress_back", "repost")]
        assert [i for i, _ in near] == nearest_three
        assert near[0][1] == pytest.approx(0.0, abs=1e-5)
        assert near[2][1] == pytest.approx(1 - math.cos(0.02), abs=1e-5)
        assert vectors.get(s, photos["no_vector"]) is None


def test_bad_vectors_are_refused_and_nothing_is_lost(site) -> None:  # type: ignore[no-untyped-def]
    engine, _client, photos = site
    with Session(engine) as s:
        with pytest.raises(
            vectors.VectorError, match=f"{vectors.EMBEDDING_DIM} numbers, this one 3"
        ):
            vectors.store(s, photos["red_dress"], [1.0, 0.0, 0.0], "m")
        bad = unit(0.0)
        bad[5] = np.nan
        with pytest.raises(vectors.VectorError, match="NaN"):
            vectors.store(s, photos["red_dress"], bad, "m")
        assert np.allclose(vectors.get(s, photos["red_dress"]), unit(0.0))


def test_a_deleted_photo_takes_its_vector_with_it(site) -> None:  # type: ignore[no-untyped-def]
    engine, _client, photos = site
    with session_scope(engine) as s:
        post = s.execute(
            text("SELECT post_id FROM photos WHERE id = :id"), {"id": photos["knit_dress"]}
        ).scalar()
        s.execute(text("DELETE FROM posts WHERE id = :id"), {"id": post})  # cascades to photos
    with Session(engine) as s:
        assert vectors.get(s, photos["knit_dress"]) is None
        assert photos["knit_dress"] not in [i for i, _ in vectors.nearest(s, unit(0.4), 50)]


def test_more_like_this_is_public_folded_spread_and_filtered(site) -> None:  # type: ignore[no-untyped-def]
    engine, _client, photos = site
    with Session(engine) as s:
        red = photos["red_dress"]
        found = vectors.similar(s, red)
        # not itself, its post, its repost or unpublished photos; two per shop at most
        assert names(found, photos) == [
            "lina_dress2", "lina_dress3", "knit_dress", "green_hoodie", "evil_shirt"
        ]  # fmt: skip
        assert [f.distance for f in found] == sorted(f.distance for f in found)
        assert found[0].distance == pytest.approx(1 - math.cos(0.1), abs=1e-5)
        assert names(vectors.similar(s, red, per_shop=0), photos) == [
            "lina_dress2", "lina_dress3", "lina_dress4", "knit_dress", "blue_pants",
            "green_hoodie", "evil_shirt",
        ]  # fmt: skip
        dresses = Filters(category=("Dress",))
        assert names(vectors.similar(s, red, dresses), photos) == [
            "lina_dress2", "lina_dress3", "knit_dress"
        ]  # fmt: skip
        red_dresses = Filters(category=("Dress",), colour=("red",))
        assert names(vectors.similar(s, red, red_dresses, per_shop=0), photos) == [
            "lina_dress2", "lina_dress4", "knit_dress"
        ]  # fmt: skip
        assert names(vectors.similar(s, red, other_shops=True), photos) == [
            "knit_dress", "green_hoodie", "evil_shirt"
        ]  # fmt: skip
        assert names(vectors.similar(s, red, k=2), photos) == ["lina_dress2", "lina_dress3"]
        # a repost's page: its original is left out (the same photo), its original's post is not
        from_repost = names(vectors.similar(s, photos["repost"]), photos)
        assert from_repost[:2] == ["red_dress_back", "lina_dress2"]
        assert "red_dress" not in from_repost
        assert vectors.similar(s, photos["review_dress"]) is None  # not public
        assert vectors.similar(s, photos["no_vector"]) == []


def test_similar_api(site) -> None:  # type: ignore[no-untyped-def]
    _engine, client, photos = site
    red = photos["red_dress"]
    body = client.get(f"/api/v1/items/{red}/similar?category=Dress&other_shops=1").json()
    assert [i["id"] for i in body["items"]] == [photos["knit_dress"]]
    assert body["items"][0]["shop"]["name"] == "Knit & Co"
    assert body["distances"] == [pytest.approx(1 - math.cos(0.4), abs=1e-4)]
    body = client.get(f"/api/v1/items/{red}/similar?limit=3&per_shop=1").json()
    assert [i["id"] for i in body["items"]] == [
        photos[n] for n in ("lina_dress2", "knit_dress", "evil_shirt")
    ]
    assert client.get(f"/api/v1/items/{photos['pending']}/similar").status_code == 404
    assert client.get("/api/v1/items/abc/similar").status_code == 404
    r = client.get(f"/api/v1/items/{red}/similar?colour=plaid")
    assert r.status_code == 400 and "unknown colour 'plaid'" in r.json()["detail"]
    assert client.get(f"/api/v1/items/{red}/similar?limit=0").status_code == 422
    assert "/api/v1/items/{photo_id}/similar" in client.get("/api/v1/openapi.json").json()["paths"]


def test_photo_page_shows_more_like_this(site) -> None:  # type: ignore[no-untyped-def]
    _engine, client, photos = site
    html = client.get(f"/photos/{photos['red_dress']}").text
    assert "More like this" in html
    strip = html.split('id="similar"')[1].split("</section>")[0]
    ids = [int(x) for x in __import__("re").findall(r'data-id="(\d+)"', strip)]
    assert ids == [photos[n] for n in ("lina_dress2", "lina_dress3", "knit_dress",
                                       "green_hoodie", "evil_shirt")]  # fmt: skip
    assert 'id="similar"' not in client.get(f"/photos/{photos['no_vector']}").text


def test_the_strip_drops_a_photo_a_moderator_rejects(db_url, settings_for) -> None:  # type: ignore[no-untyped-def]
    from catalog import moderation
    from catalog.models import Photo

    settings, _ = settings_for(db_url, "[web]\nfacet_cache_seconds = 600\n")
    photos = seed_similar(settings)
    engine = make_engine(settings.database_url)
    red = photos["red_dress"]

    def strip(client: TestClient) -> list[int]:
        html = client.get(f"/photos/{red}").text.split('id="similar"')[1].split("</section>")[0]
        return [int(x) for x in __import__("re").findall(r'data-id="(\d+)"', html)]

    with TestClient(make_app(settings)) as client:
        assert photos["knit_dress"] in strip(client)  # now cached for 10 minutes
        with session_scope(engine) as s:
            knit = s.get(Photo, photos["knit_dress"])
            moderation.decide(s, knit.id, knit.version, "ann", "reject")
        assert photos["knit_dress"] not in strip(client)
        assert photos["lina_dress4"] not in strip(client)  # lina has two already
    engine.dispose()


def test_the_api_caches_per_photo_and_filters_and_drops_a_rejected_photo(
    db_url, settings_for
) -> None:  # type: ignore[no-untyped-def]
    from catalog import moderation
    from catalog.models import Photo

    settings, _ = settings_for(db_url, "[web]\nfacet_cache_seconds = 600\n")
    photos = seed_similar(settings)
    engine = make_engine(settings.database_url)
    red = photos["red_dress"]

    def ids(client: TestClient, query: str = "") -> list[int]:
        return [i["id"] for i in client.get(f"/api/v1/items/{red}/similar{query}").json()["items"]]

    with TestClient(make_app(settings)) as client:
        everything, dresses = ids(client), ids(client, "?category=Dress&per_shop=0")
        assert photos["knit_dress"] in everything and photos["blue_pants"] not in dresses
        assert ids(client, "?category=Dress&per_shop=0") == dresses  # its own cache entry
        with session_scope(engine) as s:  # a vector changes without a new catalogue stamp:
            vectors.store(s, photos["knit_dress"], unit(1.5), "other")  # the cache answers
        assert ids(client) == everything
        with session_scope(engine) as s:
            knit = s.get(Photo, photos["knit_dress"])
            moderation.decide(s, knit.id, knit.version, "ann", "reject")
        assert photos["knit_dress"] not in ids(client)  # the decision empties the cache
        assert photos["knit_dress"] not in ids(client, "?category=Dress&per_shop=0")
    engine.dispose()
