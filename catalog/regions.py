"""Several garments in one photo: the original photo and its regions, one catalogue entry each.

A region is an ordinary `Photo` row (its own crop file and thumbnail, labels, states,
predictions, embedding and facets) with `parent_photo_id` → the original and `region_box` its
box there ([x0, y0, x1, y1], fractions of the width and height). The original gets status
`split`: it is no entry of its own, so the public catalogue and its facets count its garments
once each. Moderators drop a region (rejected, like any photo) or merge regions into one (the
first keeps its labels and takes the union box and a new crop); both are audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from catalog import crud, media
from catalog.models import Photo
from catalog.moderation import ModerationError, ModerationEvent, _write, decide
from catalog.taxonomy import ReviewStatus


@dataclass(frozen=True)
class Region:
    id: int
    version: int
    box: list[float]
    status: str
    category: str | None
    colour: str | None
    thumb_path: str
    stored_path: str
    sha256: str


@dataclass(frozen=True)
class RegionView:
    """A split photo and its live regions, as the moderator and photo pages show them."""

    parent_id: int
    parent_sha256: str
    parent_stored_path: str
    parent_width: int
    parent_height: int
    regions: list[Region]
    focus: int | None = None  # the region the page is about, if any

    def box_percent(self, region: Region) -> dict[str, str]:
        """x, y, width, height of `region` in per cent of the photo: SVG attributes (the
        site's CSP allows no inline styles)."""
        x0, y0, x1, y1 = region.box
        return {
            "x": f"{x0 * 100:.2f}%",
            "y": f"{y0 * 100:.2f}%",
            "width": f"{(x1 - x0) * 100:.2f}%",
            "height": f"{(y1 - y0) * 100:.2f}%",
        }


def split_photo(
    session: Session, parent: Photo, crops: Sequence[dict[str, Any]]
) -> list[Photo] | None:
    """Make one region per crop (media.write_region's columns plus "box") and mark `parent`
    split, if it is still at the version read; None (nothing written) if it changed meanwhile
    or is rejected. Each region starts `pending`: the classify pass labels it next."""
    assert parent.id is not None
    if not crud.write_photo_labels(
        session, parent.id, parent.version, {"status": ReviewStatus.split_up}, unless_rejected=True
    ):
        return None
    children = []
    for k, crop in enumerate(crops):
        existing = session.exec(select(Photo).where(Photo.sha256 == crop["sha256"])).first()
        if existing is not None:  # the same crop already stored (a re-run): reuse it
            children.append(existing)
            continue
        child = Photo(
            post_id=parent.post_id,
            position=parent.position * 100 + k + 1,
            source_url=parent.source_url,
            sha256=crop["sha256"],
            width=int(crop["width"]),
            height=int(crop["height"]),
            stored_path=crop["stored_path"],
            thumb_path=crop["thumb_path"],
            parent_photo_id=parent.id,
            region_box=[round(float(v), 4) for v in crop["box"]],
        )
        session.add(child)
        children.append(child)
    session.flush()
    return children


def _live(session: Session, parent_id: int) -> list[Photo]:
    """The regions still in the catalogue, in reading order (rows of the photo, then left to
    right), so that their numbers follow the photo."""
    found = session.exec(
        select(Photo)
        .where(Photo.parent_photo_id == parent_id, Photo.status != ReviewStatus.rejected)
        .order_by(col(Photo.id))
    ).all()

    def place(p: Photo) -> tuple[int, float]:
        x0, y0, _x1, _y1 = p.region_box or [0.0, 0.0, 1.0, 1.0]
        return round(y0 * 3), x0

    return sorted(found, key=place)


def region_view(session: Session, photo_id: int) -> RegionView | None:
    """The regions of `photo_id` (a split photo) or of its original (a region); None for a
    photo that is neither."""
    photo = session.get(Photo, photo_id)
    if photo is None:
        return None
    focus = None
    if photo.parent_photo_id is not None:
        focus = photo.id
        photo = session.get(Photo, photo.parent_photo_id)
        if photo is None:
            return None
    elif photo.status != ReviewStatus.split_up:
        return None
    assert photo.id is not None
    regions = [
        Region(
            int(c.id or 0),
            c.version,
            list(c.region_box or [0.0, 0.0, 1.0, 1.0]),
            c.status,
            c.category,
            c.colour,
            c.thumb_path,
            c.stored_path,
            c.sha256,
        )
        for c in _live(session, photo.id)
    ]
    return RegionView(
        photo.id, photo.sha256, photo.stored_path, photo.width, photo.height, regions, focus
    )


def region_count(session: Session, parent_id: int) -> int:
    return int(
        session.execute(
            select(func.count())
            .select_from(Photo)
            .where(Photo.parent_photo_id == parent_id, Photo.status != ReviewStatus.rejected)
        ).scalar_one()
    )


def drop_region(session: Session, region_id: int, version: int, moderator: str) -> ModerationEvent:
    """A region that is no garment (or a duplicate box): it leaves the catalogue, audited."""
    photo = session.get(Photo, region_id)
    if photo is None or photo.parent_photo_id is None:
        raise ModerationError(f"photo {region_id} is not a region of a split photo")
    return decide(session, region_id, version, moderator, "reject", audit_action="drop_region")


def merge_regions(
    session: Session,
    pairs: Sequence[tuple[int, int]],
    moderator: str,
    media_dir: str | Path,
    thumb_size: int,
) -> ModerationEvent:
    """Merge regions ((id, version) pairs, two or more, of one photo) into the first: it keeps
    its labels, takes the union of the boxes and a new crop; the others leave the catalogue.
    Every region's version is checked (a Conflict if one changed meanwhile)."""
    if len(pairs) < 2:
        raise ModerationError("choose at least two regions to merge")
    photos = [session.get(Photo, pid) for pid, _ in pairs]
    if any(p is None or p.parent_photo_id is None for p in photos):
        raise ModerationError("only regions of a split photo can be merged")
    parents = {p.parent_photo_id for p in photos if p is not None}
    if len(parents) != 1:
        raise ModerationError("regions of different photos cannot be merged")
    parent = session.get(Photo, parents.pop())
    assert parent is not None
    boxes = [p.region_box or [0.0, 0.0, 1.0, 1.0] for p in photos if p is not None]
    union = [
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    ]
    (kept, kept_version), others = pairs[0], pairs[1:]
    for pid, version in others:
        _write(
            session, pid, version, moderator, "merge_region",
            {"status": ReviewStatus.rejected}, {"merged_into": kept},
        )  # fmt: skip
    crop = media.write_region(media_dir, parent.stored_path, union, thumb_size)
    clash = session.exec(select(Photo.id).where(Photo.sha256 == crop["sha256"])).first()
    values: dict[str, Any] = {"region_box": [round(v, 4) for v in union]}
    if clash is None or clash == kept:
        values.update(
            {k: crop[k] for k in ("sha256", "stored_path", "thumb_path", "width", "height")}
        )
    return _write(
        session, kept, kept_version, moderator, "merge_regions", values,
        {"merged": [pid for pid, _ in others], "region_box": values["region_box"]},
    )  # fmt: skip


@dataclass(frozen=True)
class Entries:
    """What a shopper sees on a region's page: the original photo and its garments' entries."""

    view: RegionView
    items: list[Any]  # catalog.queries.Item of each public region, in box order


def public_entries(session: Session, photo_id: int) -> Entries | None:
    """The public entries of the photo `photo_id` is a region of (None: not a region, or no
    public entry)."""
    from catalog.queries import get_item

    view = region_view(session, photo_id)
    if view is None:
        return None
    items = [it for r in view.regions if (it := get_item(session, r.id)) is not None]
    public_ids = {it.id for it in items}
    shown = replace(view, regions=[r for r in view.regions if r.id in public_ids])
    return Entries(shown, items) if items else None
