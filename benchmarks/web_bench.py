"""Web benchmark: a 100,000-photo SQLite catalogue under 16 concurrent clients, against Datasette
serving the same file, and (optionally) 1,000,000 photos on PostgreSQL.

    .venv/bin/python -m benchmarks.web_bench                 # SQLite, 100k photos, vs Datasette
    .venv/bin/python -m benchmarks.web_bench --postgres      # also 1M photos on PostgreSQL

Each scenario runs for --seconds after a warm-up; the client is a minimal keep-alive HTTP/1.1
loop (asyncio streams) so that it takes as little of the shared CPU as possible.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
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
    con.executemany(
        "INSERT INTO posts (id, shop_id, network, network_post_id, permalink, caption, title,"
        " price, vendor, product_type, tags, pinned, posted_at, fetched_at)"
        " VALUES (?, ?, ?, ?, '', ?, ?, '', '', '', '[]', 0, ?, ?)",
        [
            (
                i,
                (s := rnd.randint(1, shops)),
                NETWORKS[s % 4],
                f"p{i}",
                " ".join(rnd.choices(WORDS, k=12)) + " " + rnd.choice(CATEGORIES).lower(),
                " ".join(rnd.choices(WORDS, k=3)) if s % 4 == 3 else "",
                (now - timedelta(minutes=rnd.randint(0, 365 * 24 * 60))).strftime(fmt),
                created,
            )
            for i in range(1, posts + 1)
        ],
    )
    rows = []
    for i in range(1, photos + 1):
        dup = rnd.randint(1, i - 1) if i > 100 and rnd.random() < 0.03 else None
        cat_conf, col_conf = rnd.uniform(0.3, 1), rnd.uniform(0.3, 1)
        rows.append(
            (
                i,
                rnd.randint(1, posts),
                f"{i:064x}",
                f"{i % 256:02x}/{i:064x}.jpg",
                f"thumbs/{i % 256:02x}/{i:064x}.webp",
                dup,
                rnd.choice(CATEGORIES),
                cat_conf,
                rnd.choice(COLOURS),
                col_conf,
                _status(rnd),
                created,
            )
        )
    con.executemany(
        "INSERT INTO photos (id, post_id, position, source_url, sha256, phash, width, height,"
        " stored_path, thumb_path, duplicate_of_id, category, category_confidence, colour,"
        " colour_confidence, status, model_version, reviewed_by, version, created_at)"
        " VALUES (?, ?, 0, '', ?, '', 480, 600, ?, ?, ?, ?, ?, ?, ?, ?, 'bench', '', 1, ?)",
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
        cats = "(ARRAY[" + ",".join(f"'{c}'" for c in CATEGORIES) + "])"
        cols = "(ARRAY[" + ",".join(f"'{c}'" for c in COLOURS) + "])"
        conn.execute(
            text(
                "INSERT INTO photos (id, post_id, position, source_url, sha256, phash, width,"
                " height, stored_path, thumb_path, duplicate_of_id, category,"
                " category_confidence, colour, colour_confidence, status, model_version,"
                " reviewed_by, version, created_at)"
                " SELECT i, 1 + (random() * (:posts - 1))::int, 0, '', lpad(to_hex(i), 64, '0'),"
                " '', 480, 600, 'x/' || i || '.jpg', '', NULL,"
                f" {cats}[1 + (random() * 16)::int], 0.3 + random() * 0.7,"
                f" {cols}[1 + (random() * 12)::int], 0.3 + random() * 0.7,"
                " CASE WHEN r < 0.85 THEN 'auto_accepted' WHEN r < 0.90 THEN 'approved'"
                " WHEN r < 0.93 THEN 'corrected' WHEN r < 0.98 THEN 'needs_review'"
                " ELSE 'rejected' END, 'bench', '', 1, now()"
                " FROM (SELECT i, random() AS r FROM generate_series(1, :n) i) g"
            ),
            {"n": photos, "posts": posts},
        )
        conn.execute(
            text("UPDATE photos SET duplicate_of_id = id - 50 WHERE id > 100 AND id % 33 = 0")
        )
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
    def __init__(self, args: list[str], port: int, what: str, env: dict[str, str] | None = None):
        self.port = port
        self.proc = subprocess.Popen(
            args,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
        _wait(port, self.proc, what)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


def vitrina(db_url: str, tmp: Path, workers: int, cache_seconds: int) -> Server:
    config = tmp / f"bench-{workers}-{cache_seconds}.toml"
    config.write_text(
        f'[database]\nurl = "{db_url}"\n[storage]\nmedia_dir = "{tmp / "media"}"\n'
        f'[web]\npage_size = 48\nfacet_cache_seconds = {cache_seconds}\nsecret_key = "bench"\n'
    )
    port = _port()
    args = [sys.executable, "-m", "vitrina_cli.main", "--config", str(config), "serve"]
    args += ["--port", str(port), "--workers", str(workers)]
    return Server(args, port, "vitrina serve")


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


def run_sqlite(args: argparse.Namespace, tmp: Path) -> None:
    db = tmp / "catalogue.db"
    t0 = time.monotonic()
    build_sqlite(db, args.photos)
    print(f"built {args.photos:,} photos in SQLite in {time.monotonic() - t0:.0f}s: {db}")
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
    with datasette(db) as srv:
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


# ---- "more like this" (--similar) ---------------------------------------------------------
# Its own scenario and flag so that the other scenarios' runs stay as they were.


def seed_vectors_sqlite(db: Path, seed: int = 3) -> int:
    """One unit vector per photo, near its category's centre (so neighbours share labels)."""
    import numpy as np

    from catalog.vectors import EMBEDDING_DIM, SQLITE_TABLE, load_sqlite_vec, sqlite_dbapi

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
            f"INSERT INTO {SQLITE_TABLE} (photo_id, embedding, model_version) VALUES (?, ?, 'b')",
            [(pid, v[j].tobytes()) for j, (pid, _) in enumerate(chunk)],
        )
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
        "--pg-url",
        default=os.environ.get(
            "VITRINA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="vitrina-bench-"))
    if args.similar:
        run_similar(args, tmp)
        return
    if not args.skip_sqlite:
        run_sqlite(args, tmp)
    if args.postgres:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        admin_url = make_url(args.pg_url).set(drivername="postgresql+psycopg")
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        name = "vitrina_bench_1m"
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        pg_url = admin_url.set(database=name).render_as_string(hide_password=False)
        t0 = time.monotonic()
        build_postgres(pg_url, args.pg_photos)
        print(f"\nbuilt {args.pg_photos:,} photos in PostgreSQL in {time.monotonic() - t0:.0f}s")
        pg_results = []
        page, api_path = f"/?{FILTERS}", f"/api/v1/items?{FILTERS}"
        for seconds, label in ((30, ""), (0, ", cache off")):
            with vitrina(pg_url, tmp, args.workers, seconds) as srv:
                for name, path in ((f"page /?{FILTERS}", page), (f"API {FILTERS}", api_path)):
                    result = measure(
                        f"PostgreSQL 1M: {name}{label}", srv.port, path, args.clients, args.seconds
                    )
                    pg_results.append(result)
        print_table(pg_results, args.clients)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
