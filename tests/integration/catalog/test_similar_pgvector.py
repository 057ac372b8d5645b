"""pgvector for real on PostgreSQL: the extension, the HNSW index migration e001 builds, the
query using it (EXPLAIN), filters inside the index scan, and the same answers as SQLite's
sqlite-vec. A PostgreSQL without the `vector` extension fails these tests (it is never a skip:
CI builds pgvector where Debian has no package)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from sqlalchemy import text
from sqlmodel import Session

from catalog import vectors
from catalog.db import make_engine, session_scope
from catalog.models import Photo
from catalog.queries import Filters
from demo.seed import add_photo, add_post
from tests.support.common import fresh_postgres_url
from tests.support.web_helpers import seed


def vec(i: int) -> np.ndarray:
    v = np.random.default_rng(i).standard_normal(vectors.EMBEDDING_DIM).astype(np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    url, drop = fresh_postgres_url(pg_template)
    yield url
    drop()


def test_the_migration_enables_pgvector_and_builds_the_hnsw_index(pg_url: str) -> None:
    engine = make_engine(pg_url)
    with Session(engine) as s:
        assert s.execute(
            text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
        ).first(), "PostgreSQL has no pgvector: install postgresql-NN-pgvector or build it"
        assert s.execute(text("SELECT extversion FROM pg_extension WHERE extname = 'vector'"))
        index = s.execute(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"), {"n": vectors.PG_INDEX}
        ).scalar()
        assert index is not None and "USING hnsw" in index
        assert f"vector({vectors.EMBEDDING_DIM})" in index and "vector_cosine_ops" in index
        assert vectors.has_pgvector(s)
    engine.dispose()


def test_the_search_uses_the_index_and_filters_inside_it(pg_url: str, settings_for) -> None:  # type: ignore[no-untyped-def]
    settings, _ = settings_for(pg_url)
    seeded = seed(settings)
    engine = make_engine(pg_url)
    ids: list[int] = []
    with session_scope(engine) as s:
        shop = seeded.shops["lina"]
        for i in range(60):
            post = add_post(s, shop, "mastodon", f"v{i}", caption=f"item {i}", days_ago=i % 30)
            category = "Dress" if i % 3 == 0 else "Pants"
            ids.append(add_photo(s, settings.media_dir, post, category, "red", seed=100 + i))
        for i, pid in enumerate(ids):
            vectors.store(s, pid, vec(i), "m")
    with session_scope(engine) as s:
        s.execute(text("ANALYZE"))
    with Session(engine) as s:
        # The planner must be able to answer the query from the index: seq scans priced out
        # so that the plan shows whether the query's expression matches the index's.
        s.execute(text("SET LOCAL enable_seqscan = off"))
        query = vectors.pgvector_query(vec(0), 10)
        sql = str(query.compile(s.get_bind(), compile_kwargs={"literal_binds": True}))
        plan = "\n".join(r[0] for r in s.execute(text("EXPLAIN " + sql)))
        assert f"Index Scan using {vectors.PG_INDEX}" in plan, plan
        # nearest() through HNSW: itself first, then the rest by true cosine distance
        found = vectors.nearest(s, vec(0), 10)
    exact = sorted(range(len(ids)), key=lambda i: 1 - float(vec(i) @ vec(0)))[:10]
    assert [p for p, _ in found] == [ids[i] for i in exact]
    assert found[0][1] == pytest.approx(0.0, abs=1e-5)

    with Session(engine) as s:
        dresses = Filters(category=("Dress",))
        got = vectors.similar(s, ids[0], dresses, 5, per_shop=0)
        assert got is not None and len(got) == 5
        cats = {
            s.get(Photo, g.item.id).category
            for g in got  # type: ignore[union-attr]
        }
        assert cats == {"Dress"}
        want = sorted(
            (i for i in range(1, len(ids)) if i % 3 == 0),
            key=lambda i: 1 - float(vec(i) @ vec(0)),
        )[:5]
        assert [g.item.id for g in got] == [ids[i] for i in want]
        assert vectors.pgvector_iterative(s)  # pgvector ≥ 0.8: filters inside the index scan
        # set for this transaction by the filtered search (SET LOCAL, one round trip)
        assert s.execute(text("SHOW hnsw.iterative_scan")).scalar() == "relaxed_order"
        assert int(s.execute(text("SHOW hnsw.ef_search")).scalar()) >= 48
        # the fallback when the graph walk gives up before enough rows pass: exact, no index
        within = text("SELECT id FROM photos WHERE category = 'Dress'").columns(Photo.id)
        exact = vectors.pgvector_query(vec(0), 5, within, exact=True)
        sql = str(exact.compile(s.get_bind(), compile_kwargs={"literal_binds": True}))
        plan = "\n".join(r[0] for r in s.execute(text("EXPLAIN " + sql)))
        assert vectors.PG_INDEX not in plan, plan
        rows = [r[0] for r in s.execute(exact)]
        assert rows == [
            ids[i] for i in sorted(range(0, 60, 3), key=lambda i: 1 - float(vec(i) @ vec(0)))[:5]
        ]
    engine.dispose()


def _vector_ddl(engine) -> str:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        if engine.dialect.name == "postgresql":
            sql = "SELECT indexdef FROM pg_indexes WHERE indexname = :n"
            return str(s.execute(text(sql), {"n": vectors.PG_INDEX}).scalar())
        sql = "SELECT sql FROM sqlite_master WHERE name = :n"
        return str(s.execute(text(sql), {"n": vectors.SQLITE_TABLE}).scalar())


def test_e001_down_and_up_again_on_both_engines(db_url: str) -> None:
    from alembic import command

    from catalog.db import alembic_config, migrate, migration_transaction

    engine = make_engine(db_url)
    pg = engine.dialect.name == "postgresql"
    size = "vector({})" if pg else "float[{}]"
    head = "vector({})" if pg else "int8[{}]"  # q001: SQLite searches int8 codes
    assert head.format(vectors.EMBEDDING_DIM) in _vector_ddl(engine)
    cfg = alembic_config(engine)
    with migration_transaction(engine) as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "v001")
    assert size.format(256) in _vector_ddl(engine)  # v001's size, empty: classify refills it
    migrate(engine)
    assert head.format(vectors.EMBEDDING_DIM) in _vector_ddl(engine)
    with Session(engine) as s:  # usable again, empty until classify writes the new vectors
        assert vectors.versions(s) == {}
    engine.dispose()
