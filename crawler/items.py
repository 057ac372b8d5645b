"""What the spiders hand to the item pipelines.

A spider yields one PageItem per API page. The page is the unit of commit: its posts, photos
and the shop's crawl state are written in one transaction, so a crawl killed at any moment
resumes from the last page that was fully stored. Before its pages, a shop's RetryItem carries
the photos earlier crawls failed to download for a passing reason (see crawler.run), fetched and
stored the same way, on the posts they belong to. A ShopUpdate carries what a spider learnt
about the shop row itself (its account id, or that it is gone).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class PostData:
    network_post_id: str
    key: str  # sortable: a later post has a larger key (see spiders.base)
    permalink: str = ""
    caption: str = ""
    title: str = ""
    price: str = ""
    vendor: str = ""
    product_type: str = ""
    tags: list[str] = field(default_factory=list)
    pinned: bool = False
    posted_at: str = ""  # ISO 8601
    photo_urls: list[str] = field(default_factory=list)
    # Photo URLs of this post that cannot be fetched, with why (crawler.spiders.checks).
    refused_photos: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class PageItem:
    shop_id: int
    shop: str  # "network:handle", for reports
    network: str
    seq: int  # 0 = the first page of this pass
    posts: list[PostData]
    cursor: str | None  # where the next page starts (resume point once this page is stored)
    final: bool  # the pass ends with this page (watermark reached, end of feed, or bound)
    stop_key: str = ""  # the watermark this pass runs down to ("" = first crawl)
    top: dict[str, str] | None = None  # the newest post of this page: {"id", "key", "at"}
    skipped: int = 0  # new posts without a photo (videos, links, words alone): not stored
    # Photo URLs of posts refused whole (no photo left to fetch), with why: rejected_media rows.
    refused: list[tuple[str, str]] = field(default_factory=list)
    # Filled by PhotoPipeline: one entry per URL, {"ok": True, ...StoredPhoto} or
    # {"error": reason, "kind": catalog.records.PhotoFailure value}.
    photos: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def photo_urls(self) -> list[str]:
        seen: dict[str, None] = {}
        for post in self.posts:
            for url in post.photo_urls:
                seen.setdefault(url)
        return list(seen)


@dataclass
class RetryPhoto:
    """A photo of a stored post that an earlier crawl failed to download (a rejected_media row
    this crawl has claimed)."""

    rejected_id: int
    url: str
    post_id: int
    position: int  # in its post (or after the post's stored photos when that was not recorded)


@dataclass
class RetryItem:
    shop_id: int
    shop: str  # "network:handle", for reports
    network: str
    retries: list[RetryPhoto]
    # Filled by PhotoPipeline, as for PageItem.
    photos: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def photo_urls(self) -> list[str]:
        return list(dict.fromkeys(r.url for r in self.retries))


@dataclass
class ShopUpdate:
    """What a spider learnt about the shop itself, stored by CatalogPipeline (spiders yield,
    pipelines write): its account id and profile fields (filled in where still empty), or
    that the account is gone (`inactive_reason`, already redacted)."""

    shop_id: int
    shop: str  # "network:handle", for reports
    account_id: str = ""
    profile: dict[str, str] = field(default_factory=dict)  # display_name, profile_url…
    inactive_reason: str | None = None
