"""Photos and thumbnails: content-addressed URLs, short cache lifetimes, ETags, no traversal.

The URL names a photo id and the start of its content hash; the file path comes from the
database, never from the URL, and is still checked to lie inside the media folder.

The bytes behind a URL never change, but whether they may be shown does: a moderator can
reject a published photo. So shared caches keep a public photo for PUBLIC_MAX_AGE only, then
revalidate with its ETag (a cheap 304 while it is still public, a 404 once it is not).
"""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, Response
from sqlmodel import Session

from catalog import crud
from catalog.config import Settings
from catalog.taxonomy import PUBLIC_STATUSES, ReviewStatus
from web.auth import optional_moderator
from web.deps import get_session, get_settings
from web.routers.common import parse_id

router = APIRouter(include_in_schema=False)
_NAME = re.compile(r"^([0-9a-f]{16})\.([a-z0-9]{1,5})$")
PUBLIC_MAX_AGE = 300  # seconds a rejected photo may still be shown from a cache


def _inside(root: Path, relative: str) -> Path | None:
    if not relative or "\x00" in relative or relative.startswith(("/", "\\")):
        return None
    root = root.resolve()
    path = (root / relative).resolve()
    return path if path.is_relative_to(root) and path.is_file() else None


@router.get("/media/{kind}/{photo_id}/{name}")
def media(
    kind: str,
    photo_id: str,
    name: str,
    request: Request,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    moderator: str | None = Depends(optional_moderator),
) -> Response:
    match = _NAME.match(name)
    if kind not in ("full", "thumb") or match is None:
        raise HTTPException(404)
    row = crud.photo_media(session, parse_id(photo_id))
    if row is None or not row.sha256.startswith(match.group(1)):
        raise HTTPException(404)
    # A split photo's garments are public entries; the original shows where each one is.
    public = row.status in PUBLIC_STATUSES or row.status == ReviewStatus.split_up
    if not public and moderator is None:  # pending and rejected photos are not published
        raise HTTPException(404)
    relative = row.thumb_path if kind == "thumb" and row.thumb_path else row.stored_path
    path = _inside(settings.media_dir, relative)
    if path is None:
        raise HTTPException(404)
    etag = f'"{row.sha256[:32]}-{kind}"'
    cache = f"public, max-age={PUBLIC_MAX_AGE}, must-revalidate" if public else "private, no-store"
    headers = {"ETag": etag, "Cache-Control": cache}
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media_type, headers=headers)
