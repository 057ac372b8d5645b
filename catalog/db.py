"""Engines, sessions and migrations for SQLite (default) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, create_engine

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


def _sqlite_pragmas(dbapi_conn, _record, busy_ms: int = 30000) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    # WAL lets the web app read while the nightly job writes; busy_timeout rides out short locks.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


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
        engine = create_engine(
            url,
            echo=echo,
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


def include_object(obj, name, type_, reflected, compare_to) -> bool:  # type: ignore[no-untyped-def]
    """Alembic filter: skip other libraries' tables and the raw-SQL full-text search objects."""
    from catalog.search import include_object as search_objects

    if type_ == "table" and name in FOREIGN_TABLES:
        return False
    return search_objects(obj, name, type_, reflected, compare_to)


def alembic_config(engine: Engine):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Apply the Alembic migrations up to `revision` (idempotent)."""
    from alembic import command

    check_connection(engine)
    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


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
