"""One local HTTP server implementing the four APIs the crawler reads, in their documented shapes.

Routes (see ../shared/api-reference for the real services):
  Instagram  GET /{version}/{ig_user_id}?fields=business_discovery.username(X){…}&access_token=
  Mastodon   GET /api/v1/accounts/lookup?acct=  ·  GET /api/v1/accounts/{id}/statuses?…
  Bluesky    GET /xrpc/app.bsky.actor.getProfile  ·  GET /xrpc/app.bsky.feed.getAuthorFeed
  Shopify    GET /shopify/{store}/products.json?limit=&page=[&since_id=]
  Photos     GET /media/{network}/{key}.{ext}
Faults (crawler.emulator.faults.Faults) can be changed while it runs.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from crawler.emulator.catalogue import Catalogue, Post, Shop
from crawler.emulator.faults import Faults
from crawler.emulator.media import MediaRenderer

ACCESS_TOKEN = "emulator-token"
IG_USER_ID = "17841405309211844"
DEMO_PORT = 8765


def _iso_ms(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


class ApiError(Exception):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None):
        self.status, self.body, self.headers = status, body, headers or {}


class _Server(ThreadingHTTPServer):
    # The default backlog of 5 drops connections when a crawler opens dozens at once, and a
    # dropped SYN costs a 1 s TCP retransmit: the emulator would look slow for no real reason.
    request_queue_size = 512
    daemon_threads = True
    connections = 0  # accepted so far: how well the client reuses keep-alive connections

    def process_request(self, request: Any, client_address: Any) -> None:
        self.connections += 1  # the accept loop is one thread
        super().process_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client closing a kept-alive connection is normal, not worth a traceback.
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class EmulatorServer:
    """The emulator in a background thread: `with EmulatorServer() as emu: emu.base_url`."""

    def __init__(
        self,
        catalogue: Catalogue | None = None,
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        access_token: str = ACCESS_TOKEN,
        image_size: tuple[int, int] = (480, 600),
    ):
        self.catalogue = catalogue if catalogue is not None else Catalogue.demo()
        self.faults = faults or Faults()
        self.access_token = access_token
        self.media = MediaRenderer(self.catalogue.photos, image_size)
        self.requests: list[tuple[str, str, int]] = []  # (kind, path?query, status)
        self.counts: Counter[tuple[str, str]] = Counter()  # (network, handle) → API requests
        self.user_agents: set[str] = set()
        self.api_times: list[tuple[float, str]] = []  # (monotonic time, path) of API requests
        # Requests being answered now and the most at any one time, for "api" and "media":
        # what a client's concurrency limits should keep down.
        self.in_flight: Counter[str] = Counter()
        self.max_in_flight: Counter[str] = Counter()
        self._log_lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"emu": self})
        self.httpd = _Server((host, port), handler)
        self._thread: threading.Thread | None = None

    # ---- lifecycle -------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self.httpd.server_address[0]

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def connections(self) -> int:
        return self.httpd.connections

    def start(self) -> EmulatorServer:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, daemon=True, name="emulator"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    # ---- test helpers ----------------------------------------------------------------------

    def add_posts(
        self, network: str, handle: str, count: int = 1, photos_per_post: int = 1, **kw: Any
    ) -> list[Post]:
        return self.catalogue.add_posts(network, handle, count, photos_per_post, **kw)

    def reset_counts(self) -> None:
        with self._log_lock:
            self.requests.clear()
            self.api_times.clear()
            self.counts.clear()

    def api_requests(self, network: str | None = None, handle: str | None = None) -> int:
        return sum(
            n
            for (net, h), n in self.counts.items()
            if (network is None or net == network) and (handle is None or h == handle)
        )

    def media_requests(self) -> int:
        return sum(1 for kind, _, _ in self.requests if kind == "media")

    def shop_url(self, shop: Shop) -> str:
        """The `url` a [[shops]] entry needs: Mastodon instance or Shopify store base URL."""
        if shop.network == "mastodon":
            return self.base_url
        if shop.network == "shopify":
            return f"{self.base_url}/shopify/{shop.handle}"
        return ""

    def config_toml(self, port: int | None = None) -> str:
        """The config.toml fragment that points a Vitrina install at this emulator (or at one
        that will listen on `port`)."""
        if port is not None and port != self.port:
            return self.config_toml().replace(f"{self.host}:{self.port}", f"{self.host}:{port}")
        lines = [
            f"# Generated by `vitrina emulator --print-config` for {self.base_url}",
            "[crawler]",
            f'allowed_private_hosts = ["{self.host}:{self.port}"]',
            "",
            "[networks.instagram]",
            f'base_url = "{self.base_url}"',
            f'access_token = "{self.access_token}"',
            f'ig_user_id = "{IG_USER_ID}"',
            "",
            "[networks.bluesky]",
            f'base_url = "{self.base_url}"',
            "",
        ]
        for shop in self.catalogue.shops.values():
            lines += ["[[shops]]", f'network = "{shop.network}"', f'handle = "{shop.handle}"']
            if url := self.shop_url(shop):
                lines.append(f'url = "{url}"')
            lines += [f'name = "{shop.display_name}"', ""]
        return "\n".join(lines)

    def _log(self, kind: str, path: str, status: int, shop: tuple[str, str] | None) -> None:
        with self._log_lock:
            self.requests.append((kind, path, status))
            if kind == "api":
                self.api_times.append((time.monotonic(), path))
            if shop is not None:
                self.counts[shop] += 1

    # ---- URLs ------------------------------------------------------------------------------

    def photo_url(self, network: str, key: str) -> str:
        photo = self.catalogue.photos[key]
        if photo.url_override:
            return photo.url_override
        ext = "png" if photo.variant in ("png", "bomb") else "jpg"
        return f"{self.base_url}/media/{network}/{key}.{ext}"


# ---- per-network error bodies ---------------------------------------------------------------


def _rate_limited(emu: EmulatorServer, network: str) -> ApiError:
    f = emu.faults
    reset = datetime.now(UTC) + timedelta(seconds=f.rate_limit_reset)
    headers: dict[str, str] = {}
    if f.retry_after is not None:
        headers["Retry-After"] = f"{f.retry_after:g}"
    if network == "mastodon":
        headers |= {
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
        return ApiError(429, {"error": "Too many requests"}, headers)
    if network == "bluesky":
        headers |= {
            "RateLimit-Limit": "3000",
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(int(reset.timestamp()) + 1),
            "RateLimit-Policy": "3000;w=300",
        }
        return ApiError(
            429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, headers
        )
    if network == "instagram":
        headers["X-App-Usage"] = json.dumps(
            {"call_count": 100, "total_cputime": 12, "total_time": 20}
        )
        return _graph_error(
            403,
            "(#4) Application request limit reached",
            4,
            is_transient=True,
            fbtrace_id="EmuTrace4",
            headers=headers,
        )
    return ApiError(429, "<html><body>Too Many Requests</body></html>", headers)


def _graph_error(
    status: int, message: str, code: int, headers: dict[str, str] | None = None, **extra: Any
) -> ApiError:
    """A Graph API error body: {"error": {"message", "type": "OAuthException", "code", …}}."""
    body = {"message": message, "type": "OAuthException", "code": code, **extra}
    return ApiError(status, {"error": body}, headers)


def _server_error(network: str) -> ApiError:
    if network == "mastodon":
        return ApiError(503, {"error": "Remote data could not be fetched"})
    if network == "bluesky":
        return ApiError(500, {"error": "InternalServerError", "message": "Internal Server Error"})
    if network == "instagram":
        return _graph_error(
            500,
            "An unexpected error has occurred. Please retry your request later.",
            2,
            is_transient=True,
            fbtrace_id="EmuTrace2",
        )
    return ApiError(503, "<html><body>Service Unavailable</body></html>")


def _network_of(path: str) -> str:
    if path.startswith("/api/v1/"):
        return "mastodon"
    if path.startswith("/xrpc/"):
        return "bluesky"
    if path.startswith("/shopify/"):
        return "shopify"
    if path.startswith("/media/"):
        return "media"
    return "instagram"


class _Handler(BaseHTTPRequestHandler):
    emu: EmulatorServer
    protocol_version = "HTTP/1.1"  # keep-alive: the crawler reuses connections
    server_version = "VitrinaEmulator/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet by default
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        emu = self.emu
        kind = "media" if self.path.startswith("/media/") else "api"
        with emu._log_lock:
            emu.in_flight[kind] += 1
            emu.max_in_flight[kind] = max(emu.max_in_flight[kind], emu.in_flight[kind])
        try:
            self._get()
        finally:
            with emu._log_lock:
                emu.in_flight[kind] -= 1

    def _get(self) -> None:
        emu = self.emu
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        network = _network_of(parts.path)
        shop_key: tuple[str, str] | None = None
        emu.user_agents.add(self.headers.get("User-Agent", ""))
        f = emu.faults
        try:
            if f.latency_ms:
                time.sleep(f.latency_ms / 1000)
            if f.roll(f.slow_rate):
                time.sleep(f.slow_ms / 1000)
            if f.fails_first(self.path) or f.roll(f.error_rate):
                raise _server_error(network)
            if f.in_burst():
                raise _rate_limited(emu, network)
            if network == "media":
                return self._media(parts.path)
            handler = {
                "mastodon": self._mastodon,
                "bluesky": self._bluesky,
                "shopify": self._shopify,
                "instagram": self._instagram,
            }[network]
            shop_key, body, headers = handler(parts.path, query)
            text = json.dumps(body)
            if f.roll(f.malformed_rate) or (shop_key and shop_key[1] in f.malformed_handles):
                text = text[: max(1, len(text) // 2)]  # cut mid-document: not JSON any more
            self._send(200, text.encode(), "application/json; charset=utf-8", headers)
            emu._log("api", self.path, 200, shop_key)
        except ApiError as err:
            if isinstance(err.body, str):
                data, ctype = err.body.encode(), "text/html; charset=utf-8"
            else:
                data, ctype = json.dumps(err.body).encode(), "application/json; charset=utf-8"
            self._send(err.status, data, ctype, err.headers)
            emu._log(
                "media" if network == "media" else "api",
                self.path,
                err.status,
                shop_key or self._shop_of(network, parts.path, query),
            )
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _send(self, status: int, data: bytes, ctype: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _shop_of(self, network: str, path: str, query: dict[str, str]) -> tuple[str, str] | None:
        """Which shop an API request (even a failed one) was for, to count requests per shop."""
        cat = self.emu.catalogue
        if network == "shopify":
            return ("shopify", path.split("/")[2]) if path.count("/") >= 3 else None
        if network == "bluesky":
            actor = query.get("actor", "")
            for s in cat.shops.values():
                if s.network == "bluesky" and actor in (s.handle, s.account_id):
                    return ("bluesky", s.handle)
        if network == "mastodon":
            m = re.match(r"/api/v1/accounts/([^/]+)/statuses", path)
            for s in cat.shops.values():
                if s.network == "mastodon" and (
                    query.get("acct") == s.handle or (m and m.group(1) == s.account_id)
                ):
                    return ("mastodon", s.handle)
        if network == "instagram":
            m = re.search(r"username\(([^)]+)\)", query.get("fields", ""))
            if m:
                return ("instagram", m.group(1))
        return None

    # ---- photos ----------------------------------------------------------------------------

    def _media(self, path: str) -> None:
        key = path.rsplit("/", 1)[-1].split(".")[0]
        try:
            data, ctype = self.emu.media.render(key)
        except KeyError:
            raise ApiError(404, "<html><body>Not Found</body></html>") from None
        if self.emu.faults.photo_fails(key):
            raise _server_error("media")
        fault = self.emu.faults.photo_fault(key)
        if fault == "truncated":
            data = data[: len(data) // 2]
        elif fault == "corrupt":
            data, ctype = b"\x00garbage" * 64, "image/jpeg"
        self._send(200, data, ctype, {"Cache-Control": "public, max-age=31536000"})
        self.emu._log("media", path, 200, None)

    # ---- Mastodon --------------------------------------------------------------------------

    def _mastodon(self, path: str, q: dict[str, str]) -> tuple[Any, Any, dict[str, str]]:
        cat, emu = self.emu.catalogue, self.emu
        reset = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        rl = {
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "299",
            "X-RateLimit-Reset": reset,
        }
        if path == "/api/v1/accounts/lookup":
            acct = q.get("acct", "")
            if not acct:
                raise ApiError(400, {"error": "acct is missing"})
            shop = cat.shop("mastodon", acct.split("@")[0])
            if shop is None:
                raise ApiError(404, {"error": "Record not found"})
            return ("mastodon", shop.handle), self._mastodon_account(shop), rl
        m = re.fullmatch(r"/api/v1/accounts/([^/]+)/statuses", path)
        if not m:
            raise ApiError(404, {"error": "Record not found"})
        shop = next(
            (
                s
                for s in cat.shops.values()
                if s.network == "mastodon" and s.account_id == m.group(1)
            ),
            None,
        )
        if shop is None:
            raise ApiError(404, {"error": "Record not found"})
        limit = min(int(q.get("limit", 20)), 40)
        posts = (
            [p for p in shop.posts if p.photos]
            if q.get("only_media") in ("true", "1")
            else list(shop.posts)
        )
        if q.get("pinned") in ("true", "1"):
            posts = [p for p in posts if p.pinned]
        ids = {p.n: self._mastodon_id(p) for p in posts}
        if "max_id" in q:
            posts = [p for p in posts if int(ids[p.n]) < int(q["max_id"])]
        if "since_id" in q:
            posts = [p for p in posts if int(ids[p.n]) > int(q["since_id"])]
        if "min_id" in q:  # the page immediately newer than min_id, still newest first
            posts = [p for p in posts if int(ids[p.n]) > int(q["min_id"])][-limit:]
        page = posts[:limit]
        headers = dict(rl)
        carry = {
            k: q[k]
            for k in ("exclude_reblogs", "exclude_replies", "only_media", "pinned")
            if k in q
        }
        base = f"{emu.base_url}/api/v1/accounts/{shop.account_id}/statuses"
        links = []
        if len(page) == limit:
            nxt = urlencode(
                sorted({**carry, "limit": str(limit), "max_id": ids[page[-1].n]}.items())
            )
            links.append(f'<{base}?{nxt}>; rel="next"')
        if page:
            prev = urlencode(
                sorted({**carry, "limit": str(limit), "min_id": ids[page[0].n]}.items())
            )
            links.append(f'<{base}?{prev}>; rel="prev"')
        if links:
            headers["Link"] = ", ".join(links)
        account = self._mastodon_account(shop)
        return ("mastodon", shop.handle), [self._status(shop, p, account) for p in page], headers

    @staticmethod
    def _mastodon_id(post: Post) -> str:
        return str(110_000_000_000_000_000 + post.n * 65_536)

    def _mastodon_account(self, shop: Shop) -> dict[str, Any]:
        base = self.emu.base_url
        return {
            "id": shop.account_id,
            "username": shop.handle,
            "acct": shop.handle,
            "display_name": shop.display_name,
            "locked": False,
            "bot": False,
            "created_at": "2024-03-16T14:34:26.392Z",
            "note": f"<p>{shop.display_name}: small-batch clothing.</p>",
            "url": f"{base}/@{shop.handle}",
            "avatar": "",
            "header": "",
            "followers_count": 1200,
            "following_count": 80,
            "statuses_count": len(shop.posts),
            "last_status_at": None,
            "emojis": [],
            "fields": [],
        }

    def _status(self, shop: Shop, post: Post, account: dict[str, Any]) -> dict[str, Any]:
        sid = self._mastodon_id(post)
        media = []
        for i, ph in enumerate(post.photos):
            url = self.emu.photo_url("mastodon", ph.key)
            media.append(
                {
                    "id": f"{sid[-8:]}{i}",
                    "type": "image",
                    "url": url,
                    "preview_url": url,
                    "remote_url": None,
                    "meta": {"original": {"width": 480, "height": 600}},
                    "description": f"{ph.colour} {ph.category}",
                    "blurhash": None,
                }
            )
        return {
            "id": sid,
            "created_at": _iso_ms(post.created_at),
            "in_reply_to_id": None,
            "in_reply_to_account_id": None,
            "sensitive": False,
            "spoiler_text": "",
            "visibility": "public",
            "language": "en",
            "uri": f"{self.emu.base_url}/users/{shop.handle}/statuses/{sid}",
            "url": f"{self.emu.base_url}/@{shop.handle}/{sid}",
            "replies_count": 0,
            "reblogs_count": 0,
            "favourites_count": 3,
            "edited_at": None,
            "content": f"<p>{post.caption}</p>",
            "reblog": None,
            "account": account,
            "media_attachments": media,
            "mentions": [],
            "tags": [{"name": t, "url": ""} for t in post.tags],
            "emojis": [],
            "card": None,
            "poll": None,
            "pinned": post.pinned,
        } | post.raw

    # ---- Bluesky ---------------------------------------------------------------------------

    def _bluesky_shop(self, actor: str) -> Shop:
        for s in self.emu.catalogue.shops.values():
            if s.network == "bluesky" and actor in (s.handle, s.account_id):
                return s
        raise ApiError(400, {"error": "InvalidRequest", "message": "Profile not found"})

    def _bluesky(self, path: str, q: dict[str, str]) -> tuple[Any, Any, dict[str, str]]:
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
        if path != "/xrpc/app.bsky.feed.getAuthorFeed":
            raise ApiError(404, {"error": "XRPCNotSupported", "message": "XRPCNotSupported"})
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
        views, blobs = [], []
        for ph in post.photos:
            url = self.emu.photo_url("bluesky", ph.key)
            views.append(
                {
                    "thumb": url,
                    "fullsize": url,
                    "alt": f"{ph.colour} {ph.category}",
                    "aspectRatio": {"width": 480, "height": 600},
                }
            )
            blobs.append(
                {
                    "alt": f"{ph.colour} {ph.category}",
                    "image": {
                        "$type": "blob",
                        "ref": {"$link": f"bafkrei{ph.key}"},
                        "mimeType": "image/jpeg",
                        "size": 50_000,
                    },
                }
            )
        created = _iso_ms(post.created_at)
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
                "langs": ["en"],
            },
            "embed": embed,
            "replyCount": 0,
            "repostCount": 1,
            "likeCount": 7,
            "quoteCount": 0,
            "indexedAt": created,
            "labels": [],
        } | post.raw

    # ---- Instagram -------------------------------------------------------------------------

    def _instagram(self, path: str, q: dict[str, str]) -> tuple[Any, Any, dict[str, str]]:
        emu = self.emu
        m = re.fullmatch(r"/(v\d+\.\d+)/(\d+)", path)
        if not m:
            raise _graph_error(400, "Unknown path components", 2500)
        if q.get("access_token") != emu.access_token:
            raise _graph_error(
                400,
                "Error validating access token: Session has expired.",
                190,
                error_subcode=463,
                fbtrace_id="EmuTrace190",
            )
        if m.group(2) != IG_USER_ID:
            raise _graph_error(400, "Invalid user id", 110, error_subcode=2207013)
        fields = q.get("fields", "")
        um = re.search(r"business_discovery\.username\(([^)]*)\)", fields)
        if not um:
            raise _graph_error(400, "(#100) Tried accessing nonexisting field", 100)
        shop = emu.catalogue.shop("instagram", um.group(1))
        if shop is None:
            raise _graph_error(
                400,
                "Invalid user id",
                110,
                error_subcode=2207013,
                is_transient=False,
                error_user_title="Cannot find User",
                error_user_msg=f"The user with username: {um.group(1)} cannot be found.",
                fbtrace_id="EmuTrace110",
            )
        bd: dict[str, Any] = {
            "id": shop.account_id,
            "username": shop.handle,
            "name": shop.display_name,
            "followers_count": 2100,
            "media_count": len(shop.posts),
        }
        mm = re.search(r"media((?:\.(?:after|limit|before)\([^)]*\))*)\{", fields)
        if mm:
            mods = dict(re.findall(r"\.(after|limit|before)\(([^)]*)\)", mm.group(1)))
            limit = min(int(mods.get("limit", 25)), 100)
            posts = list(shop.posts)
            if "after" in mods:
                n = int(mods["after"].removeprefix("QVFI"), 16)
                posts = [p for p in posts if p.n < n]
            page = posts[:limit]
            media: dict[str, Any] = {"data": [self._ig_media(shop, p) for p in page]}
            if page:
                cursors = {"before": f"QVFI{page[0].n:x}"}
                if len(posts) > limit:
                    cursors["after"] = f"QVFI{page[-1].n:x}"
                media["paging"] = {"cursors": cursors}
            bd["media"] = media
        usage = {
            "call_count": min(99, emu.api_requests("instagram") // 10),
            "total_cputime": 1,
            "total_time": 2,
        }
        headers = {
            "facebook-api-version": m.group(1),
            "X-App-Usage": json.dumps(usage),
            "x-fb-trace-id": "EmuTrace",
        }
        return ("instagram", shop.handle), {"business_discovery": bd, "id": IG_USER_ID}, headers

    def _ig_media(self, shop: Shop, post: Post) -> dict[str, Any]:
        mid = str(17_850_000_000_000_000 + post.n)
        item: dict[str, Any] = {
            "id": mid,
            "caption": post.caption,
            "media_product_type": "FEED",
            "permalink": f"https://www.instagram.com/p/EMU{post.n:08d}/",
            "shortcode": f"EMU{post.n:08d}",
            "timestamp": post.created_at.strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "username": shop.handle,
            "comments_count": 2,
            "like_count": 40,
        }
        urls = [self.emu.photo_url("instagram", ph.key) for ph in post.photos]
        if len(urls) == 1:
            item |= {"media_type": "IMAGE", "media_url": urls[0]}
        elif urls:
            item |= {
                "media_type": "CAROUSEL_ALBUM",
                "media_url": urls[0],
                "children": {
                    "data": [
                        {"id": f"{mid}{i}", "media_type": "IMAGE", "media_url": u}
                        for i, u in enumerate(urls)
                    ]
                },
            }
        else:
            item |= {"media_type": "VIDEO", "thumbnail_url": ""}
        return item | post.raw

    # ---- Shopify ---------------------------------------------------------------------------

    def _shopify(self, path: str, q: dict[str, str]) -> tuple[Any, Any, dict[str, str]]:
        m = re.fullmatch(r"/shopify/([^/]+)/products\.json", path)
        shop = self.emu.catalogue.shop("shopify", m.group(1)) if m else None
        if shop is None:
            raise ApiError(404, "<html><body><h1>404 Not Found</h1></body></html>")
        limit = min(int(q.get("limit", 30)), 250)
        page_no = int(q.get("page", 1))
        if page_no * limit > 25_000:
            raise ApiError(400, {"errors": "Page * Limit exceeds the 25000 limit."})
        if "since_id" in q:  # ascending ids above since_id, as the Admin API does
            since = int(q["since_id"])
            posts = sorted(
                (p for p in shop.posts if self._product_id(p) > since), key=lambda p: p.n
            )
        else:
            posts = list(shop.posts)
        page = posts[(page_no - 1) * limit : page_no * limit]
        return ("shopify", shop.handle), {"products": [self._product(shop, p) for p in page]}, {}

    @staticmethod
    def _product_id(post: Post) -> int:
        return 8_000_000_000_000 + post.n

    def _product(self, shop: Shop, post: Post) -> dict[str, Any]:
        pid = self._product_id(post)
        ts = post.created_at.astimezone().isoformat(timespec="seconds")
        colour = post.photos[0].colour.title() if post.photos else "Natural"
        images = [
            {
                "id": pid * 10 + i,
                "created_at": ts,
                "position": i + 1,
                "updated_at": ts,
                "product_id": pid,
                "variant_ids": [],
                "src": self.emu.photo_url("shopify", ph.key),
                "width": 480,
                "height": 600,
            }
            for i, ph in enumerate(post.photos)
        ]
        variants = [
            {
                "id": pid * 100 + i,
                "title": f"{colour} / {size}",
                "option1": colour,
                "option2": size,
                "option3": None,
                "sku": f"SKU-{post.n}-{size}",
                "requires_shipping": True,
                "taxable": True,
                "featured_image": None,
                "available": True,
                "price": post.price,
                "grams": 400,
                "compare_at_price": None,
                "position": i,
                "product_id": pid,
                "created_at": ts,
                "updated_at": ts,
            }
            for i, size in enumerate(("S", "M", "L"))
        ]
        return {
            "id": pid,
            "title": post.title,
            "handle": f"product-{post.n}",
            "body_html": f"<p>{post.caption}</p>",
            "published_at": ts,
            "created_at": ts,
            "updated_at": ts,
            "vendor": shop.vendor,
            "product_type": post.product_type,
            "tags": post.tags,
            "variants": variants,
            "images": images,
            "options": [
                {"name": "Colour", "position": 1, "values": [colour]},
                {"name": "Size", "position": 2, "values": ["S", "M", "L"]},
            ],
        } | post.raw
