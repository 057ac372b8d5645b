"""The publish step repairs thumbnails and tidies the search index, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from PIL import Image

from catalog import crud
from catalog.db import make_engine, session_scope
from catalog.media import thumb_relpath
from catalog.models import Photo
from pipeline.publish import refresh


def _photo(media: Path, session, post_id: int, seed: int, with_thumb: bool) -> int:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    Image.new("RGB", (400, 500), (seed * 40 % 255, 90, 160)).save(buf, "JPEG")
    sha = hashlib.sha256(buf.getvalue()).hexdigest()
    stored = f"{sha[:2]}/{sha[2:4]}/{sha}.jpg"
    (media / stored).parent.mkdir(parents=True, exist_ok=True)
    (media / stored).write_bytes(buf.getvalue())
    thumb = thumb_relpath(sha) if with_thumb else ""
    return crud.add_photo(session, post_id, sha, stored_path=stored, thumb_path=thumb).id


def test_publish_makes_missing_thumbnails_and_survives_a_broken_photo(
    db_url: str, tmp_path: Path, settings_for
) -> None:
    # write_config ends inside [storage]: this line continues that table.
    settings, _ = settings_for(db_url, "thumbnail_size = 96\n")
    assert settings.storage.thumbnail_size == 96
    media = settings.media_dir
    engine = make_engine(db_url)
    with session_scope(engine) as s:
        shop = crud.upsert_shop(s, "bluesky", "knit.bsky.social")
        post = crud.upsert_post(s, shop.id, "bluesky", "at://1")
        no_thumb = _photo(media, s, post.id, 1, with_thumb=False)
        lost_thumb = _photo(media, s, post.id, 2, with_thumb=True)  # recorded, file missing
        broken = _photo(media, s, post.id, 3, with_thumb=False)
    with session_scope(engine) as s:
        (media / s.get(Photo, broken).stored_path).write_bytes(b"not an image")
    result = refresh(settings, engine)
    assert result["thumbnails_made"] == 1 and result["thumbnails_rebuilt"] == 1
    assert len(result["errors"]) == 1 and f"photo {broken}" in result["errors"][0]
    assert result["failed"] is False
    assert result["search_index"] in ("optimized", "analyzed")
    with session_scope(engine) as s:
        for pid in (no_thumb, lost_thumb):
            photo = s.get(Photo, pid)
            with Image.open(media / photo.thumb_path) as im:
                assert im.format == "WEBP" and max(im.size) == settings.storage.thumbnail_size
        assert s.get(Photo, broken).thumb_path == ""  # left for the next run, nothing lost
    again = refresh(settings, engine)
    assert again["thumbnails_made"] == 0 and again["thumbnails_rebuilt"] == 0
    engine.dispose()
