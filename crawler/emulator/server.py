"""One local HTTP server implementing the four APIs the crawler reads, in their documented shapes.

Routes (the real services' APIs as docs/crawling.md describes them):
  Instagram  GET /{version}/{ig_user_id}?fields=business_discovery.username(X){…}&access_token=
  Mastodon   GET /api/v1/accounts/lookup?acct=  ·  GET /api/v1/accounts/{id}/statuses?…
             (`flavour="pixelfed"` / `"gotosocial"`: those servers' way, see emulator/fediverse.py;
             nodeinfo and /api/v1/instance in every flavour)
  Bluesky    GET /xrpc/app.bsky.actor.getProfile  ·  GET /xrpc/app.bsky.feed.getAuthorFeed
             GET /xrpc/com.atproto.identity.resolveHandle  ·  POST com.atproto.server.createSession
             GET /xrpc/com.atproto.sync.getBlob?did=&cid=  ·  GET /img/{kind}/plain/{did}/{cid}@jpeg
             GET /{did:plc:…} (plc.directory)  ·  GET /.well-known/did.json; anything else: an
             XRPC JSON error ({"error", "message"}), 501 MethodNotImplemented
  Shopify    GET /shopify/{store}/products.json?limit=&page=[&since_id=]
             GET /shopify/{store}/meta.json (the store name)
  Photos     GET /media/{network}/{key}.{ext}
Faults (crawler.emulator.faults.Faults) can be changed while it runs. Stated image sizes, blob
sizes and CIDs are measured on the bytes served; sockets set TCP_NODELAY (see _Handler.setup).
"""

from __future__ import annotations

import io
import json
import re
import socket
import socketserver
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from PIL import Image

from crawler.emulator.bluesky import BlueskyApi, blob_cid
from crawler.emulator.captions import mastodon_html
from crawler.emulator.catalogue import Catalogue, Post, Shop
from crawler.emulator.common import ApiError, iso_ms, xrpc_error
from crawler.emulator.faults import Faults
from crawler.emulator.fediverse import FLAVOURS, FediverseApi, is_flavoured_path
from crawler.emulator.media import MediaRenderer

ACCESS_TOKEN = "emulator-token"
IG_USER_ID = "17841405309211844"
DEMO_PORT = 8765


@dataclass(frozen=True)
class PhotoInfo:
    """What an API states about a photo, measured on the bytes the emulator serves for it."""

    width: int
    height: int
    size: int  # bytes
    mime: str
    cid: str  # the blob's CIDv1 (raw, sha256), as Bluesky names blobs


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
        flavour: str = "mastodon",
        tls_context: ssl.SSLContext | None = None,
    ):
        if flavour not in FLAVOURS:
            raise ValueError(f"unknown flavour {flavour!r}: expected one of {', '.join(FLAVOURS)}")
        # The server software the Mastodon API is served as (one per emulator, as per host).
        self.flavour = flavour
        self.catalogue = catalogue if catalogue is not None else Catalogue.demo()
        self.faults = faults or Faults()
        self.access_token = access_token
        # With a TLS context the emulator is also an HTTPS proxy: a client that hard-codes
        # https://api.bsky.app or https://plc.directory (gallery-dl) reaches it by CONNECT.
        self.tls_context = tls_context
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
        self._info: dict[tuple[str, str], PhotoInfo] = {}
        self.blobs: dict[str, str] = {}  # Bluesky blob CID → photo key
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
        if self.flavour != "mastodon":  # these servers answer only with a token
            lines += [
                f"[networks.mastodon.instances.emulator_{self.flavour}]",
                f'url = "{self.base_url}"',
                f'access_token = "{self.access_token}"',
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

    def bluesky_image_url(self, did: str, key: str, kind: str = "feed_fullsize") -> str:
        """The CDN URL Bluesky's AppView gives for a blob: /img/{kind}/plain/{did}/{cid}@{ext}."""
        photo = self.catalogue.photos[key]
        if photo.url_override:
            return photo.url_override
        info = self.photo_info(key)
        ext = "png" if info.mime == "image/png" else "jpeg"
        return f"{self.base_url}/img/{kind}/plain/{did}/{info.cid}@{ext}"

    def served(self, key: str) -> tuple[bytes, str]:
        """The bytes and content type a photo is served as, its fixed per-photo faults
        (a broken upload stays broken) applied. KeyError if unknown."""
        data, ctype = self.media.render(key)
        fault = self.faults.photo_fault(key)
        if fault == "truncated":
            data = data[: len(data) // 2]
        elif fault == "corrupt":
            data, ctype = b"\x00garbage" * 64, "image/jpeg"
        return data, ctype

    def photo_dims(self, key: str) -> tuple[int, int]:
        """(width, height) of the served photo; without rendering it where the size is known
        (a drawn garment is drawn at the renderer's size), so big listings stay quick."""
        photo = self.catalogue.photos[key]
        if photo.variant == "copy":
            return self.photo_dims(photo.of)
        if photo.variant in ("plain", "png") and not self.faults.photo_fault(key):
            if not photo.real_path:
                return self.media.size
            with Image.open(photo.real_path) as im:
                return im.size
        info = self.photo_info(key)
        return info.width, info.height

    def photo_info(self, key: str) -> PhotoInfo:
        """Width, height, byte size and CID of what is served for a photo (measured, cached)."""
        fault = self.faults.photo_fault(key)  # faults may change while the emulator runs
        info = self._info.get((key, fault))
        if info is None:
            data, ctype = self.served(key)
            width, height = self.media.size
            try:
                with Image.open(io.BytesIO(data)) as im:  # reads the header only
                    width, height = im.size
            except (OSError, ValueError, Image.DecompressionBombError):
                pass  # not an image: the size the upload claimed
            info = PhotoInfo(width, height, len(data), ctype, blob_cid(data))
            self._info[(key, fault)] = info
            self.blobs[info.cid] = key
        return info


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
    if path.startswith("/api/v1/") or is_flavoured_path(path):
        return "mastodon"
    if path.startswith(("/media/", "/img/", "/xrpc/com.atproto.sync.getBlob")):
        return "media"
    if path.startswith(("/xrpc/", "/did:", "/.well-known/")):
        return "bluesky"
    if path.startswith("/shopify/"):
        return "shopify"
    return "instagram"


class _Handler(BlueskyApi, FediverseApi, BaseHTTPRequestHandler):
    emu: EmulatorServer
    protocol_version = "HTTP/1.1"  # keep-alive: the crawler reuses connections
    server_version = "VitrinaEmulator/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet by default
        pass

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; with Nagle's algorithm the body waits
        # for the client's delayed ACK (~40 ms) on every reply of a kept-alive connection.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._counted(self._get)

    def do_POST(self) -> None:  # noqa: N802
        self._counted(self._post)

    def do_CONNECT(self) -> None:  # noqa: N802
        """An HTTPS proxy's tunnel, answered by this emulator itself over TLS (its routes are
        told apart by path, whichever host the client thinks it is talking to)."""
        ctx = self.emu.tls_context
        if ctx is None or not self.path.endswith(":443"):
            self._send(405, b"CONNECT is not enabled", "text/plain", {"Connection": "close"})
            self.close_connection = True
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        self.connection = ctx.wrap_socket(self.connection, server_side=True)
        self.rfile = self.connection.makefile("rb", self.rbufsize)
        self.wfile = socketserver._SocketWriter(self.connection)  # type: ignore[attr-defined]
        self.close_connection = False  # http.client tunnels with "CONNECT … HTTP/1.0"

    def _counted(self, answer: Any) -> None:
        emu = self.emu
        kind = "media" if _network_of(urlsplit(self.path).path) == "media" else "api"
        with emu._log_lock:
            emu.in_flight[kind] += 1
            emu.max_in_flight[kind] = max(emu.max_in_flight[kind], emu.in_flight[kind])
        self._in_flight_kind: str | None = kind
        try:
            answer()
        finally:
            self._uncount()

    def _uncount(self) -> None:
        """The request stops counting as in flight just before its answer is written: once the
        client has the answer it may send the next one, and this thread, descheduled between
        its write and a decrement after it, would count one request too many."""
        kind, self._in_flight_kind = getattr(self, "_in_flight_kind", None), None
        if kind is not None:
            with self.emu._log_lock:
                self.emu.in_flight[kind] -= 1

    def _post(self) -> None:
        """Only Bluesky's XRPC procedures; anything else is refused in its network's style."""
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        network = _network_of(parts.path)
        try:
            if network != "bluesky":
                raise ApiError(405, {"error": "Method not allowed"})
            if parts.path != "/xrpc/com.atproto.server.createSession":
                raise xrpc_error(501, "MethodNotImplemented", "Method Not Implemented")
            body = self._create_session(raw)
            self._send(200, json.dumps(body).encode(), "application/json; charset=utf-8", {})
            self.emu._log("api", parts.path, 200, ("bluesky", body["handle"]))
        except ApiError as err:
            self._send_error(err)
            self.emu._log("api", parts.path, err.status, None)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _send_error(self, err: ApiError) -> None:
        if isinstance(err.body, str):
            data, ctype = err.body.encode(), "text/html; charset=utf-8"
        else:
            data, ctype = json.dumps(err.body).encode(), "application/json; charset=utf-8"
        self._send(err.status, data, ctype, err.headers)

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
                return self._media(parts.path, query)
            handler = {
                "mastodon": self._fediverse
                if emu.flavour != "mastodon"
                or is_flavoured_path(parts.path)
                or parts.path == "/api/v1/instance"
                else self._mastodon,
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
            self._send_error(err)
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
        self._uncount()
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
                    query.get("acct") == s.handle
                    or query.get("q") == s.handle
                    or (m and m.group(1) in (s.account_id, self._flavour_account_id(s)))
                ):
                    return ("mastodon", s.handle)
        if network == "instagram":
            m = re.search(r"username\(([^)]+)\)", query.get("fields", ""))
            if m:
                return ("instagram", m.group(1))
        return None

    # ---- photos ----------------------------------------------------------------------------

    def _media(self, path: str, query: dict[str, str]) -> None:
        """/media/{network}/{key}.{ext}; Bluesky's CDN /img/{kind}/plain/{did}/{cid}@{ext};
        com.atproto.sync.getBlob?did=&cid= (the blob's bytes, as the PDS stores them)."""
        emu = self.emu
        if path == "/xrpc/com.atproto.sync.getBlob":
            did, cid = query.get("did", ""), query.get("cid", "")
            if not did or not cid:
                raise xrpc_error(400, "InvalidRequest", 'Params must have "did" and "cid"')
            if not any(s.account_id == did for s in emu.catalogue.shops.values()):
                raise xrpc_error(400, "RepoNotFound", f"Could not find repo for DID: {did}")
            if cid not in emu.blobs:
                raise xrpc_error(400, "BlobNotFound", "Blob not found")
            key = emu.blobs[cid]
        elif path.startswith("/img/"):
            cid = path.rsplit("/", 1)[-1].split("@")[0]
            if cid not in emu.blobs:
                raise ApiError(404, "<html><body>Not Found</body></html>")
            key = emu.blobs[cid]
        else:
            key = path.rsplit("/", 1)[-1].split(".")[0]
        try:
            data, ctype = emu.served(key)
        except KeyError:
            raise ApiError(404, "<html><body>Not Found</body></html>") from None
        if emu.faults.photo_fails(key):
            raise _server_error("media")
        self._send(200, data, ctype, {"Cache-Control": "public, max-age=31536000"})
        emu._log("media", path, 200, None)

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
        base = self.emu.base_url
        words = post.words
        alts = words.alts if words else []
        media = []
        for i, ph in enumerate(post.photos):
            url = self.emu.photo_url("mastodon", ph.key)
            width, height = self.emu.photo_dims(ph.key)
            dims = {
                "width": width,
                "height": height,
                "size": f"{width}x{height}",
                "aspect": round(width / max(1, height), 6),
            }
            media.append(
                {
                    "id": f"{sid[-8:]}{i}",
                    "type": "image",
                    "url": url,
                    "preview_url": url,
                    "remote_url": None,
                    "preview_remote_url": None,
                    "text_url": None,
                    "meta": {"original": dims, "small": dims},
                    "description": (alts[i] if i < len(alts) else "") or None,
                    "blurhash": None,
                }
            )
        hashtags = dict.fromkeys(t.lower() for t in (words.hashtags if words else []))
        return {
            "id": sid,
            "created_at": iso_ms(post.created_at),
            "in_reply_to_id": None,
            "in_reply_to_account_id": None,
            "sensitive": False,
            "spoiler_text": "",
            "visibility": "public",
            "language": words.lang if words else "en",
            "uri": f"{base}/users/{shop.handle}/statuses/{sid}",
            "url": f"{base}/@{shop.handle}/{sid}",
            "replies_count": 0,
            "reblogs_count": 0,
            "favourites_count": 3,
            "edited_at": None,
            "content": mastodon_html(post.caption, base, words.link if words else ""),
            "reblog": None,
            "account": account,
            "media_attachments": media,
            "mentions": [],
            "tags": [{"name": t, "url": f"{base}/tags/{t}"} for t in hashtags],
            "emojis": [],
            "card": None,
            "poll": None,
            "pinned": post.pinned,
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
        meta = re.fullmatch(r"/shopify/([^/]+)/meta\.json", path)
        m = meta or re.fullmatch(r"/shopify/([^/]+)/products\.json", path)
        shop = self.emu.catalogue.shop("shopify", m.group(1)) if m else None
        if shop is None:
            raise ApiError(404, "<html><body><h1>404 Not Found</h1></body></html>")
        if meta:  # the storefront's /meta.json: the store's name as its owner wrote it
            body = {"name": shop.display_name, "myshopify_domain": f"{shop.handle}.myshopify.com"}
            return ("shopify", shop.handle), body, {}
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
        words = post.words
        images = []
        for i, ph in enumerate(post.photos):
            width, height = self.emu.photo_dims(ph.key)
            images.append(
                {
                    "id": pid * 10 + i,
                    "created_at": ts,
                    "position": i + 1,
                    "updated_at": ts,
                    "product_id": pid,
                    "variant_ids": [],
                    "src": self.emu.photo_url("shopify", ph.key),
                    "width": width,
                    "height": height,
                }
            )
        sizes = ("S", "M", "L")
        colours = words.colour_values if words and words.colour_option else []
        combos: list[tuple[str, ...]] = (
            [(c, size) for c in colours for size in sizes] if colours else [(s,) for s in sizes]
        )
        variants = [
            {
                "id": pid * 100 + i,
                "title": " / ".join(combo),
                "option1": combo[0],
                "option2": combo[1] if len(combo) > 1 else None,
                "option3": None,
                "sku": f"SKU-{post.n}-{'-'.join(combo)}",
                "requires_shipping": True,
                "taxable": True,
                "featured_image": None,
                "available": True,
                "price": post.price,
                "grams": 400,
                "compare_at_price": None,
                "position": i + 1,
                "product_id": pid,
                "created_at": ts,
                "updated_at": ts,
            }
            for i, combo in enumerate(combos)
        ]
        options = [{"name": "Size", "position": 1, "values": list(sizes)}]
        if colours and words:
            options = [
                {"name": words.colour_option, "position": 1, "values": colours},
                {"name": "Size", "position": 2, "values": list(sizes)},
            ]
        return {
            "id": pid,
            "title": post.title,
            "handle": f"product-{post.n}",
            "body_html": words.body_html if words else f"<p>{post.caption}</p>",
            "published_at": ts,
            "created_at": ts,
            "updated_at": ts,
            "vendor": shop.vendor,
            "product_type": post.product_type,
            "tags": post.tags,
            "variants": variants,
            "images": images,
            "options": options,
        } | post.raw
