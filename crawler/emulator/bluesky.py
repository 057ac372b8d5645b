"""The Bluesky part of the emulator: AppView reads, identity, blobs and sessions (XRPC).

A mixin of the emulator's request handler: `self.emu` is the EmulatorServer.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import TYPE_CHECKING, Any

from crawler.emulator.catalogue import Post, Shop
from crawler.emulator.common import ApiError, iso_ms, xrpc_error

if TYPE_CHECKING:
    from crawler.emulator.server import EmulatorServer

# `com.atproto.server.createSession` accepts any emulated Bluesky shop with this app password.
APP_PASSWORD = "emul-ator-app-pass"


def blob_cid(data: bytes) -> str:
    """CIDv1 of raw bytes: version 1, codec raw (0x55), sha2-256 multihash, base32 ("bafkrei…")."""
    digest = hashlib.sha256(data).digest()
    return "b" + base64.b32encode(bytes([1, 0x55, 0x12, 0x20]) + digest).decode().lower().rstrip(
        "="
    )


def _tag_facets(text: str) -> list[dict[str, Any]]:
    """Bluesky rich-text facets for the hashtags of a post's text (UTF-8 byte offsets)."""
    facets = []
    for m in re.finditer(r"#(\w+)", text):
        start = len(text[: m.start()].encode())
        facets.append(
            {
                "index": {"byteStart": start, "byteEnd": start + len(m.group(0).encode())},
                "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": m.group(1)}],
            }
        )
    return facets


class BlueskyApi:
    emu: EmulatorServer

    def _create_session(self, raw: bytes) -> dict[str, Any]:
        try:
            args = json.loads(raw or b"null")
        except ValueError:
            raise xrpc_error(400, "InvalidRequest", "Request body is not JSON") from None
        if not isinstance(args, dict) or not args.get("identifier") or "password" not in args:
            raise xrpc_error(
                400, "InvalidRequest", 'Input must have the properties "identifier", "password"'
            )
        ident = str(args["identifier"])
        shop = next(
            (
                s
                for s in self.emu.catalogue.shops.values()
                if s.network == "bluesky" and ident in (s.handle, s.account_id)
            ),
            None,
        )
        if shop is None or args["password"] != APP_PASSWORD:
            raise xrpc_error(401, "AuthenticationRequired", "Invalid identifier or password")

        def jwt(scope: str) -> str:
            head = base64.urlsafe_b64encode(b'{"typ":"at+jwt","alg":"ES256K"}').rstrip(b"=")
            claims = json.dumps({"scope": scope, "sub": shop.account_id, "aud": "did:web:emu"})
            payload = base64.urlsafe_b64encode(claims.encode()).rstrip(b"=")
            sig = base64.urlsafe_b64encode(hashlib.sha256(payload).digest()).rstrip(b"=")
            return b".".join((head, payload, sig)).decode()

        return {
            "did": shop.account_id,
            "handle": shop.handle,
            "email": f"{shop.handle.split('.')[0]}@shop.example",
            "emailConfirmed": True,
            "accessJwt": jwt("com.atproto.appPass"),
            "refreshJwt": jwt("com.atproto.refresh"),
            "active": True,
            "didDoc": self._did_doc(shop),
        }

    def _bluesky_shop(self, actor: str) -> Shop:
        for s in self.emu.catalogue.shops.values():
            if s.network == "bluesky" and actor in (s.handle, s.account_id):
                return s
        raise ApiError(400, {"error": "InvalidRequest", "message": "Profile not found"})

    def _did_doc(self, shop: Shop) -> dict[str, Any]:
        """The DID document plc.directory serves for a did:plc (its PDS: this emulator)."""
        key = hashlib.sha256(shop.account_id.encode()).hexdigest()[:44]
        return {
            "@context": [
                "https://www.w3.org/ns/did/v1",
                "https://w3id.org/security/multikey/v1",
                "https://w3id.org/security/suites/secp256k1-2019/v1",
            ],
            "id": shop.account_id,
            "alsoKnownAs": [f"at://{shop.handle}"],
            "verificationMethod": [
                {
                    "id": f"{shop.account_id}#atproto",
                    "type": "Multikey",
                    "controller": shop.account_id,
                    "publicKeyMultibase": f"zQ3sh{key}",
                }
            ],
            "service": [
                {
                    "id": "#atproto_pds",
                    "type": "AtprotoPersonalDataServer",
                    "serviceEndpoint": self.emu.base_url,
                }
            ],
        }

    def _bluesky(self, path: str, q: dict[str, str]) -> tuple[Any, Any, dict[str, str]]:
        shops = [s for s in self.emu.catalogue.shops.values() if s.network == "bluesky"]
        if path.startswith("/did:"):  # plc.directory: GET /{did}
            did = path[1:]
            shop = next((s for s in shops if s.account_id == did), None)
            if shop is None:
                raise ApiError(404, {"message": f"DID not registered: {did}"})
            return ("bluesky", shop.handle), self._did_doc(shop), {}
        if path == "/.well-known/did.json":  # did:web of this service (the AppView's own)
            host = f"{self.emu.host}:{self.emu.port}"
            did = f"did:web:{host.replace(':', '%3A')}"
            return (
                None,
                {
                    "@context": ["https://www.w3.org/ns/did/v1"],
                    "id": did,
                    "service": [
                        {
                            "id": "#bsky_appview",
                            "type": "BskyAppView",
                            "serviceEndpoint": self.emu.base_url,
                        }
                    ],
                },
                {},
            )
        if path.startswith("/.well-known/"):
            raise ApiError(404, {"error": "NotFound", "message": "Not Found"})
        if path == "/xrpc/com.atproto.identity.resolveHandle":
            handle = q.get("handle", "")
            if not handle:
                raise xrpc_error(
                    400, "InvalidRequest", 'Error: Params must have the property "handle"'
                )
            shop = next((s for s in shops if s.handle == handle.lower()), None)
            if shop is None:
                raise xrpc_error(400, "InvalidRequest", "Unable to resolve handle")
            return ("bluesky", shop.handle), {"did": shop.account_id}, {}
        if path == "/xrpc/app.bsky.actor.getProfile":
            shop = self._bluesky_shop(q.get("actor", ""))
            body = {
                "did": shop.account_id,
                "handle": shop.handle,
                "displayName": shop.display_name,
                "description": "Knitwear, made slowly.",
                "followersCount": 800,
                "followsCount": 12,
                "postsCount": len(shop.posts),
                "labels": [],
                "createdAt": "2024-04-12T04:53:57.057Z",
                "indexedAt": "2025-01-01T00:00:00.000Z",
            }
            pinned = next((p for p in shop.posts if p.pinned), None)
            if pinned:
                body["pinnedPost"] = {
                    "uri": self._bsky_uri(shop, pinned),
                    "cid": self._bsky_cid(pinned),
                }
            return ("bluesky", shop.handle), body, {}
        if path == "/xrpc/com.atproto.server.createSession":
            raise xrpc_error(
                400, "InvalidRequest", "Incorrect HTTP method (GET) expected POST for procedure"
            )
        if path != "/xrpc/app.bsky.feed.getAuthorFeed":
            raise xrpc_error(501, "MethodNotImplemented", "Method Not Implemented")
        shop = self._bluesky_shop(q.get("actor", ""))
        limit = int(q.get("limit", 50))
        if not 1 <= limit <= 100:
            raise ApiError(
                400, {"error": "InvalidRequest", "message": "limit must be between 1 and 100"}
            )
        posts = [p for p in shop.posts if p.photos]
        if cursor := q.get("cursor"):
            n = int(cursor.split("__")[1], 36)
            posts = [p for p in posts if p.n < n]
        page = posts[:limit]
        feed = [{"post": self._bsky_post(shop, p)} for p in page]
        if q.get("includePins") == "true" and not cursor:
            pinned = next((p for p in shop.posts if p.pinned), None)
            if pinned:
                # As the AppView does: the pinned post goes first, whatever the filter, and
                # leaves its own place on this page (a later page still shows it there).
                uri = self._bsky_uri(shop, pinned)
                feed = [f for f in feed if f["post"]["uri"] != uri]
                feed.insert(
                    0,
                    {
                        "post": self._bsky_post(shop, pinned),
                        "reason": {"$type": "app.bsky.feed.defs#reasonPin"},
                    },
                )
        body: dict[str, Any] = {"feed": feed}
        if len(page) == limit:
            last = page[-1]
            body["cursor"] = f"{int(last.created_at.timestamp() * 1000)}__{self._b36(last.n)}"
        return ("bluesky", shop.handle), body, {}

    @staticmethod
    def _b36(n: int) -> str:
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"
        out = ""
        while True:
            n, r = divmod(n, 36)
            out = digits[r] + out
            if n == 0:
                return out

    def _bsky_uri(self, shop: Shop, post: Post) -> str:
        return f"at://{shop.account_id}/app.bsky.feed.post/3l{self._b36(post.n).rjust(11, '0')}"

    @staticmethod
    def _bsky_cid(post: Post) -> str:
        return f"bafyreiemu{post.n:020d}"

    def _bsky_post(self, shop: Shop, post: Post) -> dict[str, Any]:
        did = shop.account_id
        alts = post.words.alts if post.words else []
        views, blobs = [], []
        for i, ph in enumerate(post.photos):
            info = self.emu.photo_info(ph.key)
            alt = alts[i] if i < len(alts) else ""
            ratio = {"width": info.width, "height": info.height}
            views.append(
                {
                    "thumb": self.emu.bluesky_image_url(did, ph.key, "feed_thumbnail"),
                    "fullsize": self.emu.bluesky_image_url(did, ph.key),
                    "alt": alt,
                    "aspectRatio": ratio,
                }
            )
            blobs.append(
                {
                    "alt": alt,
                    "image": {
                        "$type": "blob",
                        "ref": {"$link": info.cid},
                        "mimeType": info.mime,
                        "size": info.size,
                    },
                    "aspectRatio": ratio,
                }
            )
        created = iso_ms(post.created_at)
        images_view = {"$type": "app.bsky.embed.images#view", "images": views}
        record_embed: dict[str, Any] = {"$type": "app.bsky.embed.images", "images": blobs}
        embed: dict[str, Any] = images_view
        if post.n % 5 == 0:  # a quote post with images: the images sit under `media`
            quoted = {
                "$type": "app.bsky.embed.record#viewRecord",
                "uri": f"at://{did}/app.bsky.feed.post/3lquoted",
                "cid": "bafyreiquoted",
                "author": {"did": did, "handle": shop.handle},
                "value": {
                    "$type": "app.bsky.feed.post",
                    "createdAt": created,
                    "text": "Restocked!",
                },
                "indexedAt": created,
                "embeds": [],
            }
            embed = {
                "$type": "app.bsky.embed.recordWithMedia#view",
                "record": {"record": quoted},
                "media": images_view,
            }
            record_embed = {
                "$type": "app.bsky.embed.recordWithMedia",
                "record": {"record": {"uri": quoted["uri"], "cid": quoted["cid"]}},
                "media": record_embed,
            }
        return {
            "uri": self._bsky_uri(shop, post),
            "cid": self._bsky_cid(post),
            "author": {
                "did": did,
                "handle": shop.handle,
                "displayName": shop.display_name,
                "labels": [],
            },
            "record": {
                "$type": "app.bsky.feed.post",
                "createdAt": created,
                "text": post.caption,
                "embed": record_embed,
                "langs": [post.words.lang if post.words else "en"],
                **({"facets": facets} if (facets := _tag_facets(post.caption)) else {}),
            },
            "embed": embed,
            "replyCount": 0,
            "repostCount": 1,
            "likeCount": 7,
            "quoteCount": 0,
            "indexedAt": created,
            "labels": [],
        } | post.raw
