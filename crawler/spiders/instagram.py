"""Instagram business accounts through the Graph API's Business Discovery: one request returns
the profile and a page of media; the next page is asked for with media.after(cursor)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from scrapy.http import Response

from crawler.items import PostData
from crawler.ratelimit import INSTAGRAM_RATE_CODES
from crawler.spiders.base import Malformed, ShopSpider, ShopTask, iso_key
from crawler.spiders.text import utc_iso

MEDIA_FIELDS = (
    "id,caption,media_type,media_product_type,media_url,permalink,timestamp,"
    "children{id,media_type,media_url}"
)
AUTH_CODES = {102, 190, 10, 200, 463, 467}
# (#100) "Object does not exist, cannot be loaded due to missing permission…": the token's app
# lacks a permission, whichever shop is asked for (a shop that is gone has code 110/24/803).
PERMISSION_CODES = {100}
GONE_CODES = {110, 24, 803}
GONE_SUBCODES = {2207013}


class InstagramSpider(ShopSpider):
    name = "instagram"
    network = "instagram"

    def first_requests(self, task: ShopTask) -> Iterator[Any]:
        cfg = self.cfg
        if not cfg.access_token or not cfg.ig_user_id:
            self.auth_failed(
                task, "networks.instagram.access_token and ig_user_id are not set", close=False
            )
            return
        yield self.media_request(task, task.cursor, task.seq)

    def media_request(self, task: ShopTask, after: str | None, seq: int) -> Any:
        cfg = self.cfg
        media = "media" + (f".after({after})" if after else "") + f".limit({cfg.page_size})"
        fields = (
            f"business_discovery.username({task.handle})"
            f"{{id,username,name,followers_count,media_count,{media}{{{MEDIA_FIELDS}}}}}"
        )
        url = f"{cfg.base_url.rstrip('/')}/{cfg.api_version}/{cfg.ig_user_id}?" + urlencode(
            {"fields": fields, "access_token": cfg.access_token}
        )
        return self.api_request(url, task, self.parse_media, seq=seq)

    def check(self, response: Response) -> Any:
        task: ShopTask = response.meta["task"]
        try:
            body = self.json_of(response)
        except Malformed:
            if response.status == 200:
                raise
            body = {}
        if response.status == 200:
            return body
        err = body.get("error", {}) if isinstance(body, dict) else {}
        code, sub = err.get("code"), err.get("error_subcode")
        msg = err.get("message", "")
        if code in GONE_CODES or sub in GONE_SUBCODES:
            self.deactivate(task, f"not a discoverable business account ({msg}, code {code})")
        elif code in PERMISSION_CODES:
            # The app lacks a permission or feature: no shop can be read until it has it.
            self.auth_failed(
                task,
                f"the app may not read business accounts: {msg} (code {code}); grant the "
                "permissions it names to the app behind networks.instagram.access_token",
            )
        elif code in AUTH_CODES or response.status == 401:
            self.auth_failed(
                task,
                f"access token rejected: {msg} (code {code}); "
                "renew networks.instagram.access_token",
            )
        elif code in INSTAGRAM_RATE_CODES:
            self.fail(task, f"rate limited: {msg}; {self.give_up_message(response)}")
        else:
            self.fail(task, f"{self.give_up_message(response)}: {msg}")
        return None

    def parse_media(self, response: Response) -> Iterator[Any]:
        task: ShopTask = response.meta["task"]
        seq = response.meta["seq"]
        try:
            body = self.check(response)
            if body is None:
                yield from self.shop_updates()  # a gone account, for the pipeline
                return
            bd = body["business_discovery"]
            media = bd.get("media") or {"data": []}
            posts = self.parse_each(task, media["data"], lambda m: self.post(m, bd))
            after = (media.get("paging") or {}).get("cursors", {}).get("after")
        except (Malformed, KeyError, TypeError, AttributeError) as exc:
            yield from self.retry_malformed(response, f"malformed page: {exc}")
            return
        if seq == 0 and not task.account_id and bd.get("id"):
            yield self.remember_account(
                task,
                str(bd["id"]),
                display_name=bd.get("name", ""),
                profile_url=f"https://www.instagram.com/{task.handle}/",
            )
        if not media["data"]:
            after = None
        item, more = self.page(task, seq, posts, after, base=response.url)
        if more and after:
            yield self.media_request(task, after, seq + 1)
        yield item

    def post(self, m: dict[str, Any], bd: dict[str, Any]) -> PostData | None:
        kind = m.get("media_type")
        if kind == "CAROUSEL_ALBUM":
            urls = [
                c["media_url"]
                for c in (m.get("children") or {}).get("data", [])
                if c.get("media_type") == "IMAGE" and c.get("media_url")
            ]
        elif kind == "IMAGE":
            urls = [m["media_url"]] if m.get("media_url") else []
        else:
            urls = []  # videos and reels: no product photo to label
        ts = m.get("timestamp", "")
        return PostData(
            network_post_id=str(m["id"]),
            key=iso_key(ts, str(m["id"])),
            permalink=m.get("permalink", ""),
            caption=m.get("caption", ""),
            posted_at=utc_iso(ts),
            photo_urls=urls,
        )
