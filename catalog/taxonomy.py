"""The label vocabulary shared by the classifier, the catalogue and the web.

It lives in the base package so that `web/` can show swatches and filters from stored
predictions without ever importing the model.
"""

from __future__ import annotations

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


class ReviewStatus(StrEnum):
    """Where a photo stands between the classifier and the public catalogue."""

    pending = "pending"  # stored, not yet labelled
    auto_accepted = "auto_accepted"  # both heads passed their thresholds
    needs_review = "needs_review"  # in the moderator queue
    approved = "approved"  # a moderator confirmed the model's labels
    corrected = "corrected"  # a moderator changed a label
    rejected = "rejected"  # a moderator said it is not a product photo


PUBLIC_STATUSES: tuple[str, ...] = (
    ReviewStatus.auto_accepted,
    ReviewStatus.approved,
    ReviewStatus.corrected,
)
# Statuses a moderator has set: a new model version must not overwrite these.
HUMAN_STATUSES: tuple[str, ...] = (
    ReviewStatus.approved,
    ReviewStatus.corrected,
    ReviewStatus.rejected,
)


def is_label(head: str, label: str) -> bool:
    return head in LABELS and label in LABELS[head]
