"""Synthetic product photos: a garment of a given category and colour, drawn with Pillow.

The shapes are crude but recognisable silhouettes on textured backgrounds, with varied pose
(rotation, scale, offset), lighting and size, so the crawler, the classifier's tests and the
demo all get real, decodable, distinct images without any photo files in the repository.
"""

from __future__ import annotations

import hashlib
import io
import random
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from catalog.taxonomy import CATEGORIES, COLOUR_SWATCHES, COLOURS

# Silhouettes in a unit square (x right, y down), one or more polygons per category.
_TORSO_SHORT = [
    (0.30, 0.15),
    (0.42, 0.12),
    (0.58, 0.12),
    (0.70, 0.15),
    (0.88, 0.30),
    (0.78, 0.40),
    (0.70, 0.34),
    (0.70, 0.88),
    (0.30, 0.88),
    (0.30, 0.34),
    (0.22, 0.40),
    (0.12, 0.30),
]
_TORSO_LONG = [
    (0.30, 0.15),
    (0.42, 0.12),
    (0.58, 0.12),
    (0.70, 0.15),
    (0.92, 0.80),
    (0.84, 0.83),
    (0.70, 0.40),
    (0.70, 0.88),
    (0.30, 0.88),
    (0.30, 0.40),
    (0.16, 0.83),
    (0.08, 0.80),
]
SHAPES: dict[str, list[list[tuple[float, float]]]] = {
    "T-Shirt": [_TORSO_SHORT],
    "Polo": [_TORSO_SHORT, [(0.42, 0.12), (0.50, 0.28), (0.58, 0.12)]],
    "Undershirt": [
        [
            (0.36, 0.12),
            (0.44, 0.12),
            (0.50, 0.22),
            (0.56, 0.12),
            (0.64, 0.12),
            (0.70, 0.30),
            (0.70, 0.88),
            (0.30, 0.88),
            (0.30, 0.30),
        ]
    ],
    "Top": [[(0.34, 0.18), (0.66, 0.18), (0.72, 0.30), (0.68, 0.70), (0.32, 0.70), (0.28, 0.30)]],
    "Body": [
        [
            (0.36, 0.12),
            (0.64, 0.12),
            (0.70, 0.30),
            (0.66, 0.72),
            (0.56, 0.88),
            (0.44, 0.88),
            (0.34, 0.72),
            (0.30, 0.30),
        ]
    ],
    "Longsleeve": [_TORSO_LONG],
    "Shirt": [_TORSO_LONG, [(0.49, 0.14), (0.51, 0.14), (0.51, 0.88), (0.49, 0.88)]],
    "Blouse": [
        [
            (0.30, 0.15),
            (0.50, 0.22),
            (0.70, 0.15),
            (0.94, 0.70),
            (0.84, 0.74),
            (0.70, 0.42),
            (0.76, 0.88),
            (0.24, 0.88),
            (0.30, 0.42),
            (0.16, 0.74),
            (0.06, 0.70),
        ]
    ],
    "Hoodie": [_TORSO_LONG, [(0.38, 0.14), (0.40, 0.04), (0.60, 0.04), (0.62, 0.14)]],
    "Blazer": [_TORSO_LONG, [(0.42, 0.12), (0.50, 0.50), (0.58, 0.12)]],
    "Outwear": [
        [
            (0.28, 0.12),
            (0.72, 0.12),
            (0.94, 0.86),
            (0.84, 0.88),
            (0.74, 0.42),
            (0.76, 0.96),
            (0.24, 0.96),
            (0.26, 0.42),
            (0.16, 0.88),
            (0.06, 0.86),
        ]
    ],
    "Dress": [[(0.38, 0.08), (0.62, 0.08), (0.66, 0.36), (0.86, 0.94), (0.14, 0.94), (0.34, 0.36)]],
    "Skirt": [[(0.34, 0.22), (0.66, 0.22), (0.84, 0.82), (0.16, 0.82)]],
    "Pants": [
        [
            (0.30, 0.08),
            (0.70, 0.08),
            (0.74, 0.94),
            (0.56, 0.94),
            (0.50, 0.36),
            (0.44, 0.94),
            (0.26, 0.94),
        ]
    ],
    "Shorts": [
        [
            (0.26, 0.24),
            (0.74, 0.24),
            (0.80, 0.68),
            (0.54, 0.68),
            (0.50, 0.44),
            (0.46, 0.68),
            (0.20, 0.68),
        ]
    ],
    "Shoes": [[(0.10, 0.50), (0.40, 0.46), (0.52, 0.58), (0.90, 0.64), (0.92, 0.74), (0.10, 0.74)]],
    "Hat": [
        [
            (0.10, 0.66),
            (0.30, 0.60),
            (0.34, 0.34),
            (0.50, 0.26),
            (0.66, 0.34),
            (0.70, 0.60),
            (0.90, 0.66),
            (0.70, 0.72),
            (0.30, 0.72),
        ]
    ],
}
assert set(SHAPES) == set(CATEGORIES)

_MULTI = [(192, 38, 45), (242, 210, 48), (63, 143, 58), (44, 95, 179)]


def _rgb(colour: str) -> tuple[int, int, int]:
    swatch = COLOUR_SWATCHES[colour]
    if not swatch.startswith("#"):
        return _MULTI[0]
    return tuple(int(swatch[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def _background(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """A pale textured backdrop: gradient + noise + optional weave stripes."""
    base = rng.integers(170, 245, size=3).astype(np.float32)
    tint = rng.normal(0, 12, size=3).astype(np.float32)
    ys = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    img = base + tint * ys + rng.normal(0, 6, size=(h, w, 1)).astype(np.float32)
    kind = rng.integers(0, 4)
    period = int(rng.integers(6, 40))
    if kind == 1:  # vertical weave
        img = img - 10 * ((np.arange(w) // period) % 2).astype(np.float32)[None, :, None]
    elif kind == 2:  # floorboards
        img = img - 14 * ((np.arange(h) // (period * 3)) % 2).astype(np.float32)[:, None, None]
    elif kind == 3:  # checks
        check = (np.arange(h)[:, None] // period + np.arange(w)[None, :] // period) % 2
        img = img - 12 * check.astype(np.float32)[:, :, None]
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


def draw_garment(
    category: str, colour: str, seed: int = 0, size: tuple[int, int] = (480, 600)
) -> Image.Image:
    """An RGB product photo of `category` in `colour`; the same arguments give the same image."""
    if category not in SHAPES:
        raise ValueError(f"unknown category {category!r}; expected one of {CATEGORIES}")
    if colour not in COLOURS:
        raise ValueError(f"unknown colour {colour!r}; expected one of {COLOURS}")
    # A stable seed (str hash() is salted per process): same arguments, same pixels, everywhere.
    key = hashlib.sha256(f"{category}|{colour}|{seed}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(key[:8], "big"))
    pyrng = random.Random(int(rng.integers(2**31)))
    w, h = size
    img = _background(rng, w, h)
    # Draw the garment on its own layer so that pose is one affine transform.
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    scale = pyrng.uniform(0.55, 0.95) * min(w, h)
    ox = (w - scale) / 2 + pyrng.uniform(-0.15, 0.15) * w
    oy = (h - scale) / 2 + pyrng.uniform(-0.12, 0.12) * h
    fill = np.array(_rgb(colour), dtype=np.float32)
    fill = np.clip(fill * pyrng.uniform(0.85, 1.1) + rng.normal(0, 6, 3), 0, 255)
    for i, poly in enumerate(SHAPES[category]):
        pts = [(ox + x * scale, oy + y * scale) for x, y in poly]
        rgb = _MULTI[i % 4] if colour == "multicolour" else tuple(int(c) for c in fill)
        if i and colour != "multicolour":  # details (collar, hood, placket) a shade darker
            rgb = tuple(max(0, int(c * 0.8)) for c in rgb)
        draw.polygon(pts, fill=(*rgb, 255))
    if colour == "multicolour":  # stripes across the garment
        for k in range(6):
            y0 = oy + scale * (0.2 + 0.12 * k)
            draw.rectangle([0, y0, w, y0 + scale * 0.05], fill=(*_MULTI[k % 4], 0))
        mask = layer.getchannel("A")
        stripes = Image.new("RGBA", (w, h))
        sd = ImageDraw.Draw(stripes)
        for k in range(8):
            y0 = oy + scale * (0.1 + 0.11 * k)
            sd.rectangle([0, y0, w, y0 + scale * 0.055], fill=(*_MULTI[k % 4], 255))
        stripes.putalpha(Image.composite(stripes.getchannel("A"), Image.new("L", (w, h)), mask))
        layer = Image.alpha_composite(layer, stripes)
    layer = layer.rotate(
        pyrng.uniform(-25, 25), resample=Image.Resampling.BILINEAR, center=(w / 2, h / 2)
    )
    shadow = layer.getchannel("A").filter(ImageFilter.GaussianBlur(6))
    img.paste((60, 60, 60), (int(w * 0.015), int(h * 0.015)), shadow.point(lambda a: a // 3))
    img.paste(layer, (0, 0), layer)
    # Uneven lighting (a window on one side): strong low-frequency variety, like real photos.
    angle = pyrng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ramp = (np.cos(angle) * (xx / w - 0.5) + np.sin(angle) * (yy / h - 0.5))[:, :, None]
    arr = np.asarray(img, dtype=np.float32) * (1 + pyrng.uniform(0.3, 0.7) * ramp)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def encode_jpeg(img: Image.Image, quality: int = 88, **params: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, **params)
    return buf.getvalue()


@lru_cache(maxsize=512)
def garment_jpeg(
    category: str, colour: str, seed: int, size: tuple[int, int] = (480, 600)
) -> bytes:
    """The JPEG bytes of `draw_garment(...)`, cached (the emulator serves them repeatedly)."""
    return encode_jpeg(draw_garment(category, colour, seed, size))
