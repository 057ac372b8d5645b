"""Bluesky through the public AppView: getProfile (handle → DID), then getAuthorFeed with
filter=posts_with_media, cursor paging; images from image embeds and record-with-media."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from scrapy.http import Response

from crawler.items import PostData
from crawler.spiders.base import Malformed, ShopSpider, ShopTask, iso_key
from crawler.spiders.text import expand_links, utc_iso

GONE = {
    "AccountTakedown": "account suspended",
    "AccountDeactivated": "account deactivated",
    "ActorNotFound": "account not found",
}


def images_of(embed: dict[str, Any] | None) -> list[str]:
    """Full-size image URLs of an embed view: images, gallery, or the media of a quote post."""
    if not isinstance(embed, dict):
        return []
    kind = embed.get("$type", "")
    if kind.startswith("app.bsky.embed.images"):
        return [i["fullsize"] for i in embed.get("images", []) if i.get("fullsize")]
    if kind.startswith("app.bsky.embed.gallery"):
        return [i["fullsize"] for i in embed.get("items", []) if i.get("fullsize")]
    if kind.startswith("app.bsky.embed.recordWithMedia"):
        return images_of(embed.get("media"))
    return []


class BlueskySpider(ShopSpider):
    name = "bluesky"
    network = "bluesky"

    @property
    def base(self) -> str:
        return self.cfg.base_url.rstrip("/")

    def first_requests(self, task: ShopTask) -> Iterator[Any]:
        if task.account_id:
            yield self.feed_request(task, task.cursor, task.seq)
        else:
            url = f"{self.base}/xrpc/app.bsky.actor.getProfile?" + urlencode({"actor": task.handle})
            yield self.api_request(url, task, self.parse_profile)

    def feed_request(self, task: ShopTask, cursor: str | None, seq: int) -> Any:
        params = {
            "actor": task.account_id,
            "filter": "posts_with_media",
            "limit": self.cfg.page_size,
            "includePins": "true",
        }
        if cursor:
            params["cursor"] = cursor
            params.pop("includePins")
        url = f"{self.base}/xrpc/app.bsky.feed.getAuthorFeed?" + urlencode(params)
        return self.api_request(url, task, self.parse_feed, seq=seq)

    def check(self, response: Response) -> Any:
        task: ShopTask = response.meta["task"]
        if response.status == 200:
            return self.json_of(response)
        try:
            err = self.json_of(response)
        except Malformed:
            err = {}
        name = err.get("error", "") if isinstance(err, dict) else ""
        message = err.get("message", "") if isinstance(err, dict) else ""
        if response.status == 400 and (name in GONE or "not found" in message.lower()):
            self.deactivate(task, GONE.get(name, message or name))
        elif response.status in (401, 403):
            self.auth_failed(
                task, f"{self.base} refused the request (HTTP {response.status} {name}: {message})"
            )
        else:
            self.fail(task, self.give_up_message(response))
        return None

    def parse_profile(self, response: Response) -> Iterator[Any]:
        task: ShopTask = response.meta["task"]
        try:
            profile = self.check(response)
            if profile is None:
                yield from self.shop_updates()  # a gone account, for the pipeline
                return
            did = profile["did"]
        except (Malformed, KeyError, TypeError) as exc:
            yield from self.retry_malformed(response, f"malformed profile: {exc}")
            return
        yield self.remember_account(
            task,
            did,
            display_name=profile.get("displayName", ""),
            profile_url=f"https://bsky.app/profile/{profile.get('handle', did)}",
        )
        yield self.feed_request(task, None, 0)

    def parse_feed(self, response: Response) -> Iterator[Any]:
        task: ShopTask = response.meta["task"]
        seq = response.meta["seq"]
        try:
            body = self.check(response)
            if body is None:
                yield from self.shop_updates()  # a gone account, for the pipeline
                return
            posts = self.parse_each(task, body["feed"], lambda e: self.post(e, task))
            cursor = body.get("cursor") or None
        except (Malformed, KeyError, TypeError, AttributeError) as exc:
            yield from self.retry_malformed(response, f"malformed page: {exc}")
            return
        item, more = self.page(task, seq, posts, cursor, base=response.url)
        if more and cursor:
            yield self.feed_request(task, cursor, seq + 1)
        yield item

    def post(self, entry: dict[str, Any], task: ShopTask) -> PostData | None:
        post = entry["post"]
        reason = (entry.get("reason") or {}).get("$type", "")
        record = post.get("record", {})
        uri = post["uri"]
        author = post.get("author", {})
        did = author.get("did") or uri.removeprefix("at://").split("/", 1)[0]
        if reason.endswith("#reasonRepost") or (task.account_id and did != task.account_id):
            # Another account's post, reposted (or shown for a reason not known here): its
            # product is not this shop's, and its time is not in this feed's order.
            return None
        parent = ((record.get("reply") or {}).get("parent") or {}).get("uri", "")
        if parent and not parent.startswith(f"at://{did}/"):
            # A reply to another account, as the Mastodon spider treats them: a conversation,
            # not the catalogue. The shop's own threads (replies to itself) are kept.
            return None
        rkey = uri.rsplit("/", 1)[-1]
        at = post.get("indexedAt") or record.get("createdAt", "")
        # Feed order is by the earlier of indexedAt and createdAt: key on the same.
        created = record.get("createdAt", "")
        sort_at = min(at, created) if at and created else at or created
        return PostData(
            network_post_id=uri,
            key=iso_key(sort_at, uri),
            permalink=f"https://bsky.app/profile/{author.get('handle') or author.get('did')}"
            f"/post/{rkey}",
            caption=expand_links(record.get("text", ""), record.get("facets")),
            tags=list(record.get("tags", [])),
            pinned=reason.endswith("#reasonPin"),
            posted_at=utc_iso(created or at),
            photo_urls=images_of(post.get("embed")),
        )
