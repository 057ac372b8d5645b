"""Shared fixtures: a fresh catalogue per test on SQLite and on PostgreSQL. The helpers the
test modules import (REPO, write_config, fresh_postgres_url, …) are in tests/support/common.py.

PostgreSQL and Redis must answer in CI (`.ci/run` starts them); on a developer machine without
them the tests that need them are skipped with the reason, never silently passed.
"""

from __future__ import annotations

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


@pytest.fixture
def settings_for(tmp_path: Path):  # type: ignore[no-untyped-def]
    """settings_for(db_url, extra_toml) → (Settings, config path)."""

    def make(db_url: str, extra: str = "") -> tuple[Settings, Path]:
        path = write_config(tmp_path, db_url, extra)
        return load_settings(path, environ={}), path

    return make
