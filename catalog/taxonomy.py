"""The label vocabulary shared by the classifier, the catalogue and the web.

It lives in the base package so that `web/` can show swatches and filters from stored
predictions without ever importing the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

# The 17 garment categories of the training data, in a fixed order: the classifier's
# category head emits probabilities in exactly this order.
CATEGORIES: tuple[str, ...] = (
    "T-Shirt",
    "Longsleeve",
    "Pants",
    "Shoes",
    "Shirt",
    "Dress",
    "Outwear",
    "Shorts",
    "Hat",
    "Skirt",
    "Polo",
    "Undershirt",
    "Blazer",
    "Hoodie",
    "Body",
    "Top",
    "Blouse",
)

# The 13 colour names with the swatch shown in filters (multicolour is drawn as a gradient).
COLOUR_SWATCHES: dict[str, str] = {
    "black": "#111111",
    "white": "#f7f7f2",
    "grey": "#8c8c8c",
    "beige": "#d9c7a3",
    "brown": "#7a4a26",
    "red": "#c0262d",
    "pink": "#ee8fb5",
    "orange": "#f08a24",
    "yellow": "#f2d230",
    "green": "#3f8f3a",
    "blue": "#2c5fb3",
    "purple": "#7d4bb3",
    "multicolour": "linear-gradient(135deg,#c0262d,#f2d230,#3f8f3a,#2c5fb3)",
}
COLOURS: tuple[str, ...] = tuple(COLOUR_SWATCHES)

HEADS: tuple[str, ...] = ("category", "colour")
LABELS: dict[str, tuple[str, ...]] = {"category": CATEGORIES, "colour": COLOURS}

NETWORKS: tuple[str, ...] = ("instagram", "mastodon", "bluesky", "shopify")


class LabelState(StrEnum):
    """Where one label (a photo's category, or its colour) stands."""

    pending = "pending"  # not labelled yet
    auto = "auto"  # the model (with the shop's words) was sure: public as it is
    review = "review"  # doubtful: a moderator is asked this label; not shown to shoppers
    human = "human"  # a moderator chose it: no model ever overwrites it


# A label shoppers see and filter by. Rows written without states (raw SQL seeds, rows from
# before migration l001 that it could not map) read "pending" on a public photo: only "review"
# is held back, so `!= review` is the public test (see catalog.queries).
DECIDED_STATES: tuple[str, ...] = (LabelState.auto, LabelState.human)


class ReviewStatus(StrEnum):
    """Where a photo stands between the classifier and the public catalogue.

    Derived from its two label states (`photo_status`) except `rejected`, which a moderator
    sets for the whole photo.
    """

    pending = "pending"  # stored, not yet labelled
    auto_accepted = "auto_accepted"  # both labels decided by the model
    # One label decided (model or moderator) and public, the other in the moderator queue.
    partly_accepted = "partly_accepted"
    needs_review = "needs_review"  # both labels in the moderator queue; not public
    approved = "approved"  # both decided, a moderator confirmed the model's label(s)
    corrected = "corrected"  # both decided, a moderator's label differs from the model's
    rejected = "rejected"  # a moderator said it is not a product photo
    split_up = "split"  # shows several garments: its regions are the entries (catalog.regions)


PUBLIC_STATUSES: tuple[str, ...] = (
    ReviewStatus.auto_accepted,
    ReviewStatus.partly_accepted,
    ReviewStatus.approved,
    ReviewStatus.corrected,
)
# Photos with at least one label waiting for a moderator: the queue.
REVIEW_STATUSES: tuple[str, ...] = (ReviewStatus.needs_review, ReviewStatus.partly_accepted)
# Statuses a moderator has set on both labels (or the whole photo).
HUMAN_STATUSES: tuple[str, ...] = (
    ReviewStatus.approved,
    ReviewStatus.corrected,
    ReviewStatus.rejected,
)


def photo_status(states: Mapping[str, str], *, corrected: bool = False) -> ReviewStatus:
    """The photo status its label states imply (`corrected`: a human label differs from the
    model's guess). Never `rejected`: that is a moderator's decision on the whole photo."""
    values = {states.get(h, LabelState.pending) for h in HEADS}
    if LabelState.pending in values:
        return ReviewStatus.pending
    if LabelState.review in values:
        return (
            ReviewStatus.needs_review
            if values == {LabelState.review}
            else ReviewStatus.partly_accepted
        )
    if LabelState.human in values:
        return ReviewStatus.corrected if corrected else ReviewStatus.approved
    return ReviewStatus.auto_accepted


# The label states a photo status meant before labels had their own (migration l001 and undo
# of older audit events use it). A rejected photo keeps whatever states it has.
LEGACY_STATES: dict[str, str] = {
    ReviewStatus.pending: LabelState.pending,
    ReviewStatus.auto_accepted: LabelState.auto,
    ReviewStatus.needs_review: LabelState.review,
    ReviewStatus.approved: LabelState.human,
    ReviewStatus.corrected: LabelState.human,
}


def label_states(status: str, category_state: str, colour_state: str) -> dict[str, str]:
    """head → state, filling "pending" states of a labelled photo in from its status (rows
    written without states, e.g. by raw SQL)."""
    states = {"category": category_state, "colour": colour_state}
    legacy = LEGACY_STATES.get(status)
    if legacy and status != ReviewStatus.pending:
        states = {h: (legacy if s == LabelState.pending else s) for h, s in states.items()}
    return states


def is_label(head: str, label: str) -> bool:
    return head in LABELS and label in LABELS[head]
