"""catalog.changes in Python: matching a photo to a view with one facet left out, and counts
corrected for a decision that moves none of them (or some) of a view."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

from catalog.changes import PhotoChange, PhotoFacts, adjust_facets, matches
from catalog.queries import FACETS, Filters, _assemble
from catalog.taxonomy import CATEGORIES, COLOURS, NETWORKS


def _facts(rnd: random.Random, **fixed: object) -> PhotoFacts:
    values: dict = {
        "status": rnd.choice(("auto_accepted", "approved", "needs_review", "rejected")),
        "category": rnd.choice(CATEGORIES[:3]),
        "colour": rnd.choice(COLOURS[:3]),
        "category_state": rnd.choice(("accepted", "review")),
        "colour_state": rnd.choice(("accepted", "review")),
        "duplicate_of_id": None,
        "shop_id": rnd.randint(1, 3),
        "shop_name": "a shop",
        "network": rnd.choice(NETWORKS[:2]),
        "posted_at": datetime(2026, rnd.randint(1, 3), 10, tzinfo=UTC),
        "price_amount": rnd.choice((None, Decimal("15"), Decimal("40"))),
        "price_currency": "EUR",
    }
    values.update(fixed)
    return PhotoFacts(**values)


def _views() -> list[Filters]:
    return [
        Filters(category=c, colour=k, shop=s, network=n, **extra)
        for c, k, s, n, extra in itertools.product(
            ((), (CATEGORIES[0],)),
            ((), (COLOURS[1], COLOURS[2])),
            ((), (2,)),
            ((), (NETWORKS[0],)),
            (
                {},
                {"date_from": date(2026, 2, 1)},
                {"price_min": Decimal("20"), "price_max": Decimal("50")},
            ),
        )
    ]


def test_matching_with_a_facet_skipped_is_matching_the_view_without_it() -> None:
    rnd = random.Random(4)
    for view in _views():
        for _ in range(20):
            facts = _facts(rnd)
            for facet in FACETS:
                assert matches(view, facts, skip=facet) == matches(view.without(facet), facts)


def test_a_decision_that_moves_no_count_of_a_view_leaves_its_counts_as_they_are() -> None:
    view = Filters(category=(CATEGORIES[0],), colour=(COLOURS[0],))
    raw = {"category": {CATEGORIES[0]: 3}, "colour": {COLOURS[0]: 3}, "shop": {1: 3}}
    raw["network"] = {NETWORKS[0]: 3}
    facets = _assemble(view, raw, {1: "a shop"}, 3)
    # Neither label is the view's: the photo is in none of its facets' counts.
    other = _facts(
        random.Random(1),
        status="approved",
        category=CATEGORIES[1],
        colour=COLOURS[1],
        category_state="accepted",
    )
    queued = PhotoChange(1, 9, replace(other, status="needs_review"), other)
    assert adjust_facets(facets, view, queued) is facets
    # Its colour is the view's: the category facet moves, the others are kept as they were.
    red = replace(other, colour=COLOURS[0], colour_state="accepted")
    accepted = PhotoChange(2, 9, replace(red, status="needs_review"), red)
    moved = adjust_facets(facets, view, accepted)
    assert moved is not facets and moved.total == 3
    assert {v.value: v.count for v in moved.values["category"]} == {
        CATEGORIES[0]: 3,
        CATEGORIES[1]: 1,
    }
    for facet in ("colour", "shop", "network"):
        assert moved.values[facet] is facets.values[facet]
    assert facets.raw["category"] == {CATEGORIES[0]: 3}  # the cached value is not changed
