"""Photo embeddings and "more like this", on a real vector index in either database.

SQLite (since q001): the vectors themselves in a plain table `photo_embeddings` (float32 blobs,
rowid = photo id) and, for the search, a `vec0` virtual table of the sqlite-vec extension
(`photo_vectors`) holding each vector quantised to int8, partitioned by the photo's
`is_public` and `category` (kept up to date by triggers on `photos`). sqlite-vec scans every
vector of the partitions asked for (no ANN index): int8 codes halve that scan, a category
filter scans its own partition alone (instead of a `rowid IN` list of thousands), and a
shortlist a little longer than asked for is re-ranked exactly on the float vectors, so the
distances and the order are the exact ones.
sqlite-vec is loaded on every connection by catalog.db.make_engine.
PostgreSQL: `photo_embeddings.embedding real[]` with an HNSW index of pgvector on
`embedding::vector(N)` (cosine) where the `vector` extension is installed; without it the same
query ranks every vector exactly in SQL (correct, but slow at scale: install pgvector).
All are raw-SQL objects made by migrations (v001, e001, q001) and hidden from Alembic's
comparison.

Vectors are unit length (classifier.model.VitrinaModel.embed), one per photo, with the model
version that made it: classify writes them with the labels and rewrites them for a new model.
"""

from __future__ import annotations

import sqlite3
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
from sqlalchemy import Float, bindparam, cast, column, func, literal_column, select, table, text
from sqlalchemy.types import UserDefinedType
from sqlmodel import Session, col

EMBEDDING_DIM = 128
SQLITE_TABLE = "photo_vectors"
PG_TABLE = "photo_embeddings"
PG_INDEX = "ix_photo_embeddings_hnsw"
SQLITE_TRIGGER = "photo_vectors_ad"
SQLITE_UPDATE_TRIGGER = "photo_vectors_au"
SQLITE_EXACT = PG_TABLE  # the same name as PostgreSQL's table: the float vectors
# sqlite-vec answers at most this many neighbours per query; HNSW's search list is capped too.
MAX_CANDIDATES = 4096
PG_MAX_EF_SEARCH = 1000


def sqlite_ddl(dim: int) -> tuple[str, ...]:
    """The layout of v001 and e001 (float vectors in vec0, nothing else): q001 replaces it."""
    return (
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {SQLITE_TABLE} USING vec0("
        f"photo_id INTEGER PRIMARY KEY, embedding float[{int(dim)}] distance_metric=cosine, "
        "+model_version TEXT)",
        f"CREATE TRIGGER IF NOT EXISTS {SQLITE_TRIGGER} AFTER DELETE ON photos BEGIN "
        f"DELETE FROM {SQLITE_TABLE} WHERE photo_id = old.id; END",
    )


def sqlite_int8_ddl(dim: int) -> tuple[str, ...]:
    """q001's layout: exact vectors in a plain table, int8 codes in vec0 partitioned by
    is_public and category, so a search for public photos of a category scans that partition
    alone. The codes use L2 (cheaper than cosine in sqlite-vec; the same order for unit
    vectors). vec0 keys cannot be NULL (a photo without a category has '') nor be updated in
    place: a photo whose key changes gets its code again."""
    return (
        f"CREATE TABLE IF NOT EXISTS {SQLITE_EXACT} ("
        "photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE, "
        "model_version VARCHAR(64) NOT NULL, embedding BLOB NOT NULL)",
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {SQLITE_TABLE} USING vec0("
        "photo_id INTEGER PRIMARY KEY, is_public INTEGER PARTITION KEY, "
        f"category TEXT PARTITION KEY, embedding int8[{int(dim)}])",
        f"CREATE TRIGGER IF NOT EXISTS {SQLITE_TRIGGER} AFTER DELETE ON photos BEGIN "
        f"DELETE FROM {SQLITE_TABLE} WHERE photo_id = old.id; "
        f"DELETE FROM {SQLITE_EXACT} WHERE photo_id = old.id; END",
        # Every write to photos is SQL (crud, moderation, the ORM): this sees them all. VALUES
        # with a subquery: from INSERT … SELECT in a trigger sqlite-vec gets no int8 subtype.
        f"CREATE TRIGGER IF NOT EXISTS {SQLITE_UPDATE_TRIGGER} "
        "AFTER UPDATE OF is_public, category ON photos "
        "WHEN (old.is_public IS NOT new.is_public OR old.category IS NOT new.category) "
        f"AND EXISTS (SELECT 1 FROM {SQLITE_EXACT} WHERE photo_id = new.id) BEGIN "
        f"DELETE FROM {SQLITE_TABLE} WHERE photo_id = new.id; "
        f"INSERT INTO {SQLITE_TABLE} (photo_id, is_public, category, embedding) VALUES "
        "(new.id, new.is_public, coalesce(new.category, ''), vec_quantize_int8("
        f"(SELECT embedding FROM {SQLITE_EXACT} WHERE photo_id = new.id), 'unit')); END",
    )


# The codes of every stored vector (q001's backfill, vectors.store, benchmarks' seeds).
SQLITE_FILL_CODES = (
    f"INSERT INTO {SQLITE_TABLE} (photo_id, is_public, category, embedding) "
    f"SELECT e.photo_id, p.is_public, coalesce(p.category, ''), "
    f"vec_quantize_int8(e.embedding, 'unit') FROM {SQLITE_EXACT} e "
    "JOIN photos p ON p.id = e.photo_id"
)


def pg_cast(dim: int) -> str:
    return f"(embedding::vector({int(dim)}))"


def pgvector_ddl(dim: int) -> tuple[str, ...]:
    return (
        "CREATE EXTENSION IF NOT EXISTS vector",
        f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON {PG_TABLE} "
        f"USING hnsw ({pg_cast(dim)} vector_cosine_ops)",
    )


SQLITE_DDL = sqlite_int8_ddl(EMBEDDING_DIM)
SQLITE_DROP = (
    f"DROP TRIGGER IF EXISTS {SQLITE_TRIGGER}",
    f"DROP TRIGGER IF EXISTS {SQLITE_UPDATE_TRIGGER}",
    f"DROP TABLE IF EXISTS {SQLITE_TABLE}",
    f"DROP TABLE IF EXISTS {SQLITE_EXACT}",
)
# Only the vec0 table and what refers to it (Datasette's copy: its sqlite3 cannot load it).
SQLITE_DROP_INDEX = SQLITE_DROP[:3]
PG_CAST = pg_cast(EMBEDDING_DIM)
POSTGRES_DDL = (
    f"CREATE TABLE IF NOT EXISTS {PG_TABLE} ("
    "photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE, "
    "model_version VARCHAR(64) NOT NULL, embedding REAL[] NOT NULL)",
)
PGVECTOR_DDL = pgvector_ddl(EMBEDDING_DIM)
POSTGRES_DROP = (f"DROP INDEX IF EXISTS {PG_INDEX}", f"DROP TABLE IF EXISTS {PG_TABLE}")


class VectorError(ValueError):
    """An embedding that cannot be stored (wrong length, not finite)."""


# ---- the SQLite extension ------------------------------------------------------------------


def sqlite_dbapi() -> ModuleType:
    """Python's sqlite3 where it may load extensions, else sqlean.py (the same module with its
    own SQLite): some Python builds (pyenv's default among them) cannot load sqlite-vec."""
    if hasattr(sqlite3.Connection, "enable_load_extension"):
        return sqlite3
    try:
        import sqlean  # type: ignore[import-untyped]
    except ImportError as exc:
        raise RuntimeError(
            "this Python's sqlite3 cannot load extensions and sqlean.py is not installed: "
            "`pip install sqlean.py` (the catalogue's vector index needs sqlite-vec)"
        ) from exc
    return sqlean


def load_sqlite_vec(dbapi_conn: Any) -> None:
    import sqlite_vec

    dbapi_conn.enable_load_extension(True)
    try:
        sqlite_vec.load(dbapi_conn)
    finally:
        dbapi_conn.enable_load_extension(False)


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare: Any) -> bool:
    """Alembic filter: these raw-SQL objects are unknown to the SQLModel metadata."""
    if type_ == "table" and name and (name.startswith(SQLITE_TABLE) or name == PG_TABLE):
        return False
    return not (type_ == "index" and name == PG_INDEX)


# ---- storing -------------------------------------------------------------------------------


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _checked(vector: Any) -> np.ndarray:
    v = np.asarray(vector, dtype=np.float32).reshape(-1)
    if v.shape != (EMBEDDING_DIM,):
        raise VectorError(f"an embedding has {EMBEDDING_DIM} numbers, this one {v.size}")
    if not np.all(np.isfinite(v)):
        raise VectorError("an embedding with NaN or infinite numbers cannot be stored")
    return v


def store(session: Session, photo_id: int, vector: Any, model_version: str) -> None:
    """Write (or replace) one photo's embedding in the caller's transaction."""
    v = _checked(vector)
    if _dialect(session) == "postgresql":
        session.execute(
            text(
                f"INSERT INTO {PG_TABLE} (photo_id, model_version, embedding) "
                "VALUES (:id, :version, :v) ON CONFLICT (photo_id) DO UPDATE "
                "SET model_version = excluded.model_version, embedding = excluded.embedding"
            ),
            {"id": photo_id, "version": model_version, "v": v.tolist()},
        )
        return
    session.execute(
        text(
            f"INSERT INTO {SQLITE_EXACT} (photo_id, model_version, embedding) "
            "VALUES (:id, :version, :v) ON CONFLICT (photo_id) DO UPDATE "
            "SET model_version = excluded.model_version, embedding = excluded.embedding"
        ),
        {"id": photo_id, "version": model_version, "v": v.tobytes()},
    )
    # vec0 has no upsert; the photo's metadata as it is now (the triggers follow it)
    session.execute(text(f"DELETE FROM {SQLITE_TABLE} WHERE photo_id = :id"), {"id": photo_id})
    session.execute(text(SQLITE_FILL_CODES + " WHERE e.photo_id = :id"), {"id": photo_id})


def get(session: Session, photo_id: int) -> np.ndarray | None:
    row = session.execute(
        text(f"SELECT embedding FROM {PG_TABLE} WHERE photo_id = :id"), {"id": photo_id}
    ).first()
    if row is None:
        return None
    if _dialect(session) == "postgresql":
        return np.asarray(row[0], np.float32)
    return np.frombuffer(row[0], np.float32).copy()


def versions(session: Session) -> dict[str, int]:
    """model version → photos with an embedding from it."""
    rows = session.execute(text(f"SELECT model_version, count(*) FROM {PG_TABLE} GROUP BY 1"))
    return {str(v): int(n) for v, n in rows}


def missing_condition(session: Session, model_version: str) -> Any:
    """A condition on photos: no embedding from `model_version` yet."""
    from sqlalchemy import literal_column

    from catalog.models import Photo

    done = text(f"SELECT photo_id FROM {PG_TABLE} WHERE model_version = :emb_version").bindparams(
        emb_version=model_version
    )
    return col(Photo.id).not_in(done.columns(literal_column("photo_id")))


# ---- searching -----------------------------------------------------------------------------


def has_pgvector(session: Session) -> bool:
    return bool(
        session.execute(
            text("SELECT 1 FROM pg_indexes WHERE indexname = :name"), {"name": PG_INDEX}
        ).first()
    )


class _Vector(UserDefinedType):
    """pgvector's type, for a CAST in a statement SQLAlchemy builds (no pgvector package)."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return f"vector({EMBEDDING_DIM})"


def nearest(
    session: Session,
    vector: Any,
    n: int,
    within: Any = None,
    *,
    public: bool = False,
    categories: Sequence[str] = (),
) -> list[tuple[int, float]]:
    """The `n` photos nearest to `vector`: (photo id, cosine distance), nearest first.

    `within`: a SELECT of photo ids (the filters); the search then looks among those only,
    inside the index's scan (sqlite-vec's `rowid IN`, pgvector's iterative index scan), so a
    selective filter costs one search instead of ever longer lists filtered afterwards.
    `public`, `categories`: public photos only, of these categories, read on SQLite from the
    index's own metadata (cheaper than `within`); PostgreSQL leaves them to `within`."""
    v = _checked(vector)
    n = max(1, min(int(n), MAX_CANDIDATES))
    if _dialect(session) != "postgresql":
        return _sqlite_nearest(session, v, n, within, public, tuple(categories))
    literal = "[" + ",".join(f"{x:.7g}" for x in v.tolist()) + "]"
    iterative = _pgvector(session)
    if iterative is not None:
        # The HNSW search list must hold all n candidates (it defaults to 40); with filters,
        # pgvector ≥ 0.8 goes on scanning the graph until n rows pass them. SET LOCAL both,
        # in one round trip.
        ef = min(max(n, 40), PG_MAX_EF_SEARCH)
        settings = [("hnsw.ef_search", str(ef))]
        if within is not None and iterative:
            settings.append(("hnsw.iterative_scan", "relaxed_order"))
        calls = ", ".join(f"set_config('{name}', '{value}', true)" for name, value in settings)
        session.execute(text(f"SELECT {calls}"))
        rows = session.execute(pgvector_query(v, n, within)).all()
        if within is not None and len(rows) < n:
            # The graph walk gave up (hnsw.max_scan_tuples) before n rows passed the filters,
            # e.g. a category far from this photo's: rank the filtered rows exactly instead.
            rows = session.execute(pgvector_query(v, n, within, exact=True)).all()
        # relaxed_order: nearly sorted; the caller sorts by distance anyway
        return sorted(((int(i), float(x)) for i, x in rows), key=lambda r: (r[1], r[0]))
    query_text = (
        "SELECT photo_id, 1 - (SELECT sum(a * b) FROM unnest(embedding, CAST(:q AS real[])) "
        f"AS t(a, b)) AS d FROM {PG_TABLE} ORDER BY d, photo_id LIMIT :n"
    )
    exact = session.execute(text(query_text), {"q": "{" + literal[1:-1] + "}", "n": n})
    return [(int(i), float(d)) for i, d in exact]


def _sqlite_nearest(
    session: Session,
    v: np.ndarray,
    n: int,
    within: Any,
    public: bool,
    categories: tuple[str, ...],
) -> list[tuple[int, float]]:
    """A shortlist by the int8 codes, a little longer than asked (int8 moves a neighbour a
    few places at most), re-ranked by the exact cosine distance of the float vectors.
    sqlite-vec's cost grows with k, hence not twice as long."""
    t = table(
        SQLITE_TABLE,
        column("photo_id"),
        column("embedding"),
        column("distance"),
        column("is_public"),
        column("category"),
    )
    shortlist = min(n + max(16, n // 4), MAX_CANDIDATES)
    blob: Any = bindparam("v", v.tobytes())
    query = (
        select(t.c.photo_id)
        .where(t.c.embedding.op("MATCH")(func.vec_quantize_int8(blob, "unit")))
        .where(literal_column("k") == shortlist)
    )
    if public:
        query = query.where(t.c.is_public == 1)
    if len(categories) == 1:  # one partition; with IN, sqlite-vec answers k from each
        query = query.where(t.c.category == categories[0])
    elif categories:
        query = query.where(t.c.category.in_(categories))
    if within is not None:
        query = query.where(t.c.photo_id.in_(within))
    ids = list(session.execute(query).scalars())
    if not ids:
        return []
    exact = table(SQLITE_EXACT, column("photo_id"), column("embedding"))
    d = func.vec_distance_cosine(exact.c.embedding, blob, type_=Float())
    rows = session.execute(select(exact.c.photo_id, d).where(exact.c.photo_id.in_(ids)))
    ranked = sorted(((int(i), float(x)) for i, x in rows), key=lambda r: (r[1], r[0]))
    return ranked[:n]


def pgvector_query(vector: np.ndarray, n: int, within: Any = None, *, exact: bool = False) -> Any:
    """The HNSW search: ORDER BY the index's own expression (the cast) so pgvector can use it;
    `exact`: an expression the index does not match, so the filtered rows are ranked exactly."""
    literal = "[" + ",".join(f"{x:.7g}" for x in vector.tolist()) + "]"
    t = table(PG_TABLE, column("photo_id"))
    d = literal_column(PG_CAST).op("<=>", return_type=Float())(
        cast(bindparam("q", literal), _Vector())
    )
    order = d + 0 if exact else d
    query = select(t.c.photo_id, d.label("d")).order_by(order).limit(n)
    return query if within is None else query.where(t.c.photo_id.in_(within))


# engine → whether its pgvector scans iteratively, once its HNSW index was seen (an index
# is not dropped while the app runs; its absence is looked for again on every search).
_PGVECTOR: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def _pgvector(session: Session) -> bool | None:
    """None without pgvector's index, else pgvector_iterative: two queries saved per search."""
    bind = session.get_bind()
    engine = getattr(bind, "engine", bind)
    found = _PGVECTOR.get(engine)
    if found is None:
        if not has_pgvector(session):
            return None
        found = _PGVECTOR[engine] = pgvector_iterative(session)
    return found


def pgvector_iterative(session: Session) -> bool:
    """pgvector 0.8+ (iterative index scans: filters no longer cut HNSW's results short)."""
    version = session.execute(
        text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
    ).scalar()
    try:
        return tuple(int(x) for x in str(version).split(".")[:2]) >= (0, 8)
    except ValueError:
        return False


@dataclass(frozen=True)
class Similar:
    item: Any  # catalog.queries.Item
    distance: float


def spread(
    ranked: Sequence[Similar], k: int, per_shop: int, shop_of: Any = lambda s: s.item.shop_id
) -> list[Similar]:
    """The first `k` of `ranked` with at most `per_shop` from any one shop (0: no limit)."""
    out: list[Similar] = []
    seen: dict[int, int] = {}
    for s in ranked:
        shop = shop_of(s)
        if per_shop and seen.get(shop, 0) >= per_shop:
            continue
        seen[shop] = seen.get(shop, 0) + 1
        out.append(s)
        if len(out) == k:
            break
    return out


def similar(
    session: Session,
    photo_id: int,
    filters: Any = None,
    k: int = 12,
    *,
    per_shop: int = 2,
    other_shops: bool = False,
) -> list[Similar] | None:
    """Public photos that look like public photo `photo_id`, nearest first.

    None when `photo_id` is not a public photo. Reposts are folded (only originals are
    public), the photo, its original and the other photos of its own post are left out, at most
    `per_shop` come from any one shop, and `filters` (catalog.queries.Filters: category,
    colour, shop, price, words…) narrow the results as they narrow the catalogue; with
    `other_shops` the photo's own shop is left out. Empty when it has no embedding yet.
    """
    from catalog import queries
    from catalog.models import Photo

    source = queries.get_item(session, photo_id)
    if source is None:
        return None
    vector = get(session, photo_id)
    if vector is None:
        return []
    filters = filters or queries.Filters()
    original = session.execute(
        text("SELECT duplicate_of_id FROM photos WHERE id = :id"), {"id": photo_id}
    ).scalar()
    conds, _ = queries._conditions(filters, _dialect(session))  # noqa: SLF001 - same package
    conds += [col(Photo.post_id) != source.post_id, col(Photo.id) != photo_id]
    if original:
        conds.append(col(Photo.id) != original)
    if other_shops:
        conds.append(col(queries.Post.shop_id) != source.shop_id)
    # Beyond "public, not this post", filters are pushed into the search (see nearest); the
    # rows found are checked against them all the same, which also makes the exact PostgreSQL
    # path (no pgvector) right. SQLite's index holds "public" and the category itself
    # (nearest): a `within` list there only for the other filters.
    dialect = _dialect(session)
    pushed = filters.without("category") if dialect != "postgresql" else filters
    within = None
    if not pushed.is_empty():  # "other shops" alone leaves most: filtering after is faster
        # On the photos' own copies of their post's shop, date, price (m001): no join with
        # posts and shops for each candidate, unless words are searched.
        listed, needs_post = queries._conditions(pushed, dialect, listed=True)  # noqa: SLF001
        if needs_post:
            within = queries._items_select().with_only_columns(col(Photo.id)).where(*conds)  # noqa: SLF001
        else:
            within = select(col(Photo.id)).where(*listed, col(Photo.post_id) != source.post_id)
    # Each search scans every vector on SQLite and widens HNSW's search list on PostgreSQL, so
    # ask for few candidates first and, when too few are left, for as many as the share that
    # passed says are needed (one more search, not a doubling series of them).
    n = max(4 * k, 48)
    while True:
        found = nearest(session, vector, n, within, public=True, categories=filters.category)
        distance = dict(found)
        rows = session.execute(
            queries._items_select().where(col(Photo.id).in_(list(distance)), *conds)  # noqa: SLF001
        )
        ranked = sorted(
            (Similar(queries._item(r), distance[r.id]) for r in rows),  # noqa: SLF001
            key=lambda s: (s.distance, s.item.id),
        )
        picked = spread(ranked, k, per_shop)
        # Too few after filtering: look further down the list, while there is more to see.
        if len(picked) >= k or len(found) < n or n >= MAX_CANDIDATES:
            return picked
        share = max(len(picked), 1) / len(found)
        n = min(max(n * 4, int(2 * k / share)), MAX_CANDIDATES)
