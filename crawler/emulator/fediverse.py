"""Pixelfed and GoToSocial, the emulator's other Mastodon-API flavours: an EmulatorServer made
with `flavour="pixelfed"` or `"gotosocial"` answers the Mastodon routes the way that server does
(docs/crawling.md; learnt from the servers' own code and test suites):

  Pixelfed    every account route needs `Authorization: Bearer` (401 `{"message":
              "Unauthenticated."}` without), no /accounts/lookup (the `accounts/{id}` route takes
              "lookup" for an id: 404), /api/v1/accounts/search?q= instead, statuses newest
              first with max_id/min_id but no Link header and since_id ignored, timestamps with
              microseconds, `/p/{user}/{id}` permalinks, `_thumb` preview URLs
  GoToSocial  a token needed too (401 `{"error": "Unauthorized: …"}`), ids are ULIDs ("01…": they
              begin with 0), /accounts/lookup works, Link headers, since_id ignored (max_id and
              min_id only)

All three flavours serve nodeinfo (/.well-known/nodeinfo and the document it links to) and
/api/v1/instance, as the real servers do. A mixin of the emulator's request handler.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from crawler.emulator.catalogue import Post, Shop
from crawler.emulator.common import ApiError

if TYPE_CHECKING:
    from crawler.emulator.server import EmulatorServer

FLAVOURS = ("mastodon", "pixelfed", "gotosocial")
NODEINFO_SCHEMA = "http://nodeinfo.diaspora.software/ns/schema/2.0"
# What each flavour's /api/v1/instance says its version is (as the real servers word it).
VERSIONS = {
    "mastodon": ("4.3.0", "4.3.0"),
    "pixelfed": ("3.5.3 (compatible; Pixelfed 0.12.3)", "0.12.3"),
    "gotosocial": ("0.16.0+git-f1cbf6f", "0.16.0+git-f1cbf6f"),
}
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid(ms: int, seed: str) -> str:
    """A ULID: 48-bit milliseconds then 80 bits from `seed`, Crockford base32 (26 characters);
    any time before 2039 makes it begin with "0"."""
    rand = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:10], "big")
    value = (ms << 80) | rand
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def is_flavoured_path(path: str) -> bool:
    """The routes only the flavoured emulator answers (beside /api/v1/…)."""
    return path in ("/.well-known/nodeinfo", "/nodeinfo/2.0", "/api/nodeinfo/2.0.json")


class FediverseApi:
    emu: EmulatorServer
    headers: Any

    # ---- ids -------------------------------------------------------------------------------

    def _flavour_id(self, post: Post) -> str:
        if self.emu.flavour == "gotosocial":
            return ulid(int(post.created_at.timestamp() * 1000), f"status-{post.n}")
        return str(110_000_000_000_000_000 + post.n * 65_536)

    def _flavour_account_id(self, shop: Shop) -> str:
        if self.emu.flavour == "gotosocial":
            return ulid(1_652_000_000_000 + len(shop.handle), f"account-{shop.handle}")
        return shop.account_id

    def _flavour_shop(self, account_id: str) -> Shop | None:
        for shop in self.emu.catalogue.shops.values():
            if shop.network == "mastodon" and self._flavour_account_id(shop) == account_id:
                return shop
        return None

    # ---- routes ----------------------------------------------------------------------------

    def _fediverse(self, path: str, q: dict[str, str]) -> tuple[Any, Any, dict[str, str]]:
        """A request to a Pixelfed or GoToSocial emulator (or nodeinfo of any flavour)."""
        emu, flavour = self.emu, self.emu.flavour
        base = emu.base_url
        if path == "/.well-known/nodeinfo":
            href = (
                f"{base}/api/nodeinfo/2.0.json" if flavour == "pixelfed" else f"{base}/nodeinfo/2.0"
            )
            return None, {"links": [{"rel": NODEINFO_SCHEMA, "href": href}]}, {}
        if path in ("/nodeinfo/2.0", "/api/nodeinfo/2.0.json"):
            body = {
                "version": "2.0",
                "software": {"name": flavour, "version": VERSIONS[flavour][1]},
                "protocols": ["activitypub"],
                "services": {"inbound": [], "outbound": []},
                "openRegistrations": False,
                "usage": {"users": {"total": len(emu.catalogue.shops)}},
                "metadata": {},
            }
            return None, body, {}
        if path == "/api/v1/instance":
            body = {"uri": base, "title": f"Emulated {flavour}", "version": VERSIONS[flavour][0]}
            return None, body, {}
        self._check_token()
        if path == "/api/v1/accounts/lookup" and flavour == "gotosocial":
            shop = emu.catalogue.shop("mastodon", q.get("acct", "").split("@")[0])
            if shop is None:
                raise ApiError(404, {"error": "Not Found: account not found"})
            return ("mastodon", shop.handle), self._flavour_account(shop), {}
        if path == "/api/v1/accounts/search" and flavour == "pixelfed":
            needle = q.get("q", "").lower()
            if not needle:
                raise ApiError(422, {"message": "The q field is required."})
            limit = min(int(q.get("limit", 20)), 40)
            found = [
                s
                for s in emu.catalogue.shops.values()
                if s.network == "mastodon"
                and (needle in s.handle.lower() or needle in s.display_name.lower())
            ][:limit]
            owner = ("mastodon", found[0].handle) if len(found) == 1 else None
            return owner, [self._flavour_account(s) for s in found], {}
        m = re.fullmatch(r"/api/v1/accounts/([^/]+)/statuses", path)
        shop = self._flavour_shop(m.group(1)) if m else None
        if shop is None:
            # Pixelfed's `accounts/{id}` route takes "lookup" and "search" for ids too.
            raise ApiError(
                404,
                {"error": "Record not found"}
                if flavour == "pixelfed"
                else {"error": "Not Found: account not found"},
            )
        return ("mastodon", shop.handle), *self._flavour_statuses(shop, q)

    def _check_token(self) -> None:
        if self.headers.get("Authorization", "") == f"Bearer {self.emu.access_token}":
            return
        if self.emu.flavour == "pixelfed":
            raise ApiError(401, {"message": "Unauthenticated."})
        raise ApiError(401, {"error": "Unauthorized: token not supplied"})

    def _flavour_statuses(
        self, shop: Shop, q: dict[str, str]
    ) -> tuple[list[dict[str, Any]], dict[str, str]]:
        flavour = self.emu.flavour
        limit = min(int(q.get("limit", 20)), 40)
        posts = (
            [p for p in shop.posts if p.photos]
            if q.get("only_media") in ("true", "1")
            else list(shop.posts)
        )
        ids = {p.n: self._flavour_id(p) for p in posts}
        # Ids of one flavour have one length (snowflakes here, ULIDs): they compare as strings.
        if "max_id" in q:
            posts = [p for p in posts if ids[p.n] < q["max_id"]]
        if "min_id" in q:
            posts = [p for p in posts if ids[p.n] > q["min_id"]][-limit:]
        # since_id: neither server reads it.
        page = posts[:limit]
        headers: dict[str, str] = {}
        if flavour == "gotosocial" and page:
            carry = {
                k: q[k] for k in ("exclude_reblogs", "exclude_replies", "only_media") if k in q
            }
            url = f"{self.emu.base_url}/api/v1/accounts/{self._flavour_account_id(shop)}/statuses"
            nxt = urlencode({"limit": str(limit), "max_id": ids[page[-1].n], **carry})
            prev = urlencode({"limit": str(limit), "min_id": ids[page[0].n], **carry})
            headers["Link"] = f'<{url}?{nxt}>; rel="next", <{url}?{prev}>; rel="prev"'
        account = self._flavour_account(shop)
        return [self._flavour_status(shop, p, account) for p in page], headers

    # ---- entities --------------------------------------------------------------------------

    def _flavour_account(self, shop: Shop) -> dict[str, Any]:
        account = self._mastodon_account(shop) | {"id": self._flavour_account_id(shop)}  # type: ignore[attr-defined]
        if self.emu.flavour == "pixelfed":
            account["url"] = f"{self.emu.base_url}/{shop.handle}"
            account["software"] = "pixelfed"
        return account

    def _flavour_status(self, shop: Shop, post: Post, account: dict[str, Any]) -> dict[str, Any]:
        status: dict[str, Any] = self._status(shop, post, account)  # type: ignore[attr-defined]
        sid, base = self._flavour_id(post), self.emu.base_url
        status["id"] = sid
        if self.emu.flavour == "pixelfed":
            status["url"] = status["uri"] = f"{base}/p/{shop.handle}/{sid}"
            status["created_at"] = post.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            for i, media in enumerate(status["media_attachments"]):
                media["id"] = str(int(sid) // 65_536 * 10 + i)
                # The thumbnail, never the photo: a crawler must not take it for the original.
                media["preview_url"] = re.sub(r"\.(\w+)$", r"_thumb.\1", media["url"])
        else:
            status["url"] = f"{base}/@{shop.handle}/statuses/{sid}"
            status["uri"] = f"{base}/users/{shop.handle}/statuses/{sid}"
            for i, media in enumerate(status["media_attachments"]):
                media["id"] = ulid(int(post.created_at.timestamp() * 1000), f"media-{post.n}-{i}")
        return status | post.raw
