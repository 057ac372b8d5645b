"""The bytes the emulator serves for each photo variant (cached: they are asked for often)."""

from __future__ import annotations

import io
import struct
import zlib
from functools import lru_cache

from PIL import Image

from crawler.emulator.catalogue import Photo
from crawler.emulator.synth import draw_garment, encode_jpeg

# A bit smaller than a phone photo keeps the demo and benchmarks quick; shops resize anyway.
DEFAULT_SIZE = (480, 600)
# EXIF GPS tags for a photo taken in central Lisbon: what the crawler must not keep.
GPS_LISBON = {1: "N", 2: (38.0, 42.0, 43.0), 3: "W", 4: (9.0, 8.0, 21.0)}


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int = 30_000, height: int = 30_000) -> bytes:
    """A tiny file whose header claims width×height pixels: opening it fully would need GBs."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = b"\x00" + b"\xff" * (width * 3)
    idat = zlib.compress(row * 4, 9)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


class MediaRenderer:
    def __init__(self, photos: dict[str, Photo], size: tuple[int, int] = DEFAULT_SIZE):
        self.photos = photos
        self.size = size
        self.render = lru_cache(maxsize=4096)(self._render)

    def _image(self, photo: Photo) -> Image.Image:
        if photo.real_path:
            with Image.open(photo.real_path) as im:
                return im.convert("RGB")
        return draw_garment(photo.category, photo.colour, photo.seed, self.size)

    def _plain_bytes(self, photo: Photo) -> bytes:
        if photo.real_path:
            with open(photo.real_path, "rb") as fh:
                return fh.read()
        return encode_jpeg(self._image(photo))

    def _render(self, key: str) -> tuple[bytes, str]:
        """(body, content type) for a photo key; KeyError if unknown."""
        photo = self.photos[key]
        v = photo.variant
        if v == "plain":
            return self._plain_bytes(photo), "image/jpeg"
        if v == "copy":
            return self.render(photo.of)
        if v == "resized":
            img = self._image(self.photos[photo.of])
            img = img.resize((img.width * 3 // 4, img.height * 3 // 4), Image.Resampling.LANCZOS)
            return encode_jpeg(img, quality=75), "image/jpeg"
        if v == "png":
            return _png(self._image(photo)), "image/png"
        if v == "exif":
            # Pixels stored sideways, Orientation=6 says "rotate 90° clockwise to view".
            img = self._image(photo).transpose(Image.Transpose.ROTATE_90)
            exif = Image.Exif()
            exif[0x0112] = 6
            exif[0x010F] = "EmulatorCam"
            exif[0x8825] = GPS_LISBON
            return encode_jpeg(img, exif=exif.tobytes()), "image/jpeg"
        if v == "tiny":
            return encode_jpeg(self._image(photo).resize((48, 48))), "image/jpeg"
        if v == "bomb":
            return bomb_png(), "image/png"
        if v == "truncated":
            data = self._plain_bytes(photo)
            return data[: len(data) // 2], "image/jpeg"
        if v == "corrupt":
            return b"<html><body>Image not available</body></html>" * 20, "image/jpeg"
        raise ValueError(f"unknown photo variant {v!r}")
