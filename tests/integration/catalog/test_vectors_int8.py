"""SQLite's search since q001: int8 codes in sqlite-vec partitioned by is_public and category,
a shortlist re-ranked on the exact float vectors. The answers are the exact ranking's, the
partitions follow every change of a photo, and the migration carries the vectors both ways."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from catalog import vectors
from catalog.db import alembic_config, make_engine, migrate, migration_transaction, session_scope

CATEGORIES = ("Dress", "Pants", "Shirt")
AT = "2026-10-01 12:30:00"


@pytest.fixture
def engine(tmp_path) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    eng = make_engine(f"sqlite:///{tmp_path / 'catalogue.db'}")
    migrate(eng)
    yield eng
    eng.dispose()


def _photos(conn, n: int) -> dict[int, tuple[str, bool]]:  # type: ignore[no-untyped-def]
    """`n` photos, one post each, of one shop: id → (category, public); every 7th in review."""
    conn.execute(
        text(
            "INSERT INTO shops (id, network, handle, display_name, profile_url, base_url,"
            " account_id, active, inactive_reason, watermark, crawl_state, created_at)"
            " VALUES (1, 'bluesky', 'knit', '', '', '', '', true, '', '', '{}', :at)"
        ),
        {"at": AT},
    )
    out = {}
    for pid in range(1, n + 1):
        conn.execute(
            text(
                "INSERT INTO posts (id, shop_id, network, network_post_id, permalink, caption,"
                " title, price, vendor, product_type, tags, pinned, posted_at, fetched_at)"
                " VALUES (:id, 1, 'bluesky', :nid, '', '', '', '', '', '', '[]', false, :at, :at)"
            ),
            {"id": pid, "nid": f"p{pid}", "at": AT},
        )
        category, public = CATEGORIES[pid % 3], pid % 7 != 0
        conn.execute(
            text(
                "INSERT INTO photos (id, post_id, position, source_url, sha256, phash, width,"
                " height, stored_path, thumb_path, status, model_version, reviewed_by, version,"
                " created_at, category, is_public, shop_id, network, posted_at)"
                " VALUES (:id, :id, 0, '', :sha, '', 3, 3, '', '', :status, '', '', 1, :at,"
                " :cat, :public, 1, 'bluesky', :at)"
            ),
            {
                "id": pid,
                "sha": f"{pid:064x}",
                "status": "auto_accepted" if public else "needs_review",
                "cat": category,
                "public": public,
                "at": AT,
            },
        )
        out[pid] = (category, public)
    return out


def _vectors(n: int, seed: int = 3) -> np.ndarray:
    """Like embeddings of a catalogue: near their category's centre, unit length (row i is
    photo i + 1's)."""
    rng = np.random.default_rng(seed)
    centre = {c: rng.standard_normal(vectors.EMBEDDING_DIM) for c in CATEGORIES}
    v = np.stack([centre[CATEGORIES[pid % 3]] for pid in range(1, n + 1)])
    v += 1.2 * rng.standard_normal(v.shape)
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def _exact(m: np.ndarray, q: np.ndarray, ids: list[int], n: int) -> list[tuple[int, float]]:
    d = 1 - m[np.array(ids) - 1] @ q
    order = sorted(range(len(ids)), key=lambda j: (float(d[j]), ids[j]))[:n]
    return [(ids[j], float(d[j])) for j in order]


def test_the_quantised_search_ranks_as_the_exact_one(engine: Engine) -> None:
    n = 1500
    with session_scope(engine) as s:
        photos = _photos(s, n)
        m = _vectors(n)
        for pid in photos:
            vectors.store(s, pid, m[pid - 1], "m")
    public = [p for p, (_, pub) in photos.items() if pub]
    with Session(engine) as s:
        for q in (5, 77, 400, 1001, 1499):
            v = vectors.get(s, q)
            assert v is not None and np.array_equal(v, m[q - 1])  # stored exactly
            for kwargs, ids in (
                ({}, list(photos)),
                ({"public": True}, public),
                (
                    {"public": True, "categories": ("Pants",)},
                    [p for p in public if photos[p][0] == "Pants"],
                ),
                (
                    {"public": True, "categories": ("Dress", "Shirt")},
                    [p for p in public if photos[p][0] != "Pants"],
                ),
            ):
                got = vectors.nearest(s, v, 48, **kwargs)  # type: ignore[arg-type]
                want = _exact(m, v, ids, 48)
                assert [i for i, _ in got] == [i for i, _ in want], kwargs
                assert np.allclose([d for _, d in got], [d for _, d in want], atol=1e-5)


def test_the_partitions_follow_the_photos(engine: Engine) -> None:
    from catalog.queries import Filters

    with session_scope(engine) as s:
        photos = _photos(s, 60)
        m = _vectors(60)
        for pid in photos:
            vectors.store(s, pid, m[pid - 1], "m")
    pid = 10  # a public Pants
    assert photos[pid] == ("Pants", True)
    v = m[pid - 1]

    def found(**kwargs) -> list[int]:  # type: ignore[no-untyped-def]
        with Session(engine) as s:
            return [i for i, _ in vectors.nearest(s, v, 60, **kwargs)]

    assert pid in found(public=True, categories=("Pants",))
    with session_scope(engine) as s:  # a moderator corrects the category
        s.execute(text("UPDATE photos SET category = 'Shirt' WHERE id = :id"), {"id": pid})
    assert pid not in found(public=True, categories=("Pants",))
    assert found(public=True, categories=("Shirt",))[0] == pid
    with Session(engine) as s:  # and "more like this" of a Shirt finds it among shirts
        shirts = vectors.similar(s, 4, Filters(category=("Shirt",)), 60, per_shop=0)
        assert shirts is not None and pid in [x.item.id for x in shirts]
    with session_scope(engine) as s:  # taken off the catalogue
        s.execute(
            text("UPDATE photos SET status = 'needs_review', is_public = false WHERE id = :id"),
            {"id": pid},
        )
    assert pid not in found(public=True)
    assert found()[0] == pid  # still searchable without the public partition
    with session_scope(engine) as s:
        vectors.store(s, pid, m[0], "m2")  # a new model's vector: the code follows it
    with Session(engine) as s:
        assert {i for i, _ in vectors.nearest(s, m[0], 2)} == {1, pid}
    with session_scope(engine) as s:
        s.execute(text("DELETE FROM photos WHERE id = :id"), {"id": pid})
    assert pid not in found()
    with Session(engine) as s:
        assert vectors.get(s, pid) is None
        assert vectors.versions(s) == {"m": 59}


def test_q001_carries_the_vectors_up_and_down(engine: Engine) -> None:
    cfg = alembic_config(engine)
    with migration_transaction(engine) as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "m001")
    m = _vectors(30)
    with engine.begin() as conn:
        photos = _photos(conn, 30)
        for pid in photos:  # e001's layout: float vectors in vec0
            conn.execute(
                text(
                    f"INSERT INTO {vectors.SQLITE_TABLE} (photo_id, embedding, model_version)"
                    " VALUES (:id, :v, 'old')"
                ),
                {"id": pid, "v": m[pid - 1].tobytes()},
            )
    migrate(engine)
    with Session(engine) as s:
        assert vectors.versions(s) == {"old": 30}
        assert all(np.array_equal(vectors.get(s, p), m[p - 1]) for p in photos)  # type: ignore[arg-type]
        keys = s.execute(
            text(f"SELECT photo_id, is_public, category FROM {vectors.SQLITE_TABLE}")
        ).all()
        assert {(p, bool(pub), c) for p, pub, c in keys} == {
            (p, pub, c) for p, (c, pub) in photos.items()
        }
        assert [i for i, _ in vectors.nearest(s, m[4], 1)] == [5]
    with migration_transaction(engine) as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "m001")
    with engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT photo_id, embedding, model_version FROM {vectors.SQLITE_TABLE}")
        ).all()
        assert len(rows) == 30 and {r[2] for r in rows} == {"old"}
        assert all(np.array_equal(np.frombuffer(r[1], np.float32), m[r[0] - 1]) for r in rows)
        tables = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'"))
        assert vectors.SQLITE_EXACT not in set(tables.scalars())
