"""Only `vitrina init` migrates, atomically and under a lock; every other command refuses a
catalogue whose schema is not this version's head, naming `vitrina init`."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from catalog.db import (
    MIGRATION_LOCK_KEY,
    current_revision,
    declared_heads,
    head_revisions,
    make_engine,
    migrate,
)
from tests.support.common import fresh_postgres_url, write_config

REPO = Path(__file__).resolve().parents[3]
VITRINA = [sys.executable, "-m", "vitrina_cli.main"]

# `vitrina init` with a real SIGKILL at its KILL_AT-th SQL statement or commit (counted by
# SQLAlchemy's engine events), so each run dies at a known point inside the first migration.
KILLING_INIT = """
import os, signal, sys
from sqlalchemy import event
from sqlalchemy.engine import Engine

kill_at = int(os.environ["KILL_AT"])
seen = 0
commits = []

def tick(*_args, **_kw):
    global seen
    seen += 1
    if seen == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)

event.listen(Engine, "before_cursor_execute", tick)
event.listen(Engine, "commit", lambda conn: (tick(), commits.append(seen)))

from vitrina_cli.main import app

try:
    app(sys.argv[1:])
finally:
    print("events", seen, "commits", *commits, file=sys.stderr)
"""


def _init(cfg: Path, kill_at: int = 0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", KILLING_INIT, "--config", str(cfg), "init"],
        cwd=REPO,
        env={**os.environ, "KILL_AT": str(kill_at)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _tables_and_version(db: Path) -> tuple[set[str], list[str]]:
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        version = (
            [r[0] for r in conn.execute("SELECT version_num FROM alembic_version")]
            if "alembic_version" in tables
            else []
        )
    return tables, version


def test_sigkill_during_the_first_init_never_leaves_a_half_made_schema(tmp_path: Path) -> None:
    # How many statements a whole first `init` runs, and which event is the migration's commit.
    (tmp_path / "probe").mkdir()
    probe = _init(write_config(tmp_path / "probe", f"sqlite:///{tmp_path / 'probe.db'}"))
    assert probe.returncode == 0, probe.stderr
    counts = probe.stderr.split("events ")[-1].split()
    first_commit = int(counts[counts.index("commits") + 1])
    assert first_commit > 20  # the first migration is dozens of statements, then one commit

    db = tmp_path / "catalogue.db"
    cfg = write_config(tmp_path, f"sqlite:///{db}")
    # From the first statement to the commit itself, the version row already written.
    points = sorted({2, first_commit // 4, first_commit // 2, first_commit - 2, first_commit})
    for at in points:
        killed = _init(cfg, kill_at=at)
        assert killed.returncode == -signal.SIGKILL, (at, killed.stderr)
        tables, version = _tables_and_version(db)
        # Killed before its commit, the migration left nothing behind: no table without a
        # revision, which would make every later `init` fail with "table … already exists".
        assert tables <= {"alembic_version"} and version == [], (at, tables)
    done = _init(cfg)
    assert done.returncode == 0, done.stderr
    assert "catalogue ready" in done.stdout
    assert _tables_and_version(db)[1] == list(head_revisions(make_engine(f"sqlite:///{db}")))


def _vitrina(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*VITRINA, "--config", str(cfg), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )


# Read-only commands too: an old schema gives wrong answers, a newer one worse.
COMMANDS = [
    ("runs",),
    ("shops", "list"),
    ("moderators", "list"),
    ("crawl",),
    ("run-nightly",),
    ("serve", "--port", "1"),
    ("schedule",),
]


def test_commands_refuse_a_catalogue_without_a_schema(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    cfg = write_config(tmp_path, f"sqlite:///{db}")
    for args in COMMANDS:
        result = _vitrina(cfg, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert "has no schema yet: run `vitrina init`" in result.stderr, (args, result.stderr)
    # Nothing was created behind the operator's back.
    assert _tables_and_version(db)[0] == set()
    assert _vitrina(cfg, "init").returncode == 0
    assert _vitrina(cfg, "runs").returncode == 0


def test_an_older_or_unknown_schema_is_refused_until_init(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    head = head_revisions(engine)
    cfg = write_config(tmp_path, db_url)
    with engine.begin() as conn:  # as a catalogue last migrated by the previous release
        conn.execute(text("UPDATE alembic_version SET version_num = 'c001'"))
    result = _vitrina(cfg, "runs")
    assert result.returncode == 2
    assert "has schema revision c001; this Vitrina needs" in result.stderr
    assert "run `vitrina init` to upgrade it" in result.stderr

    with engine.begin() as conn:  # as upgraded by a newer Vitrina than this one
        conn.execute(text("UPDATE alembic_version SET version_num = 'zz99'"))
    result = _vitrina(cfg, "shops", "list")
    assert result.returncode == 2 and "which this Vitrina does not know" in result.stderr

    with engine.begin() as conn:
        conn.execute(text(f"UPDATE alembic_version SET version_num = '{head[0]}'"))
    assert _vitrina(cfg, "runs").returncode == 0
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_concurrent_inits_take_turns_under_the_migration_lock(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        url, drop = f"sqlite:///{tmp_path / 'c.db'}", None
    else:
        request.getfixturevalue("pg_template")  # fails clearly where PostgreSQL is missing
        url, drop = fresh_postgres_url("template0")  # an empty database
    cfg = write_config(tmp_path, url)
    holder = make_engine(url)  # on SQLite in WAL mode, as every catalogue is once opened
    try:
        with holder.connect() as conn:
            if backend == "postgresql":  # the lock `migrate` takes, held by someone else
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
            else:  # SQLite's write lock, which `migrate` takes with BEGIN IMMEDIATE
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            inits = [
                subprocess.Popen(
                    [*VITRINA, "--config", str(cfg), "init"],
                    cwd=REPO,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for _ in range(2)
            ]
            time.sleep(4)
            assert [p.poll() for p in inits] == [None, None], [p.communicate() for p in inits]
            if backend == "postgresql":
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY})
            else:
                conn.exec_driver_sql("ROLLBACK")
            outs = [p.communicate(timeout=60) for p in inits]
        assert [p.returncode for p in inits] == [0, 0], [err for _, err in outs]
        engine = make_engine(url)
        assert current_revision(engine) == head_revisions(engine)[0]
        engine.dispose()
    finally:
        holder.dispose()
        if drop:
            drop()


def test_migrate_twice_in_one_process_is_a_no_op(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    migrate(engine)
    migrate(engine)
    assert current_revision(engine) == head_revisions(engine)[0]
    # The connection went back to the pool with pysqlite's own transaction handling restored.
    with engine.connect() as conn:
        assert conn.connection.dbapi_connection.isolation_level == ""
    engine.dispose()


def test_init_names_a_half_made_schema_left_by_an_older_vitrina(tmp_path: Path) -> None:
    # What an interrupted first migration used to leave: tables, but no Alembic revision.
    db = tmp_path / "c.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE crawl_runs (id INTEGER PRIMARY KEY)")
    result = _vitrina(write_config(tmp_path, f"sqlite:///{db}"), "init")
    assert result.returncode == 2
    assert "has tables but no schema revision" in result.stderr
    assert "then run `vitrina init` again" in result.stderr


def test_the_heads_read_from_the_migration_files_are_alembics(tmp_path: Path) -> None:
    # require_current's quick answer for a catalogue at head reads them as text, not via Alembic.
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    assert declared_heads() == frozenset(head_revisions(engine))
    engine.dispose()
