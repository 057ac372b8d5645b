"""Photo embeddings for the "more like this" tests: the web seed plus dresses at known angles."""

from __future__ import annotations

import math

import numpy as np

from catalog import vectors
from catalog.db import make_engine, session_scope
from demo.seed import add_photo, add_post
from tests.support.web_helpers import seed

ANGLES = {
    "red_dress": 0.0,
    "red_dress_back": 0.01,  # same post: never "more like this"
    "repost": 0.02,  # folded under the red dress
    "review_dress": 0.03,  # not public
    "pending": 0.04,
    "rejected": 0.05,
    "lina_dress2": 0.1,
    "lina_dress3": 0.2,
    "lina_dress4": 0.3,
    "knit_dress": 0.4,
    "blue_pants": 0.5,
    "green_hoodie": 0.6,
    "evil_shirt": 0.7,
}


def unit(angle: float, axis: int = 1) -> np.ndarray:
    v = np.zeros(vectors.EMBEDDING_DIM, np.float32)
    v[0], v[axis] = math.cos(angle), math.sin(angle)
    return v


def seed_similar(settings) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """web_helpers.seed, four more dresses, a photo without a vector, and ANGLES' vectors."""
    seeded = seed(settings)
    engine = make_engine(settings.database_url)
    photos = seeded.photos
    with session_scope(engine) as s:
        lina, knit = seeded.shops["lina"], seeded.shops["knit"]
        for i, (name, shop, colour) in enumerate(
            [("lina_dress2", lina, "red"), ("lina_dress3", lina, "black"),
             ("lina_dress4", lina, "red"), ("knit_dress", knit, "red")]  # fmt: skip
        ):
            post = add_post(s, shop, "mastodon", f"x{i}", caption=name, days_ago=8 + i)
            photos[name] = add_photo(s, settings.media_dir, post, "Dress", colour, seed=20 + i)
        post = add_post(s, knit, "bluesky", "novec", caption="no vector yet", days_ago=20)
        photos["no_vector"] = add_photo(s, settings.media_dir, post, "Dress", "red", seed=30)
        for name, angle in ANGLES.items():
            vectors.store(s, photos[name], unit(angle), "test-model")
    engine.dispose()
    return photos


SPREAD = ["lina_dress2", "lina_dress3", "knit_dress", "green_hoodie", "evil_shirt"]
