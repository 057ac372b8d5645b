"""Idempotent writes and common reads. Ingesting the same shop, post or photo twice
changes nothing: every insert is an `INSERT … ON CONFLICT` on a natural key."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, false, func, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from catalog.models import (
    POST_COPIES,
    CrawlRun,
    Photo,
    Post,
    RejectedMedia,
    Shop,
    is_listed,
    utcnow,
)
from catalog.prices import price_columns
from catalog.records import RETRYABLE_FAILURES, CrawlSummary, PhotoFailure
from catalog.taxonomy import NETWORKS, ReviewStatus


def _insert(session: Session, model: type) -> Any:
    """The dialect's INSERT, which offers on_conflict_do_nothing / do_update."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


def _insert_once(session: Session, model: Any, values: dict[str, Any], keys: list[str]) -> Upserted:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id; on conflict, look the row up by `keys`.

    RETURNING (not rowcount, which drivers report inconsistently) tells whether we created it.
    """
    stmt = (
        _insert(session, model)
        .values(**values)
        .on_conflict_do_nothing(index_elements=keys)
        .returning(model.id)
    )
    new_id = session.execute(stmt).scalar_one_or_none()
    if new_id is not None:
        return Upserted(new_id, True)
    query = select(model.id)
    for key in keys:
        query = query.where(getattr(model, key) == values[key])
    return Upserted(session.exec(query).one(), False)


@dataclass(frozen=True)
class Upserted:
    id: int
    created: bool


# ---- shops -------------------------------------------------------------------------------


def upsert_shop(
    session: Session,
    network: str,
    handle: str,
    *,
    display_name: str = "",
    base_url: str = "",
    profile_url: str = "",
    active: bool | None = None,
) -> Upserted:
    """Add a shop, or refresh its descriptive fields; crawl state is never reset."""
    if network not in NETWORKS:
        raise ValueError(f"unknown network {network!r}; expected one of {', '.join(NETWORKS)}")
    handle = handle.strip()
    if not handle:
        raise ValueError("a shop needs a handle")
    values: dict[str, Any] = {
        "network": network,
        "handle": handle,
        "display_name": display_name,
        "base_url": base_url,
        "profile_url": profile_url,
        "active": True if active is None else active,
        "inactive_reason": "",
        "watermark": "",
        "account_id": "",
        "crawl_state": {},
        "created_at": utcnow(),
    }
    result = _insert_once(session, Shop, values, ["network", "handle"])
    if not result.created:
        shop = session.get(Shop, result.id)
        assert shop is not None
        changed = False
        for key, value in (
            ("display_name", display_name),
            ("base_url", base_url),
            ("profile_url", profile_url),
        ):
            if value and getattr(shop, key) != value:
                setattr(shop, key, value)
                changed = True
        if active is not None and shop.active != active:
            shop.active, shop.inactive_reason, changed = active, "", True
        if changed:
            session.add(shop)
            session.flush()
    return result


def get_shop(session: Session, network: str, handle: str) -> Shop | None:
    return session.exec(select(Shop).where(Shop.network == network, Shop.handle == handle)).first()


def list_shops(session: Session, *, active_only: bool = False) -> Sequence[Shop]:
    query = select(Shop).order_by(Shop.network, Shop.handle)
    if active_only:
        query = query.where(Shop.active)
    return session.exec(query).all()


def remove_shop(session: Session, network: str, handle: str) -> bool:
    """Delete a shop with its posts and photos (files on disk are left to `gc`)."""
    shop = get_shop(session, network, handle)
    if shop is None:
        return False
    session.delete(shop)
    session.flush()
    return True


def remember_account(
    session: Session, shop_id: int, account_id: str, profile: dict[str, str]
) -> None:
    """The shop's account id as its network resolved it, and the profile fields it gave that
    the shop has not got yet (a name set in config.toml wins)."""
    shop = session.get(Shop, shop_id)
    if shop is None:
        return
    if account_id:
        shop.account_id = account_id[:255]
    for k, v in profile.items():
        if v and not getattr(shop, k):
            setattr(shop, k, v[:255] if k == "display_name" else v[:1024])
    session.add(shop)


def deactivate_shop(session: Session, shop_id: int, reason: str) -> None:
    shop = session.get(Shop, shop_id)
    if shop is not None:
        shop.active, shop.inactive_reason = False, reason[:1024]
        session.add(shop)
        session.flush()


def sync_shops_from_config(session: Session, shops: Iterable[Any]) -> int:
    """Make every shop named in config.toml exist; returns how many were new."""
    new = 0
    for shop in shops:
        result = upsert_shop(
            session,
            shop.network,
            shop.handle,
            display_name=shop.name,
            base_url=shop.url,
            active=shop.active,
        )
        new += result.created
    return new


# ---- posts and photos --------------------------------------------------------------------


def _post_row(fields: dict[str, Any], **keys: Any) -> dict[str, Any]:
    """A full posts row: defaults, then the natural keys, then the caller's fields."""
    values = {
        "permalink": "",
        "caption": "",
        "title": "",
        "price": "",
        "price_amount": None,
        "price_currency": "",
        "vendor": "",
        "product_type": "",
        "tags": [],
        "pinned": False,
        "posted_at": None,
        "fetched_at": utcnow(),
        **keys,
    }
    unknown = set(fields) - set(values) - {"network_post_id"}
    if unknown:
        raise TypeError(f"unknown post fields: {', '.join(sorted(unknown))}")
    row = values | dict(fields)
    at = row["posted_at"]
    if isinstance(at, datetime) and at.tzinfo is not None:
        # SQLite stores the wall clock and drops the offset: store every time in UTC.
        row["posted_at"] = at.astimezone(UTC)
    if "price_amount" not in fields:  # what the post says its price is (catalog.prices)
        row |= price_columns(row["price"], row["caption"])
    return row


def _photo_row(fields: dict[str, Any], **keys: Any) -> dict[str, Any]:
    """A full photos row: defaults (a new photo is pending), keys, then the caller's fields."""
    values = {
        "position": 0,
        "source_url": "",
        "phash": "",
        "width": 0,
        "height": 0,
        "stored_path": "",
        "thumb_path": "",
        "duplicate_of_id": None,
        "status": "pending",
        "category_state": "pending",
        "colour_state": "pending",
        "version": 1,
        "model_version": "",
        "reviewed_by": "",
        "created_at": utcnow(),
        **keys,
    }
    unknown = set(fields) - set(values) - {"post_id", "sha256"}
    if unknown:
        raise TypeError(f"unknown photo fields: {', '.join(sorted(unknown))}")
    row = values | dict(fields)
    row["is_public"] = is_listed(row["status"], row["duplicate_of_id"])
    return row


def _with_post_copies(session: Session, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Photo rows with their post's shop, network, date and price copied (models.POST_COPIES)."""
    post_ids = {row["post_id"] for row in rows}
    names = [c.key for c in POST_COPIES]
    copies = {
        pid: dict(zip(names, values, strict=True))
        for pid, *values in session.execute(
            select(col(Post.id), *POST_COPIES).where(col(Post.id).in_(post_ids))
        )
    }
    empty = dict.fromkeys(names)
    return [row | copies.get(row["post_id"], empty) for row in rows]


def upsert_post(
    session: Session, shop_id: int, network: str, network_post_id: str, **fields: Any
) -> Upserted:
    """Insert a post once; a repeat of the same (network, post id) returns the stored row."""
    values = _post_row(fields, shop_id=shop_id, network=network, network_post_id=network_post_id)
    return _insert_once(session, Post, values, ["network", "network_post_id"])


def add_photo(session: Session, post_id: int, sha256: str, **fields: Any) -> Upserted:
    """Store a photo once per content hash; an exact duplicate returns the first row."""
    values = _with_post_copies(session, [_photo_row(fields, post_id=post_id, sha256=sha256)])[0]
    return _insert_once(session, Photo, values, ["sha256"])


# Bulk forms: one statement per page (the crawler stores a page at a time).
def _insert_many(
    session: Session, model: Any, rows: list[dict[str, Any]], key: str, scope: dict[str, Any]
) -> list[Upserted]:
    """Insert rows once by their natural `key` (INSERT … ON CONFLICT DO NOTHING RETURNING, one
    statement); one Upserted per row, in order. A key repeated within `rows` counts once."""
    if not rows:
        return []
    first: dict[str, dict[str, Any]] = {}
    for row in rows:
        first.setdefault(row[key], row)
    key_column = getattr(model, key)
    stmt = _insert(session, model).on_conflict_do_nothing().returning(model.id, key_column)
    created = {k: i for i, k in session.execute(stmt, list(first.values()))}
    missing = [k for k in first if k not in created]
    existing: dict[str, int] = {}
    if missing:
        query = select(key_column, model.id).where(key_column.in_(missing))
        for name, value in scope.items():
            query = query.where(getattr(model, name) == value)
        existing = {k: i for k, i in session.execute(query)}
    out, seen = [], set()
    for row in rows:
        k = row[key]
        if k in created and k not in seen:
            out.append(Upserted(created[k], True))
        else:
            out.append(Upserted(created.get(k) or existing[k], False))
        seen.add(k)
    return out


def upsert_posts(
    session: Session, shop_id: int, network: str, posts: Sequence[dict[str, Any]]
) -> list[Upserted]:
    """`upsert_post` for many posts of one shop in one statement; results in input order."""
    rows = [_post_row(fields, shop_id=shop_id, network=network) for fields in posts]
    return _insert_many(session, Post, rows, "network_post_id", {"network": network})


def add_photos(session: Session, photos: Sequence[dict[str, Any]]) -> list[Upserted]:
    """`add_photo` for many photos in one statement (each dict has post_id and sha256)."""
    rows = _with_post_copies(session, [_photo_row(fields) for fields in photos])
    return _insert_many(session, Photo, rows, "sha256", {})


def record_rejected_media(
    session: Session,
    source_url: str,
    reason: str,
    post_id: int | None = None,
    position: int | None = None,
    *,
    kind: PhotoFailure,
) -> None:
    """Record a refused or failed photo; the same URL failing again counts one more attempt."""
    now = utcnow()
    table = RejectedMedia.__table__  # type: ignore[attr-defined]  # set by SQLModel, undeclared
    kind = PhotoFailure(kind)
    stmt = _insert(session, RejectedMedia).values(
        source_url=source_url[:2048],
        reason=reason[:1024],
        kind=kind.value,
        post_id=post_id,
        position=position,
        attempts=1,
        last_attempt_at=now,
        created_at=now,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["source_url"],
        set_={
            "reason": reason[:1024],
            "kind": kind.value,
            "attempts": table.c.attempts + 1,
            "last_attempt_at": now,
        },
    )
    session.execute(stmt)


@dataclass(frozen=True)
class ClaimedMedia:
    id: int
    source_url: str
    post_id: int
    shop_id: int
    position: int  # the recorded one, else after the post's stored photos


def claim_rejected_media(
    session: Session,
    run_id: int,
    shop_ids: Sequence[int],
    *,
    max_attempts: int,
) -> list[ClaimedMedia]:
    """Take the rejected photos of these shops' posts that are worth fetching again (their
    kind is a passing one, attempts ≤ max_attempts) for crawl run `run_id`. A row another crawl
    took stays with it while that run is "running": two crawl processes side by side do not
    both retry one photo (were they to, in a race of a few milliseconds, storing is idempotent
    and `retry_failed` counts the attempt once), and a killed run's rows are free again once
    it is marked interrupted (crawler.run.close_dead_runs)."""
    if not shop_ids or max_attempts < 1:
        return []
    alive = select(CrawlRun.id).where(CrawlRun.status == "running", CrawlRun.id != run_id)
    retry_run_id = col(RejectedMedia.retry_run_id)
    free = or_(retry_run_id.is_(None), retry_run_id.not_in(alive))
    retryable = [k.value for k in RETRYABLE_FAILURES]
    wanted = session.scalars(
        select(RejectedMedia.id)
        .join(Post, col(Post.id) == RejectedMedia.post_id)
        .where(
            col(Post.shop_id).in_(shop_ids),
            col(RejectedMedia.kind).in_(retryable),
            RejectedMedia.attempts <= max_attempts,
            free,
        )
        .order_by(col(RejectedMedia.id))
    ).all()
    claimed: list[Any] = []
    for start in range(0, len(wanted), 500):
        claimed += session.execute(
            update(RejectedMedia)
            .where(col(RejectedMedia.id).in_(wanted[start : start + 500]), free)
            .values(retry_run_id=run_id)
            .returning(
                col(RejectedMedia.id),
                col(RejectedMedia.source_url),
                col(RejectedMedia.post_id),
                col(RejectedMedia.position),
            )
        ).all()
    if not claimed:
        return []
    post_ids = sorted({row.post_id for row in claimed})
    shop_of = {
        i: shop
        for i, shop in session.execute(
            select(Post.id, Post.shop_id).where(col(Post.id).in_(post_ids))
        )
    }
    after = {
        i: last
        for i, last in session.execute(
            select(Photo.post_id, func.max(Photo.position))
            .where(col(Photo.post_id).in_(post_ids))
            .group_by(col(Photo.post_id))
        )
    }
    out = []
    for row in sorted(claimed, key=lambda r: r.id):
        position = row.position
        if position is None:  # not recorded: after the post's stored (and placed) photos
            position = after.get(row.post_id, -1) + 1
            after[row.post_id] = position
        out.append(
            ClaimedMedia(row.id, row.source_url, row.post_id, shop_of[row.post_id], position)
        )
    return out


def retry_failed(
    session: Session, rejected_id: int, run_id: int, reason: str, kind: PhotoFailure
) -> bool:
    """A claimed photo failed again: one more attempt, the new reason, the claim released.
    False if the claim was no longer this run's (then another crawl counts its attempt)."""
    done = session.execute(
        update(RejectedMedia)
        .where(col(RejectedMedia.id) == rejected_id, col(RejectedMedia.retry_run_id) == run_id)
        .values(
            reason=reason[:1024],
            kind=PhotoFailure(kind).value,
            attempts=RejectedMedia.attempts + 1,
            last_attempt_at=utcnow(),
            retry_run_id=None,
        )
    )
    return bool(cast(CursorResult[Any], done).rowcount)  # DML: Session.execute says Result


def forget_rejected_media(session: Session, ids: Sequence[int]) -> None:
    """The photos are stored now: their rejected_media rows go."""
    if ids:
        session.execute(delete(RejectedMedia).where(col(RejectedMedia.id).in_(list(ids))))


def release_rejected_media(session: Session, run_id: int) -> None:
    """What run `run_id` claimed and did not get to (it stopped early) is free again."""
    session.execute(
        update(RejectedMedia)
        .where(col(RejectedMedia.retry_run_id) == run_id)
        .values(retry_run_id=None)
    )


@dataclass(frozen=True)
class ShopOutcome:
    """What the recent crawls say of one shop (crawl_runs.shop_counts)."""

    last_success_at: Any = None  # datetime of the last crawl that crawled it (ok or partial)
    last_error_at: Any = None  # datetime of the last crawl that failed on it
    last_error: str = ""


def shop_outcomes(session: Session, *, runs: int = 200) -> dict[str, ShopOutcome]:
    """Per "network:handle", the last success and the last failure among the `runs` latest
    finished crawls: a failure is a shop status of error, auth or inactive, and its message is
    the shop's first error (or, for a network-wide problem, the run's line about its network)."""
    rows = session.exec(
        select(CrawlRun)
        .where(CrawlRun.finished_at.is_not(None))  # type: ignore[union-attr]
        .order_by(CrawlRun.id.desc())  # type: ignore[union-attr]
        .limit(runs)
    ).all()
    success: dict[str, Any] = {}
    failure: dict[str, tuple[Any, str]] = {}
    for run in rows:
        record = CrawlSummary.from_row(run)
        for key, result in record.shops.items():
            if not result.status.failed:
                success.setdefault(key, run.finished_at)
            elif key not in failure:
                network = key.split(":", 1)[0] + ": "
                about = [e for e in record.run_errors if e.startswith(network)]
                why = (result.errors or about or [result.status.value])[0]
                failure[key] = (run.finished_at, why)
    return {
        key: ShopOutcome(success.get(key), *failure.get(key, (None, "")))
        for key in set(success) | set(failure)
    }


def hand_run_crawls(session: Session, *, limit: int = 20) -> list[CrawlRun]:
    """The latest crawl runs that no pipeline run made: `vitrina crawl` run by hand. A pipeline
    run names its crawl runs in steps.crawl.crawl_runs once the step is over; a crawl that
    started while a pipeline run was going (it may still be, or have been killed) is taken as
    that run's too."""
    from catalog.models import PipelineRun

    def aware(dt: Any) -> Any:
        return dt if dt is None or dt.tzinfo else dt.replace(tzinfo=UTC)

    owned: set[int] = set()
    windows: list[tuple[Any, Any]] = []
    for run in session.exec(
        select(PipelineRun)
        .where(PipelineRun.trigger != "retrain")
        .order_by(PipelineRun.id.desc())  # type: ignore[union-attr]
        .limit(500)
    ).all():
        crawl = (run.steps or {}).get("crawl") or {}
        owned.update(i for i in crawl.get("crawl_runs") or [] if isinstance(i, int))
        end = run.finished_at or (None if run.status == "running" else run.started_at)
        windows.append((aware(run.started_at), aware(end)))
    out: list[CrawlRun] = []
    query = select(CrawlRun).order_by(CrawlRun.id.desc())  # type: ignore[union-attr]
    for crawl_run in session.exec(query.limit(limit * 5 + 50)).all():
        at = aware(crawl_run.started_at)
        inside = any(a <= at and (b is None or at <= b) for a, b in windows)
        if crawl_run.id not in owned and not inside:
            out.append(crawl_run)
            if len(out) >= limit:
                break
    return out


def photos_per_status(
    session: Session, *, labelled_since: datetime | None = None
) -> dict[str, int]:
    """{review status: photos}, only statuses some photo has; with `labelled_since`, only the
    photos the classifier labelled since then. The one place these are counted (the pipeline's
    figures, /metrics, `counts`)."""
    query = select(Photo.status, func.count()).group_by(Photo.status)
    if labelled_since is not None:
        query = query.where(
            Photo.labelled_at.is_not(None),  # type: ignore[union-attr]
            Photo.labelled_at >= labelled_since,  # type: ignore[operator]
        )
    return {status: n for status, n in session.exec(query).all()}


def shops_by_active(session: Session) -> dict[bool, int]:
    """{True: active shops, False: inactive ones}, only those there are."""
    rows = session.exec(select(Shop.active, func.count()).group_by(col(Shop.active))).all()
    return {bool(active): n for active, n in rows}


def photo_media(session: Session, photo_id: int) -> Any:
    """A photo's sha256, stored_path, thumb_path and status (what serving its file needs), or
    None if there is no such photo."""
    return session.execute(
        select(Photo.sha256, Photo.stored_path, Photo.thumb_path, Photo.status).where(
            Photo.id == photo_id
        )
    ).first()


def counts(session: Session) -> dict[str, int]:
    """Row counts and photos per review status, for summaries and health checks."""
    result = {
        "shops": session.exec(select(func.count()).select_from(Shop)).one(),
        "posts": session.exec(select(func.count()).select_from(Post)).one(),
        "photos": session.exec(select(func.count()).select_from(Photo)).one(),
    }
    for status, n in photos_per_status(session).items():
        result[f"photos_{status}"] = n
    return result


def write_photo_labels(
    session: Session,
    photo_id: int,
    version: int,
    values: dict[str, Any],
    *,
    unless_rejected: bool = False,
) -> bool:
    """Write labels (and what goes with them) to a photo still at `version`, bumping it: the
    optimistic concurrency check the classifier and the moderators share. False, and nothing
    written, if the photo changed since it was read (or, with `unless_rejected`, is rejected:
    the classifier never brings a rejected photo back)."""
    where = [col(Photo.id) == photo_id, col(Photo.version) == version]
    if unless_rejected:
        where.append(col(Photo.status) != ReviewStatus.rejected)
    if "status" in values:  # the copy the catalogue's counts read (models.is_listed)
        listed = is_listed(values["status"], None)
        public = col(Photo.duplicate_of_id).is_(None) if listed else false()
        values = {**values, "is_public": public}
    result = session.execute(
        update(Photo)
        .where(*where)
        .values(**values, version=Photo.version + 1)
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], result).rowcount == 1
