"""Shared fixtures: a fresh catalogue per test on SQLite and on PostgreSQL.

PostgreSQL and Redis must answer in CI (`.ci/run` starts them); on a developer machine without
them the tests that need them are skipped with the reason, never silently passed.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from catalog.config import Settings, load_settings
from catalog.db import make_engine, migrate

POSTGRES_URL = os.environ.get(
    "VITRINA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("VITRINA_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = bool(os.environ.get("CI"))
REPO = Path(__file__).resolve().parents[1]


def _unavailable(what: str, exc: BaseException) -> None:
    message = f"{what} is not reachable: {exc}"
    if IN_CI:
        pytest.fail(message + " (CI must run every test; .ci/run starts the services)")
    pytest.skip(message)


def _pg_admin_url() -> str:
    url = make_url(POSTGRES_URL)
    return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated template database; each test clones it (CREATE DATABASE … TEMPLATE)."""
    admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001
        admin.dispose()
        _unavailable("PostgreSQL", exc)
    name = f"vitrina_tmpl_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(_pg_admin_url()).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def fresh_postgres_url(template: str) -> tuple[str, callable]:
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


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, migrated catalogue: once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'catalogue.db'}"
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()
        yield url
        return
    template = request.getfixturevalue("pg_template")
    url, drop = fresh_postgres_url(template)
    yield url
    drop()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh, migrated SQLite catalogue only (for tests that are not about the engine)."""
    url = f"sqlite:///{tmp_path / 'catalogue.db'}"
    eng = make_engine(url)
    migrate(eng)
    eng.dispose()
    return url


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


@pytest.fixture
def settings_for(tmp_path: Path):  # type: ignore[no-untyped-def]
    """settings_for(db_url, extra_toml) → (Settings, config path)."""

    def make(db_url: str, extra: str = "") -> tuple[Settings, Path]:
        path = write_config(tmp_path, db_url, extra)
        return load_settings(path, environ={}), path

    return make
