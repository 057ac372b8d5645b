"""Decoding photos for the model: fast, and never fatal.

`load_rgb` returns an (S, S, 3) uint8 array or raises `UnreadableImage` with a reason a human
can act on. JPEGs are decoded at reduced size with Pillow's draft mode (the DCT scales by 1/2,
1/4 or 1/8), which is most of the speed of `vitrina predict` on a CPU.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Refuse decompression bombs by pixel count; the limit matches [storage] max_image_pixels.
DEFAULT_MAX_PIXELS = 40_000_000
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".avif")


class UnreadableImage(Exception):
    """The file is not an image the model can label; `str(exc)` is the reason."""


def _flatten_alpha(img: Image.Image) -> Image.Image:
    # Transparent product cut-outs are shown on white in shops; black would read as "black".
    rgba = img.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def load_rgb(path: str | Path, size: int, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """The photo at `path` as (size, size, 3) uint8 RGB (stretched, EXIF-rotated)."""
    path = Path(path)
    try:
        with Image.open(path) as img:
            w, h = img.size
            if w * h > max_pixels:
                raise UnreadableImage(
                    f"image too large: {w}x{h} = {w * h:,} pixels (limit {max_pixels:,})"
                )
            if getattr(img, "is_animated", False):
                img.seek(0)  # animated GIF/WebP: label the first frame
            if img.format == "JPEG":
                img.draft("RGB", (size, size))  # decode at ≥ size, up to 8x faster
            # Truncated files fail here (ImageFile.LOAD_TRUNCATED_IMAGES stays False), rather
            # than yielding a half-grey image with a confident label.
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                img.load()
            img = ImageOps.exif_transpose(img) or img
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                img = _flatten_alpha(img)
            elif img.mode != "RGB":
                img = img.convert("RGB")  # greyscale, CMYK, palette, 16-bit
            img = img.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
            return np.asarray(img, dtype=np.uint8)
    except UnreadableImage:
        raise
    except FileNotFoundError as exc:
        raise UnreadableImage("file not found") from exc
    except IsADirectoryError as exc:
        raise UnreadableImage("is a directory") from exc
    except PermissionError as exc:
        raise UnreadableImage("permission denied") from exc
    except UnidentifiedImageError as exc:
        raise UnreadableImage("not an image, or its header is corrupt") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UnreadableImage(f"image too large: {exc}") from exc
    except OSError as exc:
        raise UnreadableImage(f"corrupt or truncated image: {exc}") from exc
    except (ValueError, SyntaxError, EOFError) as exc:
        raise UnreadableImage(f"corrupt image: {exc}") from exc


def iter_image_paths(paths: list[str | Path]) -> list[Path]:
    """Files as given, folders expanded (recursively, image suffixes only, sorted)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(
                sorted(
                    f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
                )
            )
        else:
            out.append(p)
    return out
