"""Web benchmark: a 100,000-photo SQLite catalogue under 16 concurrent clients, against Datasette
serving the same file, and (optionally) 1,000,000 photos on PostgreSQL.

    .venv/bin/python -m benchmarks.web_bench                 # SQLite, 100k photos, vs Datasette
    .venv/bin/python -m benchmarks.web_bench --postgres      # also 1M photos on PostgreSQL
    .venv/bin/python -m benchmarks.web_bench --mixed --skip-plain [--postgres]
        # 16 shoppers browsing with filters while 2 moderators decide a photo a second through
        # the API: targeted invalidation vs the global one (baseline), same run

Each scenario runs for --seconds after a warm-up; the client is a minimal keep-alive HTTP/1.1
loop (asyncio streams) so that it takes as little of the shared CPU as possible.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.machine import machine
from catalog.db import make_engine, migrate
from catalog.taxonomy import CATEGORIES, COLOURS, NETWORKS

REPO = Path(__file__).resolve().parents[1]
PUBLIC = ("auto_accepted", "approved", "corrected")
WORDS = [
    "linen",
    "cotton",
    "wool",
    "silk",
    "denim",
    "knit",
    "summer",
    "winter",
    "vintage",
    "handmade",
    "organic",
    "oversized",
    "slim",
    "classic",
    "new",
    "arrival",
    "sale",
    "limited",
    "edition",
    "soft",
    "cosy",
    "everyday",
    "weekend",
    "party",
    "office",
    "relaxed",
    "striped",
    "floral",
    "plain",
    "ribbed",
    "cropped",
    "long",
    "short",
    "wide",
]
# The benchmark's faceted query: two filters plus facet counts and the first page.
FILTERS = "colour=red&category=Dress"
CURRENCIES = ("EUR", "USD", "RUB", "PLN")


# ---- data ----------------------------------------------------------------------------------


def _status(rnd: random.Random) -> str:
    x = rnd.random()
    return (
        "auto_accepted"
        if x < 0.85
        else "approved"
        if x < 0.90
        else "corrected"
        if x < 0.93
        else "needs_review"
        if x < 0.98
        else "rejected"
    )


def build_sqlite(path: Path, photos: int, shops: int = 60, seed: int = 7) -> None:
    """A migrated catalogue with `photos` labelled photos (rows only; the grid reads no files)."""
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    rnd = random.Random(seed)
    con = sqlite3.connect(path)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    created = now.strftime(fmt)
    con.executemany(
        "INSERT INTO shops (id, network, handle, display_name, profile_url, base_url, account_id,"
        " active, inactive_reason, watermark, crawl_state, created_at)"
        " VALUES (?, ?, ?, ?, '', '', '', 1, '', '', '{}', ?)",
        [(i, NETWORKS[i % 4], f"shop{i}", f"Shop {i}", created) for i in range(1, shops + 1)],
    )
    posts = photos * 2 // 5
    post_rows = []
    for i in range(1, posts + 1):
        s = rnd.randint(1, shops)
        # Two posts in five name a price (amount + currency), as Shopify's and captions do.
        priced = rnd.random() < 0.4
        post_rows.append(
            (
                i,
                s,
                NETWORKS[s % 4],
                f"p{i}",
                " ".join(rnd.choices(WORDS, k=12)) + " " + rnd.choice(CATEGORIES).lower(),
                " ".join(rnd.choices(WORDS, k=3)) if s % 4 == 3 else "",
                f"{rnd.randint(500, 30000) / 100:.2f}" if priced else None,
                rnd.choice(CURRENCIES) if priced else "",
                (now - timedelta(minutes=rnd.randint(0, 365 * 24 * 60))).strftime(fmt),
                created,
            )
        )
    con.executemany(
        "INSERT INTO posts (id, shop_id, network, network_post_id, permalink, caption, title,"
        " price, price_amount, price_currency, vendor, product_type, tags, pinned, posted_at,"
        " fetched_at) VALUES (?, ?, ?, ?, '', ?, ?, '', ?, ?, '', '', '[]', 0, ?, ?)",
        post_rows,
    )
    rows = []
    for i in range(1, photos + 1):
        dup = rnd.randint(1, i - 1) if i > 100 and rnd.random() < 0.03 else None
        cat_conf, col_conf = rnd.uniform(0.3, 1), rnd.uniform(0.3, 1)
        post = post_rows[rnd.randint(1, posts) - 1]
        status = _status(rnd)
        rows.append(
            (
                i,
                post[0],
                f"{i:064x}",
                f"{i % 256:02x}/{i:064x}.jpg",
                f"thumbs/{i % 256:02x}/{i:064x}.webp",
                dup,
                rnd.choice(CATEGORIES),
                cat_conf,
                rnd.choice(COLOURS),
                col_conf,
                status,
                created,
                post[1],  # the post's shop, network, date and price, copied (m001)
                post[2],
                post[8],
                post[6],
                post[7],
                status in PUBLIC and dup is None,
            )
        )
    con.executemany(
        "INSERT INTO photos (id, post_id, position, source_url, sha256, phash, width, height,"
        " stored_path, thumb_path, duplicate_of_id, category, category_confidence, colour,"
        " colour_confidence, status, model_version, reviewed_by, version, created_at, shop_id,"
        " network, posted_at, price_amount, price_currency, is_public)"
        " VALUES (?, ?, 0, '', ?, '', 480, 600, ?, ?, ?, ?, ?, ?, ?, ?, 'bench', '', 1, ?, ?, ?,"
        " ?, ?, ?, ?)",
        rows,
    )
    # Datasette facets one table or view: give it the same rows the catalogue shows.
    con.execute(
        "CREATE VIEW catalogue_items AS SELECT photos.id, photos.category, photos.colour,"
        " photos.status, photos.duplicate_of_id, posts.shop_id, posts.network, posts.posted_at,"
        " posts.caption FROM photos JOIN posts ON posts.id = photos.post_id"
    )
    con.commit()
    con.execute("ANALYZE")
    con.close()


def build_postgres(url: str, photos: int, shops: int = 300) -> None:
    """1M-row catalogue generated inside PostgreSQL (generate_series), then ANALYZE."""
    from sqlalchemy import text

    engine = make_engine(url)
    migrate(engine)
    posts = photos * 2 // 5
    with engine.begin() as conn:
        conn.execute(text("SELECT setseed(0.7)"))
        conn.execute(
            text(
                "INSERT INTO shops (id, network, handle, display_name, profile_url, base_url,"
                " account_id, active, inactive_reason, watermark, crawl_state, created_at)"
                " SELECT i, (ARRAY['instagram','mastodon','bluesky','shopify'])[i % 4 + 1],"
                " 'shop' || i, 'Shop ' || i, '', '', '', true, '', '', '{}', now()"
                " FROM generate_series(1, :n) i"
            ),
            {"n": shops},
        )
        words = "(ARRAY[" + ",".join(f"'{w}'" for w in WORDS) + "])"
        conn.execute(
            text(
                "INSERT INTO posts (id, shop_id, network, network_post_id, permalink, caption,"
                " title, price, vendor, product_type, tags, pinned, posted_at, fetched_at)"
                " SELECT i, s, (ARRAY['instagram','mastodon','bluesky','shopify'])[s % 4 + 1],"
                f" 'p' || i, '', {words}[1 + (i * 7) % :nw] || ' ' || {words}[1 + (i * 13) % :nw]"
                f" || ' ' || {words}[1 + (i * 31) % :nw] || ' dress shirt', '', '', '', '', '[]',"
                " false, timestamptz '2026-11-01' - (random() * interval '365 days'), now()"
                " FROM (SELECT i, 1 + (random() * (:shops - 1))::int AS s"
                "       FROM generate_series(1, :n) i) g"
            ),
            {"n": posts, "shops": shops, "nw": len(WORDS)},
        )
        # Two posts in five name a price, as in build_sqlite.
        conn.execute(
            text(
                "UPDATE posts SET price_amount = round((5 + random() * 295)::numeric, 2),"
                f" price_currency = (ARRAY{list(CURRENCIES)})[1 + (id % {len(CURRENCIES)})]"
                " WHERE id % 5 < 2"
            )
        )
        # Bulk load: the photos' secondary indexes are dropped and built again once the rows
        # are in (maintaining five of them row by row took most of the seeding time).
        indexes = conn.execute(
            text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'photos'"
                " AND indexdef NOT LIKE 'CREATE UNIQUE%'"
            )
        ).all()
        for name, _ in indexes:
            conn.execute(text(f'DROP INDEX "{name}"'))
        cats = "(ARRAY[" + ",".join(f"'{c}'" for c in CATEGORIES) + "])"
        cols = "(ARRAY[" + ",".join(f"'{c}'" for c in COLOURS) + "])"
        conn.execute(
            text(
                "INSERT INTO photos (id, post_id, position, source_url, sha256, phash, width,"
                " height, stored_path, thumb_path, duplicate_of_id, category,"
                " category_confidence, colour, colour_confidence, status, model_version,"
                " reviewed_by, version, created_at, shop_id, network, posted_at, price_amount,"
                " price_currency, is_public)"
                " SELECT i, g.post, 0, '', lpad(to_hex(i), 64, '0'),"
                " '', 480, 600, 'x/' || i || '.jpg', '', NULL,"
                f" {cats}[1 + (random() * 16)::int], 0.3 + random() * 0.7,"
                f" {cols}[1 + (random() * 12)::int], 0.3 + random() * 0.7,"
                " CASE WHEN r < 0.85 THEN 'auto_accepted' WHEN r < 0.90 THEN 'approved'"
                " WHEN r < 0.93 THEN 'corrected' WHEN r < 0.98 THEN 'needs_review'"
                " ELSE 'rejected' END, 'bench', '', 1, now(),"
                " p.shop_id, p.network, p.posted_at, p.price_amount, p.price_currency,"
                " r < 0.93"  # the copies (migration m001)
                " FROM (SELECT i, random() AS r, 1 + (random() * (:posts - 1))::int AS post"
                "       FROM generate_series(1, :n) i) g JOIN posts p ON p.id = g.post"
            ),
            {"n": photos, "posts": posts},
        )
        conn.execute(
            text(
                "UPDATE photos SET duplicate_of_id = id - 50, is_public = false"
                " WHERE id > 100 AND id % 33 = 0"
            )
        )
        for _, definition in indexes:
            conn.execute(text(definition))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()


# ---- load ----------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    latencies: list[float]
    seconds: float
    errors: int

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds

    def pct(self, p: float) -> float:
        data = sorted(self.latencies)
        return data[min(len(data) - 1, int(p / 100 * len(data)))] * 1000 if data else float("nan")


async def _client(
    port: int, path: str, stop: float, record: bool, out: list[float], errs: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n".encode()
    while time.monotonic() < stop:
        start = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        headers = {
            k.strip().lower(): v.strip()
            for k, _, v in (line.partition(b":") for line in head.split(b"\r\n")[1:] if line)
        }
        if b"content-length" in headers:
            await reader.readexactly(int(headers[b"content-length"]))
        else:  # chunked
            while True:
                size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                await reader.readexactly(size + 2)
                if size == 0:
                    break
        if record:
            out.append(time.perf_counter() - start)
            if status != 200:
                errs.append(status)
    writer.close()


async def _load(port: int, path: str, clients: int, seconds: float) -> tuple[list[float], int]:
    out: list[float] = []
    errs: list[int] = []
    stop = time.monotonic() + 3  # warm-up: caches, connection pools, first compiles
    await asyncio.gather(*(_client(port, path, stop, False, out, errs) for _ in range(clients)))
    stop = time.monotonic() + seconds
    await asyncio.gather(*(_client(port, path, stop, True, out, errs) for _ in range(clients)))
    return out, len(errs)


def measure(name: str, port: int, path: str, clients: int, seconds: float) -> Result:
    start = time.monotonic()
    latencies, errors = asyncio.run(_load(port, path, clients, seconds))
    return Result(name, latencies, time.monotonic() - start - 3, errors)


# ---- servers -------------------------------------------------------------------------------


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(port: int, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{what} did not start")


class Server:
    def __init__(
        self,
        args: list[str],
        port: int,
        what: str,
        env: dict[str, str] | None = None,
        log: Path | None = None,
    ):
        self.port = port
        self.proc = subprocess.Popen(
            args,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            # The server's errors, for when a scenario counts some (the access log is off).
            stderr=log.open("ab") if log else subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
        _wait(port, self.proc, what)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


def vitrina(
    db_url: str, tmp: Path, workers: int, cache_seconds: int, invalidation: str = "targeted"
) -> Server:
    config = tmp / f"bench-{workers}-{cache_seconds}-{invalidation}.toml"
    config.write_text(
        f'[database]\nurl = "{db_url}"\n[storage]\nmedia_dir = "{tmp / "media"}"\n'
        f'[web]\npage_size = 48\nfacet_cache_seconds = {cache_seconds}\nsecret_key = "bench"\n'
        f'invalidation = "{invalidation}"\n'
    )
    port = _port()
    args = [sys.executable, "-m", "vitrina_cli.main", "--config", str(config), "serve"]
    args += ["--port", str(port), "--workers", str(workers)]
    return Server(args, port, "vitrina serve", log=tmp / "serve.log")


def datasette_copy(db: Path) -> Path:
    """The catalogue without sqlite-vec's table: Datasette's sqlite3 cannot load the extension
    and refuses a file that has one."""
    from catalog.vectors import SQLITE_DROP_INDEX

    out = db.with_name("datasette.db")
    shutil.copyfile(db, out)
    engine = make_engine(f"sqlite:///{out}")  # loads sqlite-vec, so the table can be dropped
    with engine.begin() as conn:
        for statement in SQLITE_DROP_INDEX:
            conn.exec_driver_sql(statement)
    engine.dispose()
    return out


def datasette(db: Path) -> Server:
    port = _port()
    exe = Path(sys.executable).with_name("datasette")
    # -i: Datasette's fastest mode for a file nobody writes to during the run.
    args = [str(exe), "serve", "-i", str(db), "--port", str(port)]
    args += ["--setting", "facet_time_limit_ms", "20000", "--setting", "sql_time_limit_ms", "20000"]
    args += ["--setting", "default_page_size", "48", "--setting", "num_sql_threads", "3"]
    return Server(args, port, "datasette")


def print_table(results: list[Result], clients: int) -> None:
    print(f"\n{'scenario':<58} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>8} {'errors':>7}")
    for r in results:
        print(f"{r.name:<58} {r.pct(50):>8.1f} {r.pct(95):>8.1f} {r.rps:>8.1f} {r.errors:>7}")
    print(f"({clients} concurrent clients, keep-alive, loopback)")


def run_sqlite(args: argparse.Namespace, tmp: Path) -> Path:
    db = tmp / "catalogue.db"
    t0 = time.monotonic()
    if args.sqlite_copy:  # a catalogue built before (by this file): copied, as runs write to it
        shutil.copyfile(args.sqlite_copy, db)
    else:
        build_sqlite(db, args.photos)
    print(f"built {args.photos:,} photos in SQLite in {time.monotonic() - t0:.0f}s: {db}")
    if args.skip_plain:
        return db
    public = "status__in=auto_accepted,approved,corrected&duplicate_of_id__isnull=1"
    facets = "_facet=category&_facet=colour&_facet=shop_id&_facet=network"
    ds_path = (
        f"/catalogue/catalogue_items.json?{FILTERS}&{public}&{facets}&_sort_desc=posted_at&_size=48"
    )
    results: list[Result] = []
    url = f"sqlite:///{db}"
    w = f"{args.workers} workers"
    page, api_path = f"/?{FILTERS}", f"/api/v1/items?{FILTERS}"
    with vitrina(url, tmp, args.workers, 30) as srv:
        for name, path in (
            (f"vitrina page  {page} ({w})", page),
            (f"vitrina API   {api_path} ({w})", api_path),
            (f"vitrina API   q=linen&colour=blue ({w})", "/api/v1/items?q=linen&colour=blue"),
        ):
            results.append(measure(name, srv.port, path, args.clients, args.seconds))
    # Cache off: every request queries, counts every facet and renders the whole page.
    with vitrina(url, tmp, args.workers, 0) as srv:
        for name, path in (
            (f"vitrina page  same, cache off ({w})", page),
            (f"vitrina API   same, cache off ({w})", api_path),
        ):
            results.append(measure(name, srv.port, path, args.clients, args.seconds))
    with vitrina(url, tmp, 1, 30) as srv:
        one = measure(
            "vitrina API   same (1 worker, like Datasette's 1 process)",
            srv.port,
            f"/api/v1/items?{FILTERS}",
            args.clients,
            args.seconds,
        )
        results.append(one)
    with datasette(datasette_copy(db)) as srv:
        ds = measure(
            "datasette     same faceted query (1 process)",
            srv.port,
            ds_path,
            args.clients,
            args.seconds,
        )
        results.append(ds)
    print_table(results, args.clients)
    api = results[1]
    print(
        f"\nratio Datasette/Vitrina (API, {args.workers} workers):"
        f" p95 {ds.pct(95) / api.pct(95):.1f}x,"
        f" req/s {api.rps / ds.rps:.1f}x;  (1 worker): p95 {ds.pct(95) / one.pct(95):.1f}x,"
        f" req/s {one.rps / ds.rps:.1f}x"
    )
    print(machine())
    return db


# ---- mixed: shoppers browsing while moderators decide (issue 13) ---------------------------


def mixed_views(shops: int, n: int = 160, seed: int = 13) -> list[str]:
    """`n` filtered views as shoppers pick them: 1–3 of category, colour, shop, network, a
    month, a price range, with the three orders; half are asked as pages, half from the API."""
    rnd = random.Random(seed)
    views = []
    for i in range(n):
        pairs: list[tuple[str, str]] = []
        for kind in rnd.sample(("category", "colour", "shop", "network", "date", "price"), 3)[
            : rnd.choice((1, 1, 2, 2, 3))
        ]:
            if kind == "category":
                pairs.append(("category", rnd.choice(CATEGORIES)))
            elif kind == "colour":
                pairs.append(("colour", rnd.choice(COLOURS)))
            elif kind == "shop":
                pairs.append(("shop", str(rnd.randint(1, shops))))
            elif kind == "network":
                pairs.append(("network", rnd.choice(NETWORKS)))
            elif kind == "date":
                month = rnd.randint(1, 11)
                pairs += [("from", f"2026-{month:02d}-01"), ("to", f"2026-{month:02d}-28")]
            else:
                low = rnd.choice((10, 20, 50, 100))
                pairs += [("min_price", str(low)), ("max_price", str(low * 3))]
        sort = rnd.choice(("newest", "newest", "price_asc", "price_desc"))
        if sort != "newest":
            pairs.append(("sort", sort))
        query = "&".join(f"{k}={v}" for k, v in pairs)
        views.append(f"/api/v1/items?{query}" if i % 2 else f"/?{query}")
    return views


async def _exchange(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> tuple[int, bytes]:
    """One HTTP/1.1 request on a kept-alive connection: (status, body)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    fields = {
        k.strip().lower(): v.strip()
        for k, _, v in (line.partition(b":") for line in head.split(b"\r\n")[1:] if line)
    }
    if b"content-length" in fields:
        return status, await reader.readexactly(int(fields[b"content-length"]))
    chunks = []
    while True:  # chunked
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        chunks.append((await reader.readexactly(size + 2))[:-2])
        if size == 0:
            return status, b"".join(chunks)


@dataclass
class Mixed:
    """What one mixed run measured."""

    name: str
    page: list[float]
    api: list[float]
    decide: list[float]
    visible: list[float]
    errors: int
    not_visible: int
    seconds: float


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _shopper(
    conn: Connection, views: list[str], rnd: random.Random, stop: float, out: Mixed, record: bool
) -> None:
    reader, writer = conn
    while time.monotonic() < stop:
        path = rnd.choice(views)
        start = time.perf_counter()
        status, _ = await _exchange(reader, writer, "GET", path)
        if record:
            (out.api if path.startswith("/api/") else out.page).append(time.perf_counter() - start)
            out.errors += status != 200


def _shows(body: bytes, photo_id: int, public: bool) -> bool:
    ids = {item["id"] for item in json.loads(body)["items"]}
    return (photo_id in ids) == public


async def _visible(port: int, path: str, photo_id: int, public: bool, out: Mixed) -> None:
    """Poll the public API, a new connection each time (any worker), until the decision
    shows; the time since the decision was answered goes to out.visible."""
    start = time.perf_counter()
    while time.perf_counter() - start < 10:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        status, body = await _exchange(reader, writer, "GET", path)
        writer.close()
        if status == 200 and _shows(body, photo_id, public):
            out.visible.append(time.perf_counter() - start)
            return
        await asyncio.sleep(0.05)
    out.not_visible += 1


async def _moderator(
    port: int, token: str, index: int, stop: float, out: Mixed, record: bool
) -> None:
    """Decide one photo a second through the API (moderator `index` of 2 takes the queued
    photos of its parity, so the two never race for one), then watch it reach shoppers."""
    rnd = random.Random(index)
    auth = {"Authorization": f"Bearer {token}"}
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    todo: list[dict] = []
    watchers = []
    while time.monotonic() < stop:
        tick = time.monotonic()
        if not todo:
            status, body = await _exchange(
                reader, writer, "GET", "/api/v1/moderation/queue?limit=40", auth
            )
            if status != 200:
                raise SystemExit(
                    f"the moderation queue answered {status}: {body[:300]!r} (see serve.log)"
                )
            todo = [q for q in json.loads(body)["items"] if q["photo"]["id"] % 2 == index]
            if not todo:
                break
        q = todo.pop(0)
        photo = q["photo"]
        action = rnd.choice(("accept", "accept", "correct", "reject"))
        decision: dict = {"action": action, "version": q["version"]}
        category, colour = photo["category"], photo["colour"]
        if action == "correct":  # a new colour, the category confirmed: both labels decided
            colour = rnd.choice([c for c in COLOURS if c != colour])
            decision.update(colour=colour, category=category)
        start = time.perf_counter()
        status, _ = await _exchange(
            reader,
            writer,
            "POST",
            f"/api/v1/moderation/photos/{photo['id']}",
            {**auth, "Content-Type": "application/json"},
            json.dumps(decision).encode(),
        )
        if record:
            out.decide.append(time.perf_counter() - start)
            out.errors += status != 200
        if status == 200 and category and record:
            # The narrowest public view the photo is (or, rejected, was) in.
            view = f"/api/v1/items?category={category}&colour={colour}&shop={photo['shop']['id']}"
            watchers.append(
                asyncio.create_task(_visible(port, view, photo["id"], action != "reject", out))
            )
        await asyncio.sleep(max(0.0, tick + 1 - time.monotonic()))
    writer.close()
    await asyncio.gather(*watchers)


async def _visit(conn: Connection, paths: list[str]) -> None:
    for path in paths:
        await _exchange(*conn, "GET", path)


async def _mixed(port: int, views: list[str], tokens: list[str], seconds: float, out: Mixed):
    """Warm-up: every view once on each shopper's connection (the caches as shoppers have
    filled them: each worker process has its own, and the kernel hands a worker all of the
    connections or some; warming over separate connections left a worker cold now and then,
    and the figures then depended on where the shoppers' connections landed), then 3 s of
    the mix. The shoppers keep their connections, so the workers warmed are the ones
    measured."""
    conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(16)]
    await asyncio.gather(*(_visit(c, views[i:] + views[:i]) for i, c in enumerate(conns)))
    for record, length in ((False, 3.0), (True, seconds)):
        stop = time.monotonic() + length
        rnds = [random.Random(i) for i in range(16)]
        await asyncio.gather(
            *(_shopper(c, views, r, stop, out, record) for c, r in zip(conns, rnds, strict=True)),
            *(_moderator(port, t, i, stop, out, record) for i, t in enumerate(tokens)),
        )
    for _, writer in conns:
        writer.close()


def moderator_tokens(db_url: str, count: int = 2) -> list[str]:
    """API tokens of `count` bench moderators (created if missing)."""
    from catalog import access, moderation
    from catalog.db import session_scope

    engine = make_engine(db_url)
    tokens = []
    with session_scope(engine) as s:
        for i in range(count):
            name = f"bench{i}"
            if moderation.active_moderator(s, name) is None:
                moderation.add_moderator(s, name, "bench password")
            tokens.append(access.issue_token(s, name, 1, "web_bench")[1])
    engine.dispose()
    return tokens


def run_mixed(args: argparse.Namespace, tmp: Path, db_url: str, label: str, shops: int) -> None:
    """16 shoppers on `mixed_views` while 2 moderators decide a photo a second, under the
    targeted invalidation and under the global one it replaced (the baseline), same run."""
    views = mixed_views(shops)
    tokens = moderator_tokens(db_url)
    runs = []
    for invalidation in ("global", "targeted"):
        out = Mixed(f"{label}, {invalidation}", [], [], [], [], 0, 0, args.mixed_seconds)
        with vitrina(db_url, tmp, args.workers, 30, invalidation) as srv:
            asyncio.run(_mixed(srv.port, views, tokens, args.mixed_seconds, out))
        runs.append(out)

    def pct(data: list[float], p: float) -> float:
        data = sorted(data)
        return data[min(len(data) - 1, int(p / 100 * len(data)))] * 1000 if data else float("nan")

    print(f"\nmixed load: {label}; 16 shoppers over {len(views)} filtered views (pages + API),")
    print(f"2 moderators deciding 1 photo/s each through the API; {args.workers} workers")
    print(
        f"{'invalidation':<34} {'page p50':>8} {'p95':>7} {'API p50':>8} {'p95':>7}"
        f" {'req/s':>7} {'decide p95':>10} {'visible p50':>11} {'p95':>6} {'max':>6}"
        f" {'missed':>6} {'errors':>6}"
    )
    for r in runs:
        rps = (len(r.page) + len(r.api)) / r.seconds
        print(
            f"{r.name:<34} {pct(r.page, 50):>8.1f} {pct(r.page, 95):>7.1f} {pct(r.api, 50):>8.1f}"
            f" {pct(r.api, 95):>7.1f} {rps:>7.1f} {pct(r.decide, 95):>10.1f}"
            f" {pct(r.visible, 50):>11.0f} {pct(r.visible, 95):>6.0f}"
            f" {max(r.visible, default=0) * 1000:>6.0f} {r.not_visible:>6} {r.errors:>6}"
        )
    base, new = runs
    print(
        f"ratio global/targeted: page p95 {pct(base.page, 95) / pct(new.page, 95):.1f}x,"
        f" API p95 {pct(base.api, 95) / pct(new.api, 95):.1f}x,"
        f" req/s {(len(new.page) + len(new.api)) / max(1, len(base.page) + len(base.api)):.1f}x"
    )
    print("(ms; visible: from the decision's answer until the public API shows it, polled")
    print(f" every 50 ms on new connections; {machine()})")


# ---- "more like this" (--similar) ---------------------------------------------------------
# Its own scenario and flag so that the other scenarios' runs stay as they were.


def seed_vectors_sqlite(db: Path, seed: int = 3) -> int:
    """One unit vector per photo, near its category's centre (so neighbours share labels)."""
    import numpy as np

    from catalog.vectors import (
        EMBEDDING_DIM,
        SQLITE_EXACT,
        SQLITE_FILL_CODES,
        load_sqlite_vec,
        sqlite_dbapi,
    )

    con = sqlite_dbapi().connect(db)
    load_sqlite_vec(con)
    rng = np.random.default_rng(seed)
    centre = {c: rng.standard_normal(EMBEDDING_DIM) for c in CATEGORIES}
    rows = con.execute("SELECT id, category FROM photos ORDER BY id").fetchall()
    for i in range(0, len(rows), 20_000):
        chunk = rows[i : i + 20_000]
        v = np.stack([centre[c] for _, c in chunk])
        v += 1.5 * rng.standard_normal(v.shape)
        v = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
        con.executemany(
            f"INSERT INTO {SQLITE_EXACT} (photo_id, embedding, model_version) VALUES (?, ?, 'b')",
            [(pid, v[j].tobytes()) for j, (pid, _) in enumerate(chunk)],
        )
    con.execute(SQLITE_FILL_CODES)  # the search's int8 codes, as vectors.store writes them
    con.commit()
    con.close()
    return len(rows)


def seed_vectors_postgres(url: str) -> float:
    """The same vectors generated inside PostgreSQL, then the HNSW index built once over all of
    them (far faster than growing it row by row); returns the index's build seconds."""
    from sqlalchemy import text

    from catalog.vectors import EMBEDDING_DIM, PG_INDEX, PG_TABLE, pgvector_ddl

    engine = make_engine(url)
    cats = "ARRAY[" + ",".join(f"'{c}'" for c in CATEGORIES) + "]"
    with engine.begin() as conn:
        conn.execute(text(f"DROP INDEX IF EXISTS {PG_INDEX}"))
        conn.execute(text(f"TRUNCATE {PG_TABLE}"))
        conn.execute(
            text(
                "CREATE TEMP TABLE centre AS SELECT cat, array_agg(random() * 2 - 1) AS v"
                f" FROM unnest({cats}) cat, generate_series(1, {EMBEDDING_DIM}) GROUP BY cat"
            )
        )
        conn.execute(
            text(
                f"INSERT INTO {PG_TABLE} (photo_id, model_version, embedding)"
                " SELECT p.id, 'bench', (SELECT array_agg((c.v[d] + 1.7 * (random() * 2 - 1))"
                f"::real ORDER BY d) FROM generate_series(1, {EMBEDDING_DIM}) d)"
                " FROM photos p JOIN centre c ON c.cat = p.category"
            )
        )
    t0 = time.monotonic()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("SET maintenance_work_mem = '2GB'"))
        conn.execute(text("SET max_parallel_maintenance_workers = 1"))
        for statement in pgvector_ddl(EMBEDDING_DIM):
            conn.execute(text(statement))
        conn.execute(text(f"VACUUM ANALYZE {PG_TABLE}"))
    engine.dispose()
    return time.monotonic() - t0


def public_ids(url: str, n: int, seed: int = 5) -> list[tuple[int, str]]:
    """`n` public photos at random: (id, category)."""
    from sqlalchemy import text

    engine = make_engine(url)
    with engine.connect() as conn:
        rows = [
            (r[0], r[1])
            for r in conn.execute(
                text(
                    "SELECT id, category FROM photos WHERE duplicate_of_id IS NULL AND status IN"
                    " ('auto_accepted', 'approved', 'corrected') ORDER BY id"
                )
            )
        ]
    engine.dispose()
    return random.Random(seed).sample(rows, min(n, len(rows)))


async def _rotating_client(
    port: int,
    paths: list[str],
    stretch: range,
    warmed: asyncio.Barrier,
    seconds: float,
    out: list[float],
    errs: list[int],
) -> None:
    """One keep-alive connection (so one worker process, and its cache): a warm-up pass over
    `stretch` of `paths`, not recorded; when every client has done its pass, `seconds` of going
    round the same stretch, recorded. A dropped connection counts as an error and reopens."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def get(path: str) -> int | None:
        nonlocal reader, writer
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            elif b"chunked" in head.lower():  # the HTML page
                while True:
                    size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                    await reader.readexactly(size + 2)
                    if size == 0:
                        break
            return int(head.split(b" ", 2)[1])
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            return None

    for k in stretch:
        await get(paths[k % len(paths)])
    await warmed.wait()
    stop = time.monotonic() + seconds
    j = 0
    while time.monotonic() < stop:
        t = time.perf_counter()
        status = await get(paths[stretch[j % len(stretch)] % len(paths)])
        j += 1
        if status is None:
            errs.append(0)
            continue
        out.append(time.perf_counter() - t)
        if status != 200:
            errs.append(status)
    writer.close()


def measure_paths(name: str, port: int, paths: list[str], clients: int, seconds: float) -> Result:
    """`clients` clients, each with its own stretch of `paths` (so they ask for different
    photos at once): one warm-up pass over it (what a cache would hold after a while), then
    `seconds` of going round it again, recorded."""

    async def run() -> tuple[list[float], int]:
        out: list[float] = []
        errs: list[int] = []
        step = -(-len(paths) // clients)
        warmed = asyncio.Barrier(clients)
        await asyncio.gather(
            *(
                _rotating_client(
                    port, paths, range(i * step, (i + 1) * step), warmed, seconds, out, errs
                )
                for i in range(clients)
            )
        )
        return out, len(errs)

    latencies, errors = asyncio.run(run())
    return Result(name, latencies, seconds, errors)


def similar_scenarios(label: str, url: str, tmp: Path, args: argparse.Namespace) -> list[Result]:
    """GET /api/v1/items/{id}/similar and /photos/{id} ("more like this" strip):
    - a working set of --similar-photos photos (what shoppers browse in a while), cache on;
    - the same with a category filter and other shops only;
    - the cold path: cache off, every request a nearest-neighbour search."""
    ids = public_ids(url, args.similar_photos)
    api = [f"/api/v1/items/{i}/similar" for i, _ in ids]
    results = []
    # The cache is emptied by the catalogue's version stamp, not only by age: a long TTL is
    # safe, and the warm-up pass over a slow cold path would outlast the default 30 s.
    with vitrina(url, tmp, args.workers, args.similar_cache_seconds) as srv:
        for name, paths in (
            (f"{label}: API similar, {len(ids)} photos, cache on", api),
            (
                f"{label}: API similar, other shops + same category",
                [f"/api/v1/items/{i}/similar?other_shops=1&category={c}" for i, c in ids],
            ),
            (f"{label}: page /photos/{{id}} with its strip", [f"/photos/{i}" for i, _ in ids]),
        ):
            results.append(measure_paths(name, srv.port, paths, args.clients, args.seconds))
    with vitrina(url, tmp, args.workers, 0) as srv:
        cold = public_ids(url, args.similar_photos, seed=9)  # the warm-up pass warms no cache
        for name, paths in (
            (f"{label}: API similar, cache off", [f"/api/v1/items/{i}/similar" for i, _ in cold]),
            (
                f"{label}: API similar, same category, cache off",
                [f"/api/v1/items/{i}/similar?category={c}" for i, c in cold],
            ),
        ):
            results.append(measure_paths(name, srv.port, paths, args.clients, args.seconds))
    return results


def run_similar(args: argparse.Namespace, tmp: Path) -> None:
    results: list[Result] = []
    if not args.skip_sqlite:
        db = (args.similar_db or tmp / "similar.db").resolve()
        if not db.is_file():
            t0 = time.monotonic()
            build_sqlite(db, args.photos)
            seed_vectors_sqlite(db)
            took = time.monotonic() - t0
            print(f"built {args.photos:,} photos with vectors in SQLite in {took:.0f}s")
        results += similar_scenarios(f"SQLite {args.photos // 1000}k", f"sqlite:///{db}", tmp, args)
    if args.postgres:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        admin_url = make_url(args.pg_url).set(drivername="postgresql+psycopg")
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        name = "vitrina_bench_similar"
        pg_url = admin_url.set(database=name).render_as_string(hide_password=False)
        if not args.keep_pg:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            t0 = time.monotonic()
            build_postgres(pg_url, args.pg_photos)
            built = time.monotonic() - t0
            index_s = seed_vectors_postgres(pg_url)
            print(
                f"built {args.pg_photos:,} photos in PostgreSQL in {built:.0f}s, vectors and"
                f" their HNSW index in {time.monotonic() - t0 - built:.0f}s (index {index_s:.0f}s)"
            )
        results += similar_scenarios(f"PostgreSQL {args.pg_photos // 1000}k", pg_url, tmp, args)
        admin.dispose()
    print_table(results, args.clients)
    print(f"(each client walks its own stretch of the photo list; {machine()})")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--postgres", action="store_true", help="also 1,000,000 photos on PostgreSQL"
    )
    parser.add_argument("--pg-photos", type=int, default=1_000_000)
    parser.add_argument("--skip-sqlite", action="store_true", help="only the PostgreSQL part")
    parser.add_argument(
        "--similar",
        action="store_true",
        help='only the "more like this" scenarios (with --postgres: also on PostgreSQL)',
    )
    parser.add_argument("--similar-photos", type=int, default=200, help="working set of photos")
    parser.add_argument(
        "--similar-cache-seconds", type=int, default=600, help="[web] facet_cache_seconds"
    )
    parser.add_argument(
        "--similar-db",
        type=Path,
        default=None,
        help="--similar: this SQLite file (built if absent)",
    )
    parser.add_argument(
        "--keep-pg",
        action="store_true",
        help="--similar: reuse the PostgreSQL database built before",
    )
    parser.add_argument(
        "--mixed",
        action="store_true",
        help="also shoppers browsing while 2 moderators decide (targeted vs global invalidation)",
    )
    parser.add_argument("--mixed-seconds", type=float, default=30)
    parser.add_argument("--skip-plain", action="store_true", help="only the mixed scenario")
    parser.add_argument("--sqlite-copy", type=Path, help="start from a copy of this catalogue")
    parser.add_argument("--pg-db", help="an existing catalogue built by build_postgres (kept)")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "VITRINA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="vitrina-bench-"))
    print(machine())
    if args.similar:
        run_similar(args, tmp)
        return
    if not args.skip_sqlite:
        db = run_sqlite(args, tmp)
        if args.mixed:
            run_mixed(args, tmp, f"sqlite:///{db}", f"SQLite {args.photos:,} photos", 60)
    if args.postgres:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        admin_url = make_url(args.pg_url).set(drivername="postgresql+psycopg")
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        db_name = args.pg_db or "vitrina_bench_1m"
        pg_url = admin_url.set(database=db_name).render_as_string(hide_password=False)
        t0 = time.monotonic()
        if not args.pg_db:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{db_name}"'))
            build_postgres(pg_url, args.pg_photos)
        print(f"\nbuilt {args.pg_photos:,} photos in PostgreSQL in {time.monotonic() - t0:.0f}s")
        pg_results = []
        page, api_path = f"/?{FILTERS}", f"/api/v1/items?{FILTERS}"
        for seconds, label in () if args.skip_plain else ((30, ""), (0, ", cache off")):
            with vitrina(pg_url, tmp, args.workers, seconds) as srv:
                for name, path in ((f"page /?{FILTERS}", page), (f"API {FILTERS}", api_path)):
                    result = measure(
                        f"PostgreSQL 1M: {name}{label}", srv.port, path, args.clients, args.seconds
                    )
                    pg_results.append(result)
        if pg_results:
            print_table(pg_results, args.clients)
        if args.mixed:
            run_mixed(args, tmp, pg_url, f"PostgreSQL {args.pg_photos:,} photos", 300)
        print(machine())
        if not args.pg_db:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
