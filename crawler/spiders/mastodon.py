"""Mastodon and the servers that speak its API (Pixelfed, GoToSocial): the account, then its
statuses with media, newest first; `since_id` makes incremental runs cheap where it is read.

Where they differ (docs/crawling.md):
- Pixelfed and GoToSocial answer account routes only with a token (`Authorization: Bearer`,
  sent to the instance it is configured for and to no other host); a refusal stops that
  instance's shops, not the other instances'.
- Pixelfed has no /accounts/lookup (its 404 reads like a missing account): the account is found
  with /accounts/search. Which server an instance runs comes from the config
  ([networks.mastodon] kind, or per instance) or, when that says "auto" and a lookup answers
  404, from the instance's nodeinfo, before any shop is marked gone.
- Pixelfed sends no Link header: pages go on by `max_id` (the page's last id) until one is empty.
- GoToSocial ids are ULIDs that may begin with 0 (kept as given); neither reads `since_id`, so
  the watermark alone stops an incremental run there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import scrapy
from scrapy.http import Response

from catalog.config import instance_host
from crawler.items import PostData
from crawler.spiders.base import Malformed, ShopSpider, ShopTask, number_key
from crawler.spiders.text import html_to_text, utc_iso

_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?([a-z]+)"?')
# nodeinfo's discovery document links the schema versions it serves (2.0, 2.1, …).
NODEINFO_REL = "http://nodeinfo.diaspora.software/ns/schema/2."
KINDS = ("mastodon", "pixelfed", "gotosocial")


def next_link(response: Response) -> str | None:
    header = response.headers.get("Link", b"").decode("latin-1")
    for url, rel in _LINK.findall(header):
        if rel == "next":
            return url
    return None


def with_max_id(url: str, max_id: str) -> str:
    """`url` asking for the statuses older than `max_id` (a page after the one at `url`)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "max_id"] + [("max_id", max_id)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def software_kind(nodeinfo: Any) -> str | None:
    """The kind of server a nodeinfo document names; other Mastodon-API servers count as
    Mastodon; None when the document names none."""
    software = nodeinfo.get("software") if isinstance(nodeinfo, dict) else None
    name = software.get("name") if isinstance(software, dict) else None
    if not isinstance(name, str) or not name.strip():
        return None
    name = name.strip().lower()
    return name if name in KINDS else "mastodon"


class MastodonSpider(ShopSpider):
    name = "mastodon"
    network = "mastodon"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._kinds: dict[str, str] = {}  # host → the kind its nodeinfo named this run
        self._refused_hosts: set[str] = set()

    # ---- the instance: kind and token --------------------------------------------------------

    def kind(self, task: ShopTask) -> str:
        """mastodon, pixelfed, gotosocial, or auto (not known yet)."""
        configured = self.cfg.kind_of(task.base_url)
        if configured != "auto":
            return configured
        return self._kinds.get(instance_host(task.base_url), "auto")

    def api_request(self, url: str, task: ShopTask, callback: Any, **meta: Any) -> scrapy.Request:
        request = super().api_request(url, task, callback, **meta)
        instance = self.cfg.instance(task.base_url)
        # Only to the instance the token is for: a Link header may point anywhere.
        if instance is not None and instance.access_token and instance_host(url) == instance.host:
            request.headers["Authorization"] = f"Bearer {instance.access_token}"
        return request

    # ---- requests ----------------------------------------------------------------------------

    def first_requests(self, task: ShopTask) -> Iterator[Any]:
        if task.cursor:
            yield self.api_request(task.cursor, task, self.parse_statuses, seq=task.seq)
        elif task.account_id:
            yield self.statuses_request(task)
        else:
            yield self.account_request(task)

    def account_request(self, task: ShopTask) -> scrapy.Request:
        base = task.base_url.rstrip("/")
        if self.kind(task) == "pixelfed":
            query = urlencode({"q": self._local_name(task), "limit": 40})
            return self.api_request(
                f"{base}/api/v1/accounts/search?{query}", task, self.parse_search
            )
        url = f"{base}/api/v1/accounts/lookup?acct={quote(task.handle)}"
        return self.api_request(url, task, self.parse_account)

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

    def nodeinfo_request(self, task: ShopTask) -> scrapy.Request:
        """Which server the instance runs: nodeinfo's discovery document, at the host's root."""
        parts = urlsplit(task.base_url)
        url = f"{parts.scheme}://{parts.netloc}/.well-known/nodeinfo"
        request = self.api_request(url, task, self.parse_nodeinfo_links)
        # Each shop that needs it asks (the answer may reach another crawl process).
        return request.replace(dont_filter=True)

    # ---- answers -----------------------------------------------------------------------------

    def check(self, response: Response) -> Any:
        """The JSON of a good answer; None after handling an error answer."""
        task: ShopTask = response.meta["task"]
        if response.status == 200:
            return self.json_of(response)
        if response.status in (404, 410):
            self.deactivate(task, f"account not found on {task.base_url} (HTTP {response.status})")
        elif response.status in (401, 403):
            self.refused(task, response)
        else:
            self.fail(task, self.give_up_message(response))
        return None

    def refused(self, task: ShopTask, response: Response) -> None:
        """The instance refused our request (no token, or a bad one): its shops stop for this
        run, said once; shops on other instances go on."""
        host = instance_host(task.base_url)
        instance = self.cfg.instance(task.base_url)
        if instance is not None and instance.access_token:
            hint = "its access token was refused (expired, revoked, or without the read scope)"
        else:
            hint = (
                "it needs an access token (Pixelfed and GoToSocial refuse anonymous reads): "
                f'set [networks.mastodon.instances.NAME] url = "{task.base_url}" and access_token'
            )
        for t in self.tasks:
            if instance_host(t.base_url) == host:
                self.stopped_shops.add(t.shop_id)
                self.report.mark(t.key, "auth")
        if host in self._refused_hosts:
            return
        self._refused_hosts.add(host)
        text = response.text[:200] if hasattr(response, "text") else ""
        message = (
            f"{task.base_url} refused the request (HTTP {response.status}: {text}): {hint} — "
            "its shops are skipped this run"
        )
        self.report.error(None, f"mastodon: {message}", status="auth")

    def parse_account(self, response: Response) -> Iterator[Any]:
        task: ShopTask = response.meta["task"]
        if response.status == 404 and self.kind(task) == "auto":
            # Pixelfed answers a lookup it does not have with the same 404 as a missing
            # account: ask what the instance runs before marking any shop gone.
            yield self.nodeinfo_request(task)
            return
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
        yield from self.found_account(task, account)

    def found_account(self, task: ShopTask, account: dict[str, Any]) -> Iterator[Any]:
        if account.get("suspended"):
            self.deactivate(task, "account suspended")
            yield from self.shop_updates()
            return
        yield self.remember_account(
            task,
            str(account["id"]),
            display_name=str(account.get("display_name") or ""),
            profile_url=str(account.get("url") or ""),
        )
        yield self.statuses_request(task)

    def _local_name(self, task: ShopTask) -> str:
        """The handle without the instance's own domain (`name@host` → `name`)."""
        name, _, domain = task.handle.lstrip("@").partition("@")
        return name if not domain or domain.lower() == instance_host(task.base_url) else task.handle

    def parse_search(self, response: Response) -> Iterator[Any]:
        """Pixelfed's /accounts/search: substring matches on names; ours has the handle as its
        `acct` (local accounts' acct is the user name)."""
        task: ShopTask = response.meta["task"]
        try:
            found = self.check(response)
            if found is None:
                yield from self.shop_updates()
                return
            if not isinstance(found, list):
                raise Malformed(f"expected a list of accounts from {response.url}")
        except Malformed as exc:
            yield from self.retry_malformed(response, str(exc))
            return
        wanted = {task.handle.lstrip("@").lower(), self._local_name(task).lower()}
        match = next(
            (
                a
                for a in found
                if isinstance(a, dict) and "id" in a and str(a.get("acct", "")).lower() in wanted
            ),
            None,
        )
        if match is not None:
            yield from self.found_account(task, match)
        elif len(found) >= 40:
            self.fail(
                task,
                f"{task.handle} is not among the first 40 accounts {task.base_url} finds for it; "
                "the next crawl asks again",
            )
        else:
            self.deactivate(task, f"account not found on {task.base_url} (account search)")
            yield from self.shop_updates()

    def parse_nodeinfo_links(self, response: Response) -> Iterator[Any]:
        task: ShopTask = response.meta["task"]
        href = None
        if response.status == 200:
            try:
                doc = self.json_of(response)
            except Malformed:
                doc = None
            links = doc.get("links") if isinstance(doc, dict) else None
            for link in links if isinstance(links, list) else []:
                rel = link.get("rel") if isinstance(link, dict) else None
                if isinstance(rel, str) and rel.startswith(NODEINFO_REL):
                    candidate = str(link.get("href") or "")
                    # Only on the instance itself: the document must not send us elsewhere.
                    if instance_host(candidate) == instance_host(task.base_url):
                        href = candidate
        if href is None:
            yield from self.detected(task, None)
            return
        yield self.api_request(href, task, self.parse_nodeinfo).replace(dont_filter=True)

    def parse_nodeinfo(self, response: Response) -> Iterator[Any]:
        task: ShopTask = response.meta["task"]
        kind = None
        if response.status == 200:
            try:
                kind = software_kind(self.json_of(response))
            except Malformed:
                kind = None
        yield from self.detected(task, kind)

    def detected(self, task: ShopTask, kind: str | None) -> Iterator[Any]:
        """What follows a lookup's 404 once the instance's kind is known (or is not)."""
        if kind is None:
            self.fail(
                task,
                f"{task.base_url} has no /api/v1/accounts/lookup answer for {task.handle} "
                "(HTTP 404) and its nodeinfo does not say which server it runs: set "
                '[networks.mastodon] kind (or an instance\'s kind) to "mastodon", "pixelfed" '
                'or "gotosocial"',
            )
            return
        self._kinds[instance_host(task.base_url)] = kind
        if kind == "pixelfed":
            yield self.account_request(task)
            return
        self.deactivate(task, f"account not found on {task.base_url} (HTTP 404)")
        yield from self.shop_updates()

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
        if nxt is None and not response.headers.get("Link"):
            nxt = self.next_by_max_id(response.url, statuses)
        item, more = self.page(task, seq, posts, nxt, base=response.url)
        if more and nxt:
            yield self.api_request(nxt, task, self.parse_statuses, seq=seq + 1)
        yield item

    def next_by_max_id(self, url: str, statuses: list[Any]) -> str | None:
        """The next page from a server that sends no Link header at all (Pixelfed; Mastodon and
        GoToSocial send one with every non-empty page): the statuses older than this page's
        last, until a page is empty. Not "until a short page": Pixelfed answers short pages
        while more remain (it drops statuses it cannot render)."""
        ids = [
            s["id"] for s in statuses if isinstance(s, dict) and isinstance(s.get("id"), str | int)
        ]
        return with_max_id(url, str(ids[-1])) if ids else None

    def post(self, s: dict[str, Any]) -> PostData | None:
        own = str((s.get("account") or {}).get("id", ""))
        if s.get("reblog") or (
            s.get("in_reply_to_id") and str(s.get("in_reply_to_account_id")) != own
        ):
            # Boosts and replies to others are not the shop's catalogue; a thread the shop
            # posts (replies to itself, which exclude_replies keeps) is.
            return None
        urls = [
            # The original (`url`; `remote_url` for media not copied yet), never `preview_url`:
            # Pixelfed's and GoToSocial's previews are small thumbnails.
            m.get("url") or m.get("remote_url")
            for m in s.get("media_attachments") or []
            if str(m.get("type", "")).lower() == "image"
        ]
        sid = str(s["id"])  # Pixelfed has sent numbers; GoToSocial's ULIDs keep their zeros
        return PostData(
            network_post_id=sid,
            key=number_key(sid),
            permalink=s.get("url") or s.get("uri") or "",
            caption=html_to_text(s.get("content", "")),
            tags=[t["name"] for t in s.get("tags") or [] if isinstance(t, dict) and "name" in t],
            pinned=bool(s.get("pinned")),
            posted_at=utc_iso(s.get("created_at", "")),
            photo_urls=[u for u in urls if u],
        )
