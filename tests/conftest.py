"""Shared fixtures: a fresh catalogue per test on SQLite and on PostgreSQL. The helpers the
test modules import (REPO, write_config, fresh_postgres_url, …) are in tests/support/common.py.

PostgreSQL and Redis must answer in CI (`.ci/run` starts them); on a developer machine without
them the tests that need them are skipped with the reason, never silently passed.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from catalog.config import Settings, load_settings
from catalog.db import make_engine, migrate
from tests.support import durations
from tests.support.common import _pg_admin_url, _unavailable, fresh_postgres_url, write_config

INTEGRATION = Path(__file__).resolve().parent / "integration"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/integration/ is slow (`-m "not slow"` leaves the layer out), and
    the longest test files run first, so that `--dist loadfile` keeps every worker busy to the
    end (tests/support/durations.py)."""
    for item in items:
        if item.path.is_relative_to(INTEGRATION):
            item.add_marker(pytest.mark.slow)
    items[:] = durations.longest_first(items, durations.load())


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


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite catalogue file; each test gets a copy (as pg_template is cloned): what
    `migrate` makes of an empty file, for a file copy's CPU instead of the whole chain's (~60 ms).
    Checkpointed first, so that the one file holds it all (no -wal beside it)."""
    path = tmp_path_factory.mktemp("sqlite_template") / "catalogue.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    assert not path.with_name(path.name + "-wal").exists()
    return path


def _sqlite_copy(template: Path, tmp_path: Path) -> str:
    db = tmp_path / "catalogue.db"
    shutil.copyfile(template, db)
    return f"sqlite:///{db}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, migrated catalogue: once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        yield _sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path)
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
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A fresh, migrated SQLite catalogue only (for tests that are not about the engine)."""
    return _sqlite_copy(sqlite_template, tmp_path)


@pytest.fixture
def settings_for(tmp_path: Path):  # type: ignore[no-untyped-def]
    """settings_for(db_url, extra_toml) → (Settings, config path)."""

    def make(db_url: str, extra: str = "") -> tuple[Settings, Path]:
        path = write_config(tmp_path, db_url, extra)
        return load_settings(path, environ={}), path

    return make
