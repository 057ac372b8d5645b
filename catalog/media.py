"""Where a photo and its thumbnail live under media_dir, and how a thumbnail is encoded: the
crawler writes them, the publish step rebuilds missing thumbnails, both from here."""

from __future__ import annotations

from pathlib import Path

THUMB_FORMAT = "WEBP"
THUMB_QUALITY = 80


def photo_relpath(sha256: str, ext: str) -> str:
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}.{ext}"


def thumb_relpath(sha256: str) -> str:
    return f"thumbs/{sha256[:2]}/{sha256}.webp"


def region_relpath(sha256: str) -> str:
    """A garment's crop from a photo showing several: stored like any photo (by content)."""
    return photo_relpath(sha256, "jpg")


def write_region(
    media_dir: str | Path, source_relpath: str, box: list[float], thumb_size: int
) -> dict[str, object]:
    """Crop `box` ([x0, y0, x1, y1] fractions) out of a stored photo and store it with its
    thumbnail, both atomically; returns the Photo columns of the crop (sha256, stored_path,
    thumb_path, width, height). The same crop twice gives the same files."""
    import hashlib
    import io

    from PIL import Image, ImageOps

    media = Path(media_dir)
    with Image.open(media / source_relpath) as stored:
        img = (ImageOps.exif_transpose(stored) or stored).convert("RGB")
        w, h = img.size
        x0, y0, x1, y1 = (
            max(0, round(box[0] * w)),
            max(0, round(box[1] * h)),
            min(w, round(box[2] * w)),
            min(h, round(box[3] * h)),
        )
        if x1 - x0 < 8 or y1 - y0 < 8:
            raise ValueError(f"region {box} of {source_relpath} is too small to store")
        crop = img.crop((x0, y0, x1, y1))
    buf = io.BytesIO()
    crop.save(buf, "JPEG", quality=90)
    data = buf.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    rel, thumb = region_relpath(sha), thumb_relpath(sha)
    _atomic_write(media / rel, data)
    small = crop.copy()
    small.thumbnail((thumb_size, thumb_size))
    out = io.BytesIO()
    small.save(out, THUMB_FORMAT, quality=THUMB_QUALITY)
    _atomic_write(media / thumb, out.getvalue())
    return {
        "sha256": sha,
        "stored_path": rel,
        "thumb_path": thumb,
        "width": crop.width,
        "height": crop.height,
    }


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)  # the web never serves half a file
