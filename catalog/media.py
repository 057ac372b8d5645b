"""Where a photo and its thumbnail live under media_dir, and how a thumbnail is encoded: the
crawler writes them, the publish step rebuilds missing thumbnails, both from here."""

from __future__ import annotations

THUMB_FORMAT = "WEBP"
THUMB_QUALITY = 80


def photo_relpath(sha256: str, ext: str) -> str:
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}.{ext}"


def thumb_relpath(sha256: str) -> str:
    return f"thumbs/{sha256[:2]}/{sha256}.webp"
