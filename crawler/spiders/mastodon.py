"""Mastodon (and Pixelfed's Mastodon API): accounts/lookup, then the account's statuses with
media, newest first, paged by the Link header; `since_id` makes incremental runs cheap."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

from scrapy.http import Response

from crawler.items import PostData
from crawler.spiders.base import Malformed, ShopSpider, ShopTask, number_key
from crawler.spiders.text import html_to_text, utc_iso

_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?([a-z]+)"?')


def next_link(response: Response) -> str | None:
    header = response.headers.get("Link", b"").decode("latin-1")
    for url, rel in _LINK.findall(header):
        if rel == "next":
            return url
    return None


class MastodonSpider(ShopSpider):
    name = "mastodon"
    network = "mastodon"

    def first_requests(self, task: ShopTask) -> Iterator[Any]:
        if task.cursor:
            yield self.api_request(task.cursor, task, self.parse_statuses, seq=task.seq)
        elif task.account_id:
            yield self.statuses_request(task)
        else:
            url = f"{task.base_url.rstrip('/')}/api/v1/accounts/lookup?acct={quote(task.handle)}"
            yield self.api_request(url, task, self.parse_account)

    def statuses_request(self, task: ShopTask) -> Any:
        params = {
            "limit": self.cfg.page_size,
            "only_media": "true",
            "exclude_replies": "true",
            "exclude_reblogs": "true",
        }
        if task.stop_key and task.watermark_id:
            # Only statuses newer than the watermark: no new posts costs one small request.
            # The id as stored, not the padded sort key: ids may begin with 0 (GoToSocial).
            params["since_id"] = task.watermark_id
        url = (
            f"{task.base_url.rstrip('/')}/api/v1/accounts/{quote(task.account_id)}/statuses?"
            + urlencode(params)
        )
        return self.api_request(url, task, self.parse_statuses, seq=0)

    def check(self, response: Response) -> Any:
        """The JSON of a good answer; None after handling an error answer."""
        task: ShopTask = response.meta["task"]
        if response.status == 200:
            return self.json_of(response)
        if response.status in (404, 410):
            self.deactivate(task, f"account not found on {task.base_url} (HTTP {response.status})")
        elif response.status in (401, 403):
            self.auth_failed(
                task,
                f"{task.base_url} refused anonymous access "
                f"(HTTP {response.status}: {response.text[:200]})",
            )
        else:
            self.fail(task, self.give_up_message(response))
        return None

    def parse_account(self, response: Response) -> Iterator[Any]:
        task: ShopTask = response.meta["task"]
        try:
            account = self.check(response)
            if account is None:
                yield from self.shop_updates()  # a gone account, for the pipeline
                return
            if not isinstance(account, dict) or "id" not in account:
                raise Malformed(f"no account id in the answer from {response.url}")
        except Malformed as exc:
            yield from self.retry_malformed(response, str(exc))
            return
        if account.get("suspended"):
            self.deactivate(task, "account suspended")
            yield from self.shop_updates()
            return
        yield self.remember_account(
            task,
            str(account["id"]),
            display_name=account.get("display_name", ""),
            profile_url=account.get("url", ""),
        )
        yield self.statuses_request(task)

    def parse_statuses(self, response: Response) -> Iterator[Any]:
        task: ShopTask = response.meta["task"]
        seq = response.meta["seq"]
        try:
            statuses = self.check(response)
            if statuses is None:
                yield from self.shop_updates()  # a gone account, for the pipeline
                return
            if not isinstance(statuses, list):
                raise Malformed(f"expected a list of statuses from {response.url}")
            posts = self.parse_each(task, statuses, self.post)
        except (Malformed, KeyError, TypeError, AttributeError) as exc:
            yield from self.retry_malformed(response, f"malformed page: {exc}")
            return
        nxt = next_link(response)
        item, more = self.page(task, seq, posts, nxt, base=response.url)
        if more and nxt:
            yield self.api_request(nxt, task, self.parse_statuses, seq=seq + 1)
        yield item

    def post(self, s: dict[str, Any]) -> PostData | None:
        own = str((s.get("account") or {}).get("id", ""))
        if s.get("reblog") or (
            s.get("in_reply_to_id") and str(s.get("in_reply_to_account_id")) != own
        ):
            # Boosts and replies to others are not the shop's catalogue; a thread the shop
            # posts (replies to itself, which exclude_replies keeps) is.
            return None
        urls = [
            m.get("url") or m.get("remote_url")
            for m in s.get("media_attachments", [])
            if m.get("type") == "image"
        ]
        sid = str(s["id"])
        return PostData(
            network_post_id=sid,
            key=number_key(sid),
            permalink=s.get("url") or s.get("uri") or "",
            caption=html_to_text(s.get("content", "")),
            tags=[t["name"] for t in s.get("tags", []) if isinstance(t, dict) and "name" in t],
            pinned=bool(s.get("pinned")),
            posted_at=utc_iso(s.get("created_at", "")),
            photo_urls=[u for u in urls if u],
        )
