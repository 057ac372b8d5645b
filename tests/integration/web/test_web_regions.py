"""A photo split into garments through the web app (SQLite and PostgreSQL): the queue and the
moderator's photo page show the regions over the photo, the regions page drops and merges
them (audited), and shoppers see "n items in this photo" linking the entries."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from catalog.db import make_engine
from catalog.models import ModerationEvent, Photo
from catalog.taxonomy import ReviewStatus
from tests.support.regions import split_catalogue
from tests.support.web_helpers import csrf_of, logged_in, make_app, seed


@pytest.fixture
def site(db_url, settings_for):  # type: ignore[no-untyped-def]
    settings, _path = settings_for(db_url)
    seed(settings)
    engine = make_engine(settings.database_url)
    parent, ids = split_catalogue(engine, settings.media_dir, review=True)
    yield make_app(settings), engine, parent, ids
    engine.dispose()


def _regions_on(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'class="region-box[^"]*"[^>]*data-region="(\d+)"', html)]


def test_queue_shows_a_regions_boxes_over_its_photo(site) -> None:  # type: ignore[no-untyped-def]
    app, _engine, parent, ids = site
    client = logged_in(app)
    page = client.get(f"/moderate?photo={ids[0]}").text
    assert 'id="regions"' in page and "3 garments in this photo" in page
    assert _regions_on(page) == ids
    assert 'class="region-box focus"' in page  # this region, highlighted
    assert client.get(f"/media/full/{parent}/{_sha(site, parent)}.jpg").status_code == 200
    detail = client.get(f"/moderate/photos/{ids[1]}").text
    assert _regions_on(detail) == ids
    assert client.get("/moderate/regions/999999").status_code == 404


def test_moderator_drops_and_merges_regions(site) -> None:  # type: ignore[no-untyped-def]
    app, engine, parent, ids = site
    client = logged_in(app)
    page = client.get(f"/moderate/regions/{parent}")
    assert page.status_code == 200 and _regions_on(page.text) == ids
    token = csrf_of(page.text)
    versions = dict(re.findall(r'name="region" value="(\d+):(\d+)"', page.text))
    r = client.post(
        f"/moderate/regions/{parent}/drop",
        data={"csrf_token": token, "drop": f"{ids[2]}:{versions[str(ids[2])]}"},
        follow_redirects=True,
    )
    assert "Dropped region" in r.text and _regions_on(r.text) == ids[:2]
    stale = client.post(  # a merge form from before someone changed a region
        f"/moderate/regions/{parent}/merge",
        data={"csrf_token": token, "region": [f"{ids[0]}:0", f"{ids[1]}:1"]},
        follow_redirects=True,
    )
    assert _regions_on(stale.text) == ids[:2] and 'class="flash error"' in stale.text
    versions = dict(re.findall(r'name="region" value="(\d+):(\d+)"', stale.text))
    r = client.post(
        f"/moderate/regions/{parent}/merge",
        data={"csrf_token": token, "region": [f"{i}:{versions[str(i)]}" for i in ids[:2]]},
        follow_redirects=True,
    )
    assert "Merged 2 regions" in r.text and _regions_on(r.text) == [ids[0]]
    no_token = client.post(f"/moderate/regions/{parent}/merge", data={"region": "1:1"})
    assert no_token.status_code in (400, 403)
    with Session(engine) as s:
        actions = [
            (e.photo_id, e.action, e.moderator)
            for e in s.exec(select(ModerationEvent).order_by(ModerationEvent.id)).all()
        ]
        assert actions[-3:] == [
            (ids[2], "drop_region", "ann"),
            (ids[1], "merge_region", "ann"),
            (ids[0], "merge_regions", "ann"),
        ]
        assert s.get(Photo, ids[1]).status == ReviewStatus.rejected


def test_shoppers_see_the_items_in_the_photo(site) -> None:  # type: ignore[no-untyped-def]
    app, _engine, parent, ids = site
    from fastapi.testclient import TestClient

    shopper = TestClient(app)
    page = shopper.get(f"/photos/{ids[1]}").text
    assert 'id="entries"' in page and "3 items in this photo" in page  # one partly public
    assert [int(x) for x in re.findall(r'data-entry="(\d+)"', page)] == ids
    assert shopper.get(f"/photos/{parent}").status_code == 404  # the original is no entry
    grid = shopper.get("/").text
    assert f'data-id="{ids[1]}"' in grid and f'data-id="{parent}"' not in grid
    # the original's file is shown (it says where each garment is), not its page
    assert shopper.get(f"/media/full/{parent}/{_sha(site, parent)}.jpg").status_code == 200
    # the API says which photo an entry is cut from and where, in lists and on its own
    with Session(site[1]) as s:
        box = s.get(Photo, ids[1]).region_box
    listed = {i["id"]: i for i in shopper.get("/api/v1/items").json()["items"]}
    assert listed[ids[1]]["parent_id"] == parent and listed[ids[1]]["region_box"] == box
    one = shopper.get(f"/api/v1/items/{ids[1]}").json()
    assert one["parent_id"] == parent and one["region_box"] == box
    assert all(i["parent_id"] is None for i in listed.values() if i["id"] not in ids)


def _sha(site, pid: int) -> str:  # type: ignore[no-untyped-def]
    with Session(site[1]) as s:
        return s.get(Photo, pid).sha256[:16]
