"""One pipeline (or crawl, retraining, scheduler) at a time per catalogue, across processes and
machines. It lives with the catalogue because it is a lock on the catalogue: the pipeline, the
crawler and the scheduler all take it, and none of them may import another's code for it.

PostgreSQL: a session-level advisory lock held on a dedicated connection for the whole run; the
server drops it when the holder's connection ends, so a killed run never leaves it stuck.
SQLite: an OS file lock beside the database file (the catalogue lives on one machine anyway);
the kernel releases it when the holder dies.
"""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from filelock import FileLock, Timeout
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

# Fixed 64-bit key for pg_try_advisory_lock: "vitrina pipeline". Other advisory-lock users on the
# same database must pick another key.
ADVISORY_KEY = 0x76697472696E61  # b"vitrina"


class LockHeld(Exception):
    """Another pipeline holds the lock; the message says who, when known."""


def _holder_info() -> dict[str, object]:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
    }


_WHO = {"pipeline": "another pipeline run", "scheduler": "another scheduler"}


def _describe(name: str, info: dict[str, object] | None) -> str:
    who = _WHO.get(name, f"another {name} run")
    if not info:
        return f"{who} holds the lock"
    where = f"pid {info.get('pid')} on {info.get('host')}, since {info.get('since')}"
    return f"{who} holds the lock ({where})"


class PipelineLock:
    """`with PipelineLock(engine): ...` raises LockHeld at once if a run is already going."""

    def __init__(self, engine: Engine, name: str = "pipeline") -> None:
        self.engine = engine
        self.name = name
        self._conn: Connection | None = None
        self._file: FileLock | None = None
        self._info_path: Path | None = None

    # -- PostgreSQL ---------------------------------------------------------------------------
    def _key(self) -> int:
        # Distinct keys per lock name (pipeline, retrain) within the same database.
        return ADVISORY_KEY + sum(self.name.encode())

    def _acquire_pg(self) -> None:
        conn = self.engine.connect()
        # Autocommit: the lock belongs to the session, and no transaction stays open for hours.
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key()}).scalar()
        if not got:
            holder = conn.execute(
                text(
                    "SELECT a.pid, a.client_addr::text, a.application_name, a.backend_start "
                    "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted "
                    "AND ((l.classid::bigint << 32) | l.objid::bigint) = :k"
                ),
                {"k": self._key()},
            ).first()
            conn.close()
            info = None
            if holder is not None:
                info = {
                    "pid": f"backend {holder[0]}",
                    "host": holder[1] or "local socket",
                    "since": holder[3].isoformat(timespec="seconds") if holder[3] else "?",
                }
            raise LockHeld(_describe(self.name, info))
        self._conn = conn

    # -- SQLite -------------------------------------------------------------------------------
    def _lock_path(self) -> Path:
        db = self.engine.url.database
        if not db or db == ":memory:":
            base = Path(os.environ.get("TMPDIR", "/tmp")) / f"vitrina-{os.getuid()}"
            base.mkdir(parents=True, exist_ok=True)
            return base / f"{self.name}.lock"
        return Path(db).with_name(Path(db).name + f".{self.name}.lock")

    def _acquire_file(self) -> None:
        path = self._lock_path()
        lock = FileLock(str(path), timeout=0)
        info_path = path.with_suffix(path.suffix + ".json")
        try:
            lock.acquire()
        except Timeout:
            try:
                info = json.loads(info_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                info = None
            raise LockHeld(_describe(self.name, info)) from None
        info_path.write_text(json.dumps(_holder_info()), encoding="utf-8")
        self._file, self._info_path = lock, info_path

    # -- public -------------------------------------------------------------------------------
    def acquire(self) -> None:
        if self.engine.dialect.name == "postgresql":
            self._acquire_pg()
        else:
            self._acquire_file()

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key()})
            finally:
                self._conn.close()
                self._conn = None
        if self._file is not None:
            if self._info_path is not None:
                self._info_path.unlink(missing_ok=True)
            self._file.release()
            self._file = None

    def __enter__(self) -> PipelineLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
