"""Synthetic catalogue data for the web tests and the README screenshots (seeded rows with real
image files: a product module, so that tests and tools import it from the product, never from
benchmarks/ or tests/).

Images are drawn with Pillow (a garment silhouette of the right colour on a plain background):
real JPEG/WebP files, stored content-addressed like the crawler stores them.
"""

from __future__ import annotations

import hashlib
import io
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw
from sqlmodel import Session

from catalog import crud
from catalog.models import Prediction
from catalog.taxonomy import CATEGORIES, COLOURS, LEGACY_STATES, LabelState

RGB: dict[str, tuple[int, int, int]] = {
    "black": (25, 25, 25),
    "white": (245, 245, 240),
    "grey": (140, 140, 140),
    "beige": (217, 199, 163),
    "brown": (122, 74, 38),
    "red": (192, 38, 45),
    "pink": (238, 143, 181),
    "orange": (240, 138, 36),
    "yellow": (242, 210, 48),
    "green": (63, 143, 58),
    "blue": (44, 95, 179),
    "purple": (125, 75, 179),
}
BACKGROUNDS = [(236, 232, 225), (220, 228, 236), (240, 236, 246), (229, 240, 229)]


def _shape(category: str, w: int, h: int) -> list[tuple[float, float]]:
    """A rough silhouette per kind of garment, in image coordinates."""
    cx = w / 2
    if category in ("Pants", "Shorts"):
        leg = 0.75 if category == "Pants" else 0.45
        return [
            (cx - 0.22 * w, 0.15 * h),
            (cx + 0.22 * w, 0.15 * h),
            (cx + 0.26 * w, (0.15 + leg) * h),
            (cx + 0.04 * w, (0.15 + leg) * h),
            (cx, 0.35 * h),
            (cx - 0.04 * w, (0.15 + leg) * h),
            (cx - 0.26 * w, (0.15 + leg) * h),
        ]
    if category in ("Dress", "Skirt"):
        top = 0.12 if category == "Dress" else 0.3
        return [
            (cx - 0.12 * w, top * h),
            (cx + 0.12 * w, top * h),
            (cx + 0.32 * w, 0.88 * h),
            (cx - 0.32 * w, 0.88 * h),
        ]
    if category in ("Shoes", "Hat"):
        return [
            (0.2 * w, 0.55 * h),
            (0.55 * w, 0.4 * h),
            (0.8 * w, 0.5 * h),
            (0.8 * w, 0.65 * h),
            (0.2 * w, 0.65 * h),
        ]
    sleeve = 0.55 if category in ("Longsleeve", "Hoodie", "Outwear", "Blazer", "Shirt") else 0.3
    return [
        (cx - 0.14 * w, 0.12 * h),
        (cx + 0.14 * w, 0.12 * h),
        (cx + 0.42 * w, (0.12 + sleeve * 0.5) * h),
        (cx + 0.34 * w, (0.18 + sleeve * 0.5) * h),
        (cx + 0.22 * w, 0.3 * h),
        (cx + 0.22 * w, 0.85 * h),
        (cx - 0.22 * w, 0.85 * h),
        (cx - 0.22 * w, 0.3 * h),
        (cx - 0.34 * w, (0.18 + sleeve * 0.5) * h),
        (cx - 0.42 * w, (0.12 + sleeve * 0.5) * h),
    ]


def garment_image(
    category: str, colour: str, *, seed: int = 0, size: tuple[int, int] = (480, 600)
) -> Image.Image:
    rnd = random.Random(seed)
    w, h = size
    img = Image.new("RGB", size, BACKGROUNDS[seed % len(BACKGROUNDS)])
    draw = ImageDraw.Draw(img)
    if colour == "multicolour":
        for i, c in enumerate(("red", "yellow", "green", "blue")):
            band = [(x, y) for x, y in _shape(category, w, h)]
            mask = Image.new("L", size, 0)
            ImageDraw.Draw(mask).polygon(band, fill=255)
            stripe = Image.new("L", size, 0)
            ImageDraw.Draw(stripe).rectangle([0, h * i / 4, w, h * (i + 1) / 4], fill=255)
            img.paste(RGB[c], mask=Image.composite(mask, Image.new("L", size, 0), stripe))
    else:
        base = RGB[colour]
        jitter = tuple(max(0, min(255, v + rnd.randint(-12, 12))) for v in base)
        draw.polygon(_shape(category, w, h), fill=jitter, outline=(60, 60, 60))
    # A little texture so near-identical seeds still give distinct files.
    for _ in range(30):
        x, y = rnd.randint(0, w - 1), rnd.randint(0, h - 1)
        draw.point((x, y), fill=(rnd.randint(0, 255),) * 3)
    return img


@dataclass
class StoredImage:
    sha256: str
    stored_path: str
    thumb_path: str
    width: int
    height: int


def store_image(media_dir: Path, img: Image.Image, thumb_size: int = 320) -> StoredImage:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    data = buf.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    stored = f"{sha[:2]}/{sha[2:4]}/{sha}.jpg"
    thumb = f"thumbs/{sha[:2]}/{sha[2:4]}/{sha}.webp"
    (media_dir / stored).parent.mkdir(parents=True, exist_ok=True)
    (media_dir / stored).write_bytes(data)
    small = img.copy()
    small.thumbnail((thumb_size, thumb_size))
    (media_dir / thumb).parent.mkdir(parents=True, exist_ok=True)
    small.save(media_dir / thumb, "WEBP", quality=80)
    return StoredImage(sha, stored, thumb, img.width, img.height)


def top3(label: str, confidence: float, vocabulary: tuple[str, ...], seed: int) -> list[list[Any]]:
    rnd = random.Random(seed)
    others = rnd.sample([v for v in vocabulary if v != label], 2)
    rest = 1 - confidence
    return [
        [label, confidence],
        [others[0], round(rest * 0.6, 4)],
        [others[1], round(rest * 0.3, 4)],
    ]


def add_photo(
    session: Session,
    media_dir: Path,
    post_id: int,
    category: str,
    colour: str,
    *,
    status: str = "auto_accepted",
    category_confidence: float = 0.95,
    colour_confidence: float = 0.95,
    seed: int = 0,
    position: int = 0,
    duplicate_of_id: int | None = None,
    model_version: str = "test-model",
    category_state: str | None = None,
    colour_state: str | None = None,
) -> int:
    """One labelled photo with a real image file and the model's predictions.

    Label states default to what `status` meant for both labels (taxonomy.LEGACY_STATES).
    """
    stored = store_image(media_dir, garment_image(category, colour, seed=seed))
    photo = crud.add_photo(
        session,
        post_id,
        stored.sha256,
        stored_path=stored.stored_path,
        thumb_path=stored.thumb_path,
        width=stored.width,
        height=stored.height,
        position=position,
        duplicate_of_id=duplicate_of_id,
        status=status,
        model_version=model_version,
    )
    from catalog.models import Photo

    row = session.get(Photo, photo.id)
    assert row is not None
    row.category, row.colour = category, colour
    row.category_confidence, row.colour_confidence = category_confidence, colour_confidence
    legacy = LEGACY_STATES.get(status, LabelState.human)
    row.category_state, row.colour_state = category_state or legacy, colour_state or legacy
    session.add(row)
    for head, label, conf, vocab in (
        ("category", category, category_confidence, CATEGORIES),
        ("colour", colour, colour_confidence, COLOURS),
    ):
        session.add(
            Prediction(
                photo_id=photo.id,
                head=head,
                label=label,
                confidence=conf,
                top=top3(label, conf, vocab, seed),
                model_version=model_version,
            )
        )
    session.flush()
    return photo.id


def add_post(
    session: Session,
    shop_id: int,
    network: str,
    post_id: str,
    *,
    caption: str = "",
    title: str = "",
    days_ago: float = 1,
    now: datetime | None = None,
) -> int:
    now = now or datetime(2026, 11, 1, 12, tzinfo=UTC)
    return crud.upsert_post(
        session,
        shop_id,
        network,
        post_id,
        caption=caption,
        title=title,
        permalink=f"https://example.org/{network}/{post_id}",
        posted_at=now - timedelta(days=days_ago),
    ).id
