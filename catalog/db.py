"""Engines, sessions and migrations for SQLite (default) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, create_engine

if TYPE_CHECKING:  # imported where used: only migrations need Alembic
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class DatabaseUnavailable(Exception):
    """The database URL cannot be reached or opened; the message masks any password."""

    def __init__(self, url: str, error: BaseException | str):
        self.url = mask_url(url)
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        super().__init__(f"cannot open database {self.url}: {reason}")


def mask_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a URL too broken to parse is still worth showing
        return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any, busy_ms: int = 30000) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets the web app read while the nightly job writes; busy_timeout rides out short locks.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()
    from catalog.vectors import load_sqlite_vec

    load_sqlite_vec(dbapi_conn)  # the photo_vectors table (vec0) needs it on every connection


def make_engine(
    url: str, *, echo: bool = False, busy_timeout_s: float = 30, pg_options: str = ""
) -> Engine:
    """An engine for `url`; creates the SQLite file's folder so a fresh checkout just works.

    `busy_timeout_s`: how long SQLite waits for another writer's lock; `pg_options`: PostgreSQL
    session settings (e.g. "-c statement_timeout=15000"), as the web app sets for its requests.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        from catalog.vectors import sqlite_dbapi

        engine = create_engine(
            url,
            echo=echo,
            module=sqlite_dbapi(),
            connect_args={"check_same_thread": False, "timeout": busy_timeout_s},
        )
        busy_ms = int(busy_timeout_s * 1000)
        event.listen(engine, "connect", lambda c, r: _sqlite_pragmas(c, r, busy_ms))
        return engine
    connect_args: dict[str, object] = {"connect_timeout": 10}
    if pg_options:
        connect_args["options"] = pg_options
    return create_engine(url, echo=echo, pool_pre_ping=True, connect_args=connect_args)


def check_connection(engine: Engine) -> None:
    """Raise DatabaseUnavailable with the masked URL if the database does not answer."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        raise DatabaseUnavailable(str(engine.url), getattr(exc, "orig", None) or exc) from exc


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


# Tables other libraries keep in the catalogue database (APScheduler's SQLAlchemy job store).
FOREIGN_TABLES = frozenset({"apscheduler_jobs"})


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic filter: skip other libraries' tables and the raw-SQL full-text search objects."""
    from catalog.search import include_object as search_objects
    from catalog.vectors import include_object as vector_objects

    if type_ == "table" and name in FOREIGN_TABLES:
        return False
    return search_objects(obj, name, type_, reflected, compare_to) and vector_objects(
        obj, name, type_, reflected, compare_to
    )


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    cfg.attributes["engine"] = engine
    return cfg


# Key of the PostgreSQL advisory lock held while migrating ("vitrina" in ASCII): two `vitrina init`
# started at once take turns; the second finds the schema at head and does nothing.
MIGRATION_LOCK_KEY = 0x76697472696E61


class SchemaNotCurrent(Exception):
    """The catalogue's schema revision is not this Vitrina's head; `vitrina init` upgrades it."""


@contextmanager
def migration_transaction(engine: Engine) -> Iterator[Connection]:
    """One connection and one transaction for the whole upgrade, taken under a lock.

    Every migration and Alembic's version row commit together or not at all: a process killed
    halfway leaves the catalogue as it was, never tables without a revision. PostgreSQL has
    transactional DDL as it is; pysqlite, left to itself, runs DDL outside any transaction (it
    only BEGINs before DML), so on SQLite its own transaction handling is switched off for this
    connection and an explicit BEGIN IMMEDIATE takes the database's write lock up front.
    """
    with engine.connect() as conn:
        if is_postgres(engine):
            with conn.begin():
                lock = text("SELECT pg_advisory_xact_lock(:key)")
                conn.execute(lock, {"key": MIGRATION_LOCK_KEY})
                yield conn
            return
        raw = conn.connection.dbapi_connection
        assert raw is not None  # a connection just opened
        saved = raw.isolation_level
        raw.isolation_level = None
        # Batch mode rebuilds a table (CREATE new, copy, DROP old, rename): with foreign keys
        # on, that DROP would cascade and delete every photo of a rebuilt `posts`. The pragma is
        # a no-op inside a transaction, so it goes before BEGIN; foreign_key_check then proves
        # the rebuilt tables still hold together before anything commits.
        raw.execute("PRAGMA foreign_keys=OFF")  # not via SQLAlchemy: no autobegin
        try:
            with conn.begin():  # SQLAlchemy's bookkeeping; COMMIT/ROLLBACK go to pysqlite
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                yield conn
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"migration left broken foreign keys: {broken[:5]}")
        finally:
            raw.execute("PRAGMA foreign_keys=ON")
            raw.isolation_level = saved


def migrate(engine: Engine, revision: str = "head") -> None:
    """Apply the Alembic migrations up to `revision` atomically, under a lock (idempotent)."""
    from alembic import command

    check_connection(engine)
    cfg = alembic_config(engine)
    try:
        with migration_transaction(engine) as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except SQLAlchemyError as exc:
        if current_revision(engine) is None and _catalogue_tables(engine):
            raise SchemaNotCurrent(
                f"the catalogue at {mask_url(str(engine.url))} has tables but no schema revision "
                "(an older Vitrina's first `vitrina init` was interrupted): delete or empty that "
                "database, then run `vitrina init` again"
            ) from exc
        raise


def _catalogue_tables(engine: Engine) -> list[str]:
    from sqlalchemy import inspect

    return [t for t in inspect(engine).get_table_names() if t not in FOREIGN_TABLES]


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revisions(engine: Engine) -> tuple[str, ...]:
    from alembic.script import ScriptDirectory

    return tuple(ScriptDirectory.from_config(alembic_config(engine)).get_heads())


def _known_revision(engine: Engine, revision: str) -> bool:
    from alembic.script import ScriptDirectory
    from alembic.script.revision import RevisionError
    from alembic.util import CommandError

    script = ScriptDirectory.from_config(alembic_config(engine))
    try:
        return script.get_revision(revision) is not None
    except (RevisionError, CommandError):
        return False


_REVISION_LINE = re.compile(
    r"^(down_revision|revision)\s*(?::[^=]+)?=\s*(None|'([^'\n]*)'|\"([^\"\n]*)\")\s*$", re.M
)


@functools.cache
def declared_heads() -> frozenset[str] | None:
    """The head revisions as the migration files declare them, read as text (Alembic itself,
    its import and every migration module's, costs each command about 0.1 s of CPU); None where a
    file declares its revisions any other way (a merge's tuple), which leaves it to Alembic.
    tests/unit/catalog: equal to Alembic's heads."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        if path.name.startswith("__"):
            continue
        found = {m[0]: m[2] or m[3] for m in _REVISION_LINE.findall(path.read_text("utf-8"))}
        if not found.get("revision") or "down_revision" not in found:
            return None
        revisions.add(found["revision"])
        if found["down_revision"]:
            parents.add(found["down_revision"])
    return frozenset(revisions - parents) or None


def _stored_heads(engine: Engine) -> frozenset[str] | None:
    """The catalogue's revisions from Alembic's version table; None where it cannot be read."""
    try:
        with engine.connect() as conn:
            return frozenset(
                conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
            )
    except SQLAlchemyError:
        return None


def require_current(engine: Engine) -> None:
    """Raise SchemaNotCurrent, naming `vitrina init`, unless the schema is at this code's head.

    Only `vitrina init` (and `vitrina serve --migrate`) migrate: an upgrade is a deliberate step,
    not a side effect of whichever command happens to start first after a deploy. A catalogue at
    head is told without Alembic (every command asks, the crawl twice); any other answer is
    Alembic's.
    """
    check_connection(engine)
    declared = declared_heads()
    if declared is not None and _stored_heads(engine) == declared:
        return
    from alembic.runtime.migration import MigrationContext

    heads = head_revisions(engine)
    with engine.connect() as conn:
        current = tuple(MigrationContext.configure(conn).get_current_heads())
    if set(current) == set(heads):
        return
    where = f"the catalogue at {mask_url(str(engine.url))}"
    want = ", ".join(heads)
    if not current:
        raise SchemaNotCurrent(f"{where} has no schema yet: run `vitrina init` to create it")
    have = ", ".join(current)
    if not all(_known_revision(engine, r) for r in current):
        raise SchemaNotCurrent(
            f"{where} has schema revision {have}, which this Vitrina does not know (it needs "
            f"{want}): was it upgraded by a newer Vitrina? Run that version, or its `vitrina init`"
        )
    raise SchemaNotCurrent(
        f"{where} has schema revision {have}; this Vitrina needs {want}: "
        "run `vitrina init` to upgrade it"
    )


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
