"""Where the suite's services are and how to reach them: the repository, PostgreSQL, Redis
(one database per pytest-xdist worker), CI's strictness, and a config file for a catalogue."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

REPO = Path(__file__).resolve().parents[2]
POSTGRES_URL = os.environ.get(
    "VITRINA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
IN_CI = bool(os.environ.get("CI"))


def worker_redis_url(base: str, worker: str | None) -> str:
    """`base` for a run without workers; for pytest-xdist's worker gwN the database N below
    base's (15 → 15, 14, 13, …; wrapping at 0), so that parallel workers never share a
    frontier. Redis has 16 databases (0-15) by default."""
    if not worker or not worker.startswith("gw"):
        return base
    parts = urlsplit(base)
    db = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(db - int(worker[2:])) % 16}"))


REDIS_URL = worker_redis_url(
    os.environ.get("VITRINA_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
    os.environ.get("PYTEST_XDIST_WORKER"),
)


def _unavailable(what: str, exc: BaseException) -> None:
    message = f"{what} is not reachable: {exc}"
    if IN_CI:
        pytest.fail(message + " (CI must run every test; .ci/run starts the services)")
    pytest.skip(message)


def _pg_admin_url() -> str:
    url = make_url(POSTGRES_URL)
    return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def fresh_postgres_url(template: str) -> tuple[str, Callable[[], None]]:
    admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    name = f"vitrina_t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    url = make_url(_pg_admin_url()).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


TEST_SECRET_KEY = "test-only-secret-key"


def write_config(
    tmp_path: Path, db_url: str, extra: str = "", *, default_secret: bool = False
) -> Path:
    """A config.toml in tmp_path pointing at `db_url` and a private media folder.

    It sets a test secret key (`vitrina serve` refuses the public default) unless `extra` sets
    its own or `default_secret` asks to keep the default."""
    if not default_secret and "secret_key" not in extra:
        key = f'secret_key = "{TEST_SECRET_KEY}"\n'
        extra = (
            extra.replace("[web]\n", "[web]\n" + key, 1)
            if "[web]\n" in extra
            else (extra + "\n[web]\n" + key)
        )
    path = tmp_path / "config.toml"
    path.write_text(
        f'[database]\nurl = "{db_url}"\n\n[storage]\nmedia_dir = "{tmp_path / "media"}"\n\n{extra}',
        encoding="utf-8",
    )
    return path


_READERS: dict[str, Engine] = {}


def reader(db_url: str) -> Engine:
    """An engine for the tests' own look at a catalogue, kept for the next look: a new engine
    opens a new connection (on SQLite, pragmas and the sqlite-vec extension), ten times the
    query's CPU, and tests that wait on a crawl look twenty times a second. The last few URLs
    only; a PostgreSQL database dropped after its test (WITH FORCE) ends its connections, and a
    SQLite file made again at the same path is a new file (its inode is part of the key)."""
    key = db_url
    if db_url.startswith("sqlite:///"):
        try:
            st = os.stat(db_url.removeprefix("sqlite:///"))
            key = f"{db_url}#{st.st_dev}:{st.st_ino}"
        except OSError:
            pass
    engine = _READERS.get(key)
    if engine is None:
        from catalog.db import make_engine

        while len(_READERS) >= 4:
            _READERS.pop(next(iter(_READERS))).dispose()
        engine = _READERS[key] = make_engine(db_url)
    return engine
