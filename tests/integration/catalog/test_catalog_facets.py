"""Facet counts: on PostgreSQL a view that no label or shop narrows is counted in one pass
(GROUPING SETS, one FILTER per facet); it must give what each facet's own query gives."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlmodel import Session

from catalog import queries
from catalog.db import make_engine, session_scope
from catalog.queries import FACETS, Filters
from demo.seed import add_photo, add_post
from tests.support.web_helpers import seed

VIEWS = [
    Filters(),
    Filters(network=("bluesky",)),
    Filters(network=("mastodon", "instagram")),
    Filters(date_from=date(2020, 1, 1)),
    Filters(price_min=Decimal("10"), price_max=Decimal("100")),
    Filters(currency="EUR", network=("mastodon",)),
    Filters(q="dress"),
    Filters(q="dress", network=("bluesky",)),
    Filters(category=("Dress",)),  # the per-facet queries on both databases
    Filters(colour=("red",), network=("mastodon",)),
]


def test_every_facet_counted_in_one_pass_as_in_its_own_query(db_url, settings_for) -> None:
    settings, _ = settings_for(db_url)
    seeded = seed(settings)
    engine = make_engine(settings.database_url)
    with session_scope(engine) as s:  # a priced post, for the price filters
        post = add_post(s, seeded.shops["lina"], "mastodon", "p", caption="Silk dress 45 €")
        add_photo(s, settings.media_dir, post, "Dress", "red", seed=20)
    with Session(engine) as s:
        for view in VIEWS:
            facets = queries.facet_counts(s, view)
            for facet in FACETS:
                assert facets.raw[facet] == queries._facet_counts(s, facet, view), (view, facet)
            assert facets.total == queries.count_items(s, view), view
        assert queries.facet_counts(s, Filters()).total > 0
    engine.dispose()
