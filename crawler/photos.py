"""Photo validation and normalisation: what is stored is upright, location-free and findable by
its content hash; what is refused gets a reason a person can act on."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from catalog.media import THUMB_FORMAT, THUMB_QUALITY, photo_relpath, thumb_relpath
from catalog.records import PhotoFailure

# Formats stored as they came; anything else Pillow can read is converted to PNG.
KEPT_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
ORIENTATION, GPS_IFD, XMP = 0x0112, 0x8825, 0x02BC


class PhotoRejected(Exception):
    """The bytes are not a photo we keep; `reason` says why, for rejected_media, and `kind`
    whether another download may do better (corrupt bytes) or not (not an image, too small)."""

    def __init__(self, reason: str, kind: PhotoFailure = PhotoFailure.invalid):
        super().__init__(reason)
        self.reason, self.kind = reason, kind


@dataclass(frozen=True)
class StoredPhoto:
    sha256: str  # of the bytes as downloaded: the same file posted twice has one hash
    phash: str  # 64-bit perceptual hash, hex
    width: int
    height: int
    stored_path: str  # relative to media_dir: ab/cd/<sha256>.<ext>
    thumb_path: str  # relative to media_dir: thumbs/ab/<sha256>.webp
    rewritten: bool  # re-encoded to apply EXIF orientation or drop location
    # The files (relative paths) this call wrote, not there before: if the page they came with
    # is not stored, they are removed with it (CatalogPipeline.drop_unstored_files).
    new_files: tuple[str, ...] = ()


def _describe(body: bytes) -> str:
    head = body[:16]
    return f"{len(body)} bytes starting {head!r}"


def _open(body: bytes, max_pixels: int, draft: int = 0) -> Image.Image:
    """Open and fully decode (which is what finds truncated files). With `draft`, a JPEG that
    needs no rewriting is decoded at reduced scale: every byte is still read, at a fraction of
    the cost, and only the thumbnail and the perceptual hash look at the pixels."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(body))
    except Image.DecompressionBombError as exc:
        raise PhotoRejected(f"decompression bomb: {exc}") from None
    except UnidentifiedImageError:
        raise PhotoRejected(f"not an image: {_describe(body)}") from None
    w, h = img.size
    if w * h > max_pixels:
        raise PhotoRejected(
            f"decompression bomb: {w}×{h} = {w * h:,} pixels, over the limit of {max_pixels:,} "
            "(storage.max_image_pixels)"
        )
    if draft and img.format == "JPEG" and min(img.size) >= 2 * draft:
        exif = img.getexif()
        if (
            exif.get(ORIENTATION, 1) == 1
            and GPS_IFD not in exif
            and XMP not in exif
            and "xmp" not in img.info
        ):
            img.info["full_size"] = img.size
            img.draft("RGB", (draft, draft))
    try:
        img.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise PhotoRejected(
            f"truncated or corrupt {img.format} image: {exc}", PhotoFailure.corrupt
        ) from None
    return img


def process(
    body: bytes, *, max_pixels: int, min_side: int, thumb_size: int
) -> tuple[StoredPhoto, bytes, bytes]:
    """Validate and normalise downloaded bytes → (metadata, bytes to store, WebP thumbnail)."""
    sha = hashlib.sha256(body).hexdigest()
    img = _open(body, max_pixels, draft=thumb_size)
    fmt = img.format or ""
    exif = img.getexif()
    orientation = exif.get(ORIENTATION, 1)
    has_location = GPS_IFD in exif or XMP in exif or "xmp" in img.info
    if orientation != 1:
        img = ImageOps.exif_transpose(img)
    w, h = img.info.get("full_size", img.size)
    if min(w, h) < min_side:
        raise PhotoRejected(
            f"too small: {w}×{h}, shorter side under {min_side} px (storage.min_image_side)"
        )
    ext = KEPT_FORMATS.get(fmt, "png")
    rewritten = orientation != 1 or has_location or fmt not in KEPT_FORMATS
    data = body
    if rewritten:
        # Keep the camera's other EXIF (it is harmless) but never where the photo was taken.
        for tag in (GPS_IFD, ORIENTATION, XMP):
            exif.pop(tag, None)
        out = io.BytesIO()
        params: dict[str, object] = {"exif": exif.tobytes()}
        if icc := img.info.get("icc_profile"):
            params["icc_profile"] = icc
        if ext == "jpg":
            img.convert("RGB").save(out, "JPEG", quality=92, **params)
        else:
            img.save(out, "PNG" if ext == "png" else "WEBP", **params)
        data = out.getvalue()
    # The thumbnail (box filter: fast, and sharp enough at grid size) also feeds the perceptual
    # hash, which only looks at a 32×32 reduction anyway.
    thumb = img if img.mode == "RGB" else img.convert("RGB")  # img is not needed after this
    thumb.thumbnail((thumb_size, thumb_size), Image.Resampling.BOX, reducing_gap=2.0)
    grey = thumb.convert("L")
    factor = min(grey.size) // 64  # box-reduce to ≥ 64 px first: the hash only needs 32×32
    phash = perceptual_hash(grey.reduce(factor) if factor > 1 else grey)
    tbuf = io.BytesIO()
    thumb.save(tbuf, THUMB_FORMAT, quality=THUMB_QUALITY, method=0)  # fastest method
    meta = StoredPhoto(
        sha256=sha,
        phash=phash,
        width=w,
        height=h,
        stored_path=photo_relpath(sha, ext),
        thumb_path=thumb_relpath(sha),
        rewritten=rewritten,
    )
    return meta, data, tbuf.getvalue()


def _dct_rows(n: int, keep: int) -> np.ndarray:
    """The first `keep` rows of the n-point DCT-II matrix, unnormalised as scipy.fftpack.dct."""
    k = np.arange(keep)[:, None]
    return 2 * np.cos(np.pi * k * (2 * np.arange(n)[None, :] + 1) / (2 * n))


_DCT8 = _dct_rows(32, 8)


def perceptual_hash(grey: Image.Image) -> str:
    """imagehash.phash (8×8 bits of the 32×32 DCT), as its hex string. Only the 8×8 low
    frequencies are needed, so two small matrix products replace the full FFT-based DCT: the same
    bits (tests/test_crawler_units.py), without importing SciPy into every crawl (≈0.3 s)."""
    small = grey.convert("L").resize((32, 32), Image.Resampling.LANCZOS)
    low = _DCT8 @ np.asarray(small, dtype=np.float64) @ _DCT8.T
    return str(imagehash.ImageHash(low > np.median(low)))


def write_once(root: Path, rel: str, data: bytes) -> bool:
    """Write `data` at root/rel atomically unless it exists (content-addressed: same name, same
    content). A crash leaves either no file or the whole file, never half of one."""
    path = os.path.join(root, rel)
    if os.path.exists(path):
        return False
    folder = os.path.dirname(path)
    if folder not in _made_dirs:  # a crawl writes thousands of files into 65,536 folders
        os.makedirs(folder, exist_ok=True)
        _made_dirs.add(folder)
    # A name no other writer uses (process and thread), instead of mkstemp's random retries.
    tmp = f"{path}.{os.getpid()}-{threading.get_ident()}.tmp"
    try:
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        except FileNotFoundError:  # the folder was removed since (e.g. media_dir wiped)
            os.makedirs(folder, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


_made_dirs: set[str] = set()

# A writer holds its .tmp file for the milliseconds one write takes: one older than this was
# left by a process killed mid-write (SIGKILL, power loss) and is never renamed.
STALE_TMP_SECONDS = 5 * 60.0


def remove_stale_tmp(root: Path, *, others_alive: bool) -> int:
    """Remove the .tmp files killed writers left under `root` (photos at ab/cd/, thumbnails at
    thumbs/ab/): all of them when no other crawl is alive, else those older than
    STALE_TMP_SECONDS (a live sibling may be writing one right now). Returns how many."""
    cutoff = time.time() - STALE_TMP_SECONDS if others_alive else float("inf")
    removed = 0
    for tmp in Path(root).glob("*/*/*.tmp"):
        try:
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink()
                removed += 1
        except FileNotFoundError:  # its writer renamed it, or a sibling removed it first
            continue
    return removed


def store(root: Path, limits: dict[str, int], body: bytes) -> StoredPhoto:
    """Validate, normalise and write one photo and its thumbnail (in a crawl's worker thread).
    Files go to disk before the page's rows: a crash in between leaves a file that the
    re-crawl finds already there."""
    meta, data, thumb = process(body, **limits)
    written = tuple(
        rel
        for rel, blob in ((meta.stored_path, data), (meta.thumb_path, thumb))
        if write_once(root, rel, blob)
    )
    return dataclasses.replace(meta, new_files=written) if written else meta


class PhashIndex:
    """Near-duplicate lookup: Hamming distance of 64-bit perceptual hashes, vectorised."""

    def __init__(self, max_distance: int):
        self.max_distance = max_distance
        self._hashes = np.zeros(1024, dtype=np.uint64)
        self._ids = np.zeros(1024, dtype=np.int64)
        self._n = 0
        self._known: set[int] = set()

    def __len__(self) -> int:
        return self._n

    def add(self, photo_id: int, phash: str) -> None:
        """Index a photo; one already indexed is ignored (catch-ups overlap, see pipelines)."""
        if photo_id in self._known:
            return
        self._known.add(photo_id)
        if self._n == len(self._hashes):
            self._hashes = np.resize(self._hashes, 2 * self._n)
            self._ids = np.resize(self._ids, 2 * self._n)
        self._hashes[self._n] = np.uint64(int(phash, 16))
        self._ids[self._n] = photo_id
        self._n += 1

    def nearest(self, phash: str) -> int | None:
        """The id of the closest earlier photo within max_distance (oldest on ties), or None."""
        if not self._n:
            return None
        dist = np.bitwise_count(self._hashes[: self._n] ^ np.uint64(int(phash, 16)))
        closest = dist.min()
        if closest > self.max_distance:
            return None
        return int(self._ids[: self._n][dist == closest].min())  # ids need not come in order
