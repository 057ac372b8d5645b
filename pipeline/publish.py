"""The publish step: make sure every stored photo has its thumbnail, and tidy the search index.

Both are idempotent and cheap when there is nothing to do, so the step runs in-process.
The crawler normally writes the thumbnail as it stores a photo; this catches photos whose
thumbnail is missing (a crawl killed between the two writes, a changed thumbnail size, files
restored from a backup without their thumbnails).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import col, or_, select

from catalog.config import Settings
from catalog.db import session_scope
from catalog.media import THUMB_FORMAT, THUMB_QUALITY, thumb_relpath
from catalog.models import Photo

BATCH = 200


def _make_thumb(src: Path, dst: Path, size: int) -> None:
    with Image.open(src) as opened:
        im = opened.convert("RGB")
        im.thumbnail((size, size))
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_suffix(".tmp")
        im.save(tmp, THUMB_FORMAT, quality=THUMB_QUALITY)
        tmp.replace(dst)  # atomic: the web never serves half a file


def refresh_thumbnails(settings: Settings, engine: Engine) -> dict[str, Any]:
    media = settings.media_dir
    made = 0
    errors: list[str] = []
    last_id = 0
    while True:
        with session_scope(engine) as s:
            photos = s.exec(
                select(Photo)
                .where(col(Photo.id) > last_id, col(Photo.stored_path) != "")
                .where(or_(col(Photo.thumb_path) == "", col(Photo.thumb_path).is_(None)))
                .order_by(col(Photo.id))
                .limit(BATCH)
            ).all()
            if not photos:
                break
            for photo in photos:
                assert photo.id is not None
                last_id = photo.id
                rel = thumb_relpath(photo.sha256)
                try:
                    _make_thumb(
                        media / photo.stored_path, media / rel, settings.storage.thumbnail_size
                    )
                except (OSError, UnidentifiedImageError) as exc:
                    errors.append(f"photo {photo.id}: cannot make thumbnail: {exc}")
                    continue
                photo.thumb_path = rel
                s.add(photo)
                made += 1
    # Thumbnails whose file went missing (e.g. media restored without thumbs/) are rebuilt too.
    missing = 0
    with session_scope(engine) as s:
        for photo in s.exec(select(Photo).where(Photo.thumb_path != "", Photo.stored_path != "")):
            if not (media / photo.thumb_path).exists() and (media / photo.stored_path).exists():
                try:
                    _make_thumb(
                        media / photo.stored_path,
                        media / photo.thumb_path,
                        settings.storage.thumbnail_size,
                    )
                    missing += 1
                except (OSError, UnidentifiedImageError) as exc:
                    errors.append(f"photo {photo.id}: cannot rebuild thumbnail: {exc}")
    return {"thumbnails_made": made, "thumbnails_rebuilt": missing, "errors": errors}


def refresh_search_index(engine: Engine) -> str:
    """SQLite: merge the FTS5 segments the night's inserts left; PostgreSQL: refresh statistics.

    The index itself is kept in step by triggers (SQLite) or is an expression index (PostgreSQL),
    see catalog/search.py; this only keeps searches fast after a large crawl.
    """
    tables = set(inspect(engine).get_table_names())
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE posts"))
            conn.execute(text("ANALYZE photos"))
            return "analyzed"
        if "posts_fts" not in tables:
            return "absent"
        conn.execute(text("INSERT INTO posts_fts(posts_fts) VALUES ('optimize')"))
        return "optimized"


def refresh(settings: Settings, engine: Engine) -> dict[str, Any]:
    """Run both parts; a failure of one is reported and does not stop the other."""
    out: dict[str, Any] = {"errors": []}
    failed = False
    try:
        thumbs = refresh_thumbnails(settings, engine)
        out["errors"] += thumbs.pop("errors")
        out.update(thumbs)
    except Exception as exc:  # noqa: BLE001 - recorded in the run
        out["errors"].append(f"thumbnails: {type(exc).__name__}: {exc}")
        failed = True
    try:
        out["search_index"] = refresh_search_index(engine)
    except Exception as exc:  # noqa: BLE001 - recorded in the run
        out["errors"].append(f"search index: {type(exc).__name__}: {exc}")
        failed = True
    out["failed"] = failed
    return out
