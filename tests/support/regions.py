"""Shared by the region tests: an outfit photo made of real photos of the shared dataset, split
into three labelled, public regions the way classify stores them."""

from __future__ import annotations

import hashlib
import io
import random
from pathlib import Path

from PIL import Image
from sqlalchemy.engine import Engine

from catalog import crud, media, regions
from catalog.db import session_scope
from catalog.models import Photo
from catalog.taxonomy import ReviewStatus
from classifier.regions import side_by_side
from tests.support.classifier_support import dataset, rows

LABELS = [("Pants", "blue"), ("T-Shirt", "white"), ("Shoes", "black")]


def composite_file(media_dir: Path) -> tuple[str, str, list[list[float]]]:
    """Three real photos of the shared dataset side by side, stored like a crawled photo:
    (sha256, stored_path, the garments' boxes)."""
    picks = [next(r for r in rows(cat, 200) if r["colour"] == col) for cat, col in LABELS]
    images = [Image.open(dataset() / r["image"]).convert("RGB") for r in picks]
    canvas, boxes = side_by_side(images, random.Random(3))
    buf = io.BytesIO()
    canvas.save(buf, "JPEG", quality=90)
    sha = hashlib.sha256(buf.getvalue()).hexdigest()
    rel = media.photo_relpath(sha, "jpg")
    (media_dir / rel).parent.mkdir(parents=True, exist_ok=True)
    (media_dir / rel).write_bytes(buf.getvalue())
    return sha, rel, [b.as_list() for b in boxes]


def split_catalogue(engine: Engine, media_dir: Path, review: bool = False) -> tuple[int, list[int]]:
    """A post with an outfit photo split into three labelled, public regions (`review`: the
    first one's colour waits for a moderator)."""
    sha, rel, boxes = composite_file(media_dir)
    with session_scope(engine) as s:
        shop = crud.upsert_shop(s, "mastodon", "outfits", base_url="https://m.example")
        post = crud.upsert_post(s, shop.id, "mastodon", "outfit-1")
        parent_id = crud.add_photo(s, post.id, sha, stored_path=rel, width=900, height=400).id
    with session_scope(engine) as s:
        parent = s.get(Photo, parent_id)
        crops = [{**media.write_region(media_dir, rel, b, 160), "box": b} for b in boxes]
        children = regions.split_photo(s, parent, crops)
        assert children is not None and len(children) == 3
        for child, (cat, col) in zip(children, LABELS, strict=True):
            child.category, child.colour = cat, col
            child.category_state = child.colour_state = "auto"
            child.status = ReviewStatus.auto_accepted
        if review:
            first = children[0]
            first.colour_state, first.colour_confidence = "review", 0.2
            first.status = ReviewStatus.partly_accepted
        ids = [int(c.id or 0) for c in children]
    return parent_id, ids
