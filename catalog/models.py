"""The catalogue's tables (SQLModel). Alembic migrations in catalog/migrations follow these."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Numeric, Text, UniqueConstraint, event, select
from sqlalchemy import false as sa_false
from sqlmodel import Field, SQLModel, col

from catalog.records import PhotoFailure
from catalog.taxonomy import PUBLIC_STATUSES, LabelState, ReviewStatus


def utcnow() -> datetime:
    return datetime.now(UTC)


class Shop(SQLModel, table=True):
    """A business account followed on one network."""

    __tablename__ = "shops"
    __table_args__ = (UniqueConstraint("network", "handle", name="uq_shops_network_handle"),)

    id: int | None = Field(default=None, primary_key=True)
    network: str = Field(index=True, max_length=16)
    handle: str = Field(max_length=255)
    display_name: str = Field(default="", max_length=255)
    profile_url: str = Field(default="", max_length=1024)
    # Mastodon instance or Shopify store base URL; empty where the network has one host.
    base_url: str = Field(default="", max_length=1024)
    # The network's own id for the account (Mastodon account id, Bluesky DID, IG user id).
    account_id: str = Field(default="", max_length=255)
    active: bool = True
    inactive_reason: str = Field(default="", max_length=1024)
    # Newest post already committed: a later crawl stops when it reaches it.
    watermark: str = Field(default="", max_length=255)
    watermark_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # Free-form resumable crawl state (e.g. the cursor of an unfinished first crawl).
    crawl_state: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    last_crawled_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class Post(SQLModel, table=True):
    """One post (or Shopify product) holding one or more photos."""

    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("network", "network_post_id", name="uq_posts_network_post_id"),
        # A shop's page lists its posts newest first.
        Index("ix_posts_shop_id_posted_at", "shop_id", "posted_at"),
        # The catalogue sorted by price walks posts in price order (catalog.queries).
        Index("ix_posts_price_amount", "price_amount"),
    )

    id: int | None = Field(default=None, primary_key=True)
    shop_id: int = Field(foreign_key="shops.id", index=True, ondelete="CASCADE")
    network: str = Field(max_length=16)
    network_post_id: str = Field(max_length=512)
    permalink: str = Field(default="", max_length=2048)
    caption: str = Field(default="", sa_type=Text)
    # Shopify products carry these; social posts leave them empty.
    title: str = Field(default="", max_length=1024)
    price: str = Field(default="", max_length=64)
    vendor: str = Field(default="", max_length=255)
    product_type: str = Field(default="", max_length=255)
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # `price` (Shopify's) or a price in the caption, parsed by catalog.prices: amount and ISO
    # 4217 currency ("" when nothing says which); None where no price is known.
    price_amount: Decimal | None = Field(default=None, sa_type=Numeric(12, 2))
    price_currency: str = Field(default="", max_length=3)
    pinned: bool = False
    posted_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True), index=True)
    fetched_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


# Covering indexes of the photos' copies (migration m001): one led by the shop, and one led by
# each label for the views filtered by category or colour; the price last, for the currencies.
LISTED_COLUMNS = (
    "is_public",
    "shop_id",
    "network",
    "posted_at",
    "category",
    "category_state",
    "colour",
    "colour_state",
    "price_currency",
    "price_amount",
)
LISTED_BY_CATEGORY = (
    "is_public",
    "category",
    "category_state",
    "colour",
    "colour_state",
    "shop_id",
    "network",
    "posted_at",
    "price_currency",
    "price_amount",
)
LISTED_BY_COLOUR = (
    "is_public",
    "colour",
    "colour_state",
    "category",
    "category_state",
    "shop_id",
    "network",
    "posted_at",
    "price_currency",
    "price_amount",
)


class Photo(SQLModel, table=True):
    """One distinct image, stored once under its content hash, with its current labels."""

    __tablename__ = "photos"
    # Covering indexes for the public catalogue: facet counts and filters on category/colour
    # read only the index (status + duplicate_of_id select the public, folded photos; the
    # label states say whether a partly accepted photo's label is public yet).
    __table_args__ = (
        Index(
            "ix_photos_public_colour",
            "status",
            "duplicate_of_id",
            "colour",
            "colour_state",
            "category",
            "category_state",
            "post_id",
            "id",
        ),
        Index(
            "ix_photos_public_category",
            "status",
            "duplicate_of_id",
            "category",
            "category_state",
            "colour",
            "colour_state",
            "post_id",
            "id",
        ),
        # Facet counts and the shop/network/date filters read this index alone, without
        # joining posts (the copies below, migration m001).
        Index("ix_photos_listed", *LISTED_COLUMNS),
        Index("ix_photos_listed_category", *LISTED_BY_CATEGORY),
        Index("ix_photos_listed_colour", *LISTED_BY_COLOUR),
    )

    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="posts.id", index=True, ondelete="CASCADE")
    # Copies of the post's shop, network, date and price, and whether shoppers see it (status
    # public and not a repost), so the catalogue's counts need no join: set on insert (crud)
    # and on every status write (crud.write_photo_labels; ORM writes: catalog.listing).
    shop_id: int | None = Field(default=None)
    network: str | None = Field(default=None, max_length=16)
    posted_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    price_amount: Decimal | None = Field(default=None, sa_type=Numeric(12, 2))
    price_currency: str | None = Field(default=None, max_length=3)
    is_public: bool = Field(default=False, sa_column_kwargs={"server_default": sa_false()})
    position: int = 0
    source_url: str = Field(default="", sa_type=Text)
    sha256: str = Field(max_length=64, unique=True)
    phash: str = Field(default="", max_length=64, index=True)
    width: int = 0
    height: int = 0
    stored_path: str = Field(default="", max_length=512)
    thumb_path: str = Field(default="", max_length=512)
    # A near-duplicate (same product reposted, re-encoded, resized) points at the first photo.
    duplicate_of_id: int | None = Field(default=None, foreign_key="photos.id", index=True)
    # One garment of a photo showing several (catalog.regions): the original photo, and this
    # garment's box in it as fractions [x0, y0, x1, y1]. The original's status is `split`.
    parent_photo_id: int | None = Field(
        default=None, foreign_key="photos.id", index=True, ondelete="CASCADE"
    )
    region_box: list[float] | None = Field(default=None, sa_column=Column(JSON, nullable=True))

    category: str | None = Field(default=None, max_length=32, index=True)
    category_confidence: float | None = None
    colour: str | None = Field(default=None, max_length=32, index=True)
    colour_confidence: float | None = None
    # Each label is published or queued on its own (catalog.taxonomy.LabelState); `status` is
    # what the two states imply for the whole photo (taxonomy.photo_status), or `rejected`.
    category_state: str = Field(
        default=LabelState.pending, max_length=8, sa_column_kwargs={"server_default": "pending"}
    )
    colour_state: str = Field(
        default=LabelState.pending, max_length=8, sa_column_kwargs={"server_default": "pending"}
    )
    status: str = Field(default=ReviewStatus.pending, max_length=16, index=True)
    model_version: str = Field(default="", max_length=64)
    labelled_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    reviewed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    reviewed_by: str = Field(default="", max_length=255)
    # Bumped on every label/status change: moderators' optimistic concurrency check.
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


def is_listed(status: str | None, duplicate_of_id: int | None) -> bool:
    """Shown to shoppers: a public status, and not a repost folded under its first photo."""
    return status in PUBLIC_STATUSES and duplicate_of_id is None


# What a photo copies from its post (the same names on both tables); columns, which SQLModel
# types as their values.
POST_COPIES: tuple[Any, ...] = (
    Post.shop_id,
    Post.network,
    Post.posted_at,
    Post.price_amount,
    Post.price_currency,
)


@event.listens_for(Photo, "before_insert")
def _copies_on_insert(_mapper: Any, connection: Any, photo: Photo) -> None:
    """Photos added through the ORM (seeds, tests) get the copies crud writes in SQL."""
    photo.is_public = is_listed(photo.status, photo.duplicate_of_id)
    if photo.shop_id is None and photo.post_id is not None:
        row = connection.execute(select(*POST_COPIES).where(col(Post.id) == photo.post_id)).first()
        if row is not None:
            for column, value in zip(POST_COPIES, row, strict=True):
                setattr(photo, column.key, value)


@event.listens_for(Photo, "before_update")
def _copies_on_update(_mapper: Any, _connection: Any, photo: Photo) -> None:
    photo.is_public = is_listed(photo.status, photo.duplicate_of_id)


class RejectedMedia(SQLModel, table=True):
    """A photo URL the crawler refused (not an image, truncated, too large, too small, SSRF) or
    could not download. Later crawls fetch it again while its `kind` is a passing one (HTTP 5xx,
    timeout, truncated bytes: catalog.records.RETRYABLE_FAILURES) and `attempts` is within
    crawler.photo_retry_crawls; the row goes once the photo is stored."""

    __tablename__ = "rejected_media"
    __table_args__ = (UniqueConstraint("source_url", name="uq_rejected_media_source_url"),)

    id: int | None = Field(default=None, primary_key=True)
    post_id: int | None = Field(
        default=None, foreign_key="posts.id", index=True, ondelete="CASCADE"
    )
    source_url: str = Field(max_length=2048)
    reason: str = Field(max_length=1024)  # the latest failure's, for people
    # The latest failure's kind (catalog.records.PhotoFailure): what retries are chosen by.
    kind: str = Field(default=PhotoFailure.error, max_length=16, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    position: int | None = None  # in its post; None: not recorded (rows from before c002)
    attempts: int = 1  # downloads that failed so far
    last_attempt_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # The crawl run retrying it now: no other crawl takes it while that run is alive.
    retry_run_id: int | None = None


class Prediction(SQLModel, table=True):
    """One head's output for one photo from one model version (kept as history)."""

    __tablename__ = "predictions"
    __table_args__ = (
        UniqueConstraint(
            "photo_id", "head", "model_version", name="uq_predictions_photo_head_model"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    photo_id: int = Field(foreign_key="photos.id", index=True, ondelete="CASCADE")
    head: str = Field(max_length=16)  # "category" | "colour"
    label: str = Field(max_length=32)
    confidence: float
    # The top-k as [[label, probability], ...], shown to moderators.
    top: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # The photo alone, before the shop's words were fused in (same form as `top`; empty on
    # rows from before migration l001).
    image_top: list[Any] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    # What the post's words said for this head: catalog.evidence.TextEvidence.head_json.
    evidence: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False, server_default="{}")
    )
    # Confident words and a confident photo disagreed (the label went to a moderator).
    conflict: bool = Field(default=False, sa_column_kwargs={"server_default": sa_false()})
    # "auto" | "review": what the model decided for this head.
    decision: str = Field(default="", max_length=8, sa_column_kwargs={"server_default": ""})
    model_version: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class ModerationEvent(SQLModel, table=True):
    """Audit trail: who changed what on which photo, and when."""

    __tablename__ = "moderation_events"

    id: int | None = Field(default=None, primary_key=True)
    photo_id: int = Field(foreign_key="photos.id", index=True, ondelete="CASCADE")
    moderator: str = Field(max_length=255)
    action: str = Field(max_length=32)  # accept | correct | reject | undo | bulk_accept ...
    before: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    after: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True), index=True)


class CrawlRun(SQLModel, table=True):
    """One crawl: when, what each shop yielded, what went wrong."""

    __tablename__ = "crawl_runs"

    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    finished_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # running | ok | partial (some shops failed) | interrupted (Ctrl-C/SIGTERM, or the process
    # died: found by a later crawl, see crawler.run.close_dead_runs)
    status: str = Field(default="running", max_length=16)
    # {"<network>:<handle>": {"new_posts": n, "new_photos": n, "duplicates": n, "errors": n}}
    shop_counts: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    errors: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Who runs it, and its last sign of life while running: a later crawl marks a "running" row
    # interrupted when that process is gone (same host) or has been silent for long.
    host: str = Field(default="", max_length=255)
    pid: int | None = None
    heartbeat_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class PipelineRun(SQLModel, table=True):
    """One nightly run: crawl → classify → publish, with each step's outcome."""

    __tablename__ = "pipeline_runs"

    id: int | None = Field(default=None, primary_key=True)
    trigger: str = Field(default="manual", max_length=16)  # manual | schedule
    started_at: datetime = Field(
        default_factory=utcnow, sa_type=DateTime(timezone=True), index=True
    )
    finished_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    status: str = Field(default="running", max_length=16)  # running | ok | partial | failed
    # {"crawl": {"status": "ok", "seconds": 1.2, ...}, "classify": {...}, ...}
    steps: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    stats: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    errors: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class Moderator(SQLModel, table=True):
    __tablename__ = "moderators"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=255, unique=True)
    password_hash: str = Field(max_length=255)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    last_login_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class ModeratorSession(SQLModel, table=True):
    """One logged-in browser: the cookie holds a random key, this row its hash. Logging out
    deletes the row; removing the moderator deletes all of theirs (catalog.access)."""

    __tablename__ = "moderator_sessions"

    id: int | None = Field(default=None, primary_key=True)
    moderator_id: int = Field(foreign_key="moderators.id", index=True, ondelete="CASCADE")
    key_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))


class ApiToken(SQLModel, table=True):
    """A moderator's API token (only its hash is stored); revocable one by one or all at once."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    moderator_id: int = Field(foreign_key="moderators.id", index=True, ondelete="CASCADE")
    token_hash: str = Field(max_length=64, unique=True)
    label: str = Field(default="", max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))
    last_used_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class LoginFailure(SQLModel, table=True):
    """Failed moderator logins from one client address: the login throttle every web process
    shares (catalog.logins)."""

    __tablename__ = "login_failures"

    client: str = Field(primary_key=True, max_length=255)
    failures: int = 0  # since the first failure (back to 0 when a lockout starts)
    first_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    last_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    locked_until: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
