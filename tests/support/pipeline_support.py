"""Helpers shared by the pipeline, demo and scale-out tests (fixtures: pipeline_fixtures)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from sqlalchemy import text

from crawler.emulator.server import EmulatorServer
from tests.support.common import reader


def pipeline_toml(
    emu: EmulatorServer, model: str, tmp_path: Path, *, schedule: str = "", crawler: str = ""
) -> str:
    """The config (after [database]/[storage]) that points a catalogue at the emulator;
    `schedule` and `crawler` are extra lines for those tables."""
    emulator = emu.config_toml().replace("[crawler]\n", f"[crawler]\n{crawler}", 1)
    return (
        f'[classifier]\nmodel_dir = "{model}"\n\n'
        f'[schedule]\nlog_dir = "{tmp_path / "logs"}"\n{schedule}\n' + emulator + "\n"
    )


def scalar(db_url: str, sql: str) -> object:
    with reader(db_url).connect() as conn:
        return conn.execute(text(sql)).scalar()


def rows(db_url: str, sql: str) -> list[tuple]:
    with reader(db_url).connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def read_until(proc: subprocess.Popen[str], needle: str, timeout: float = 60) -> str:
    """A child's stdout up to and including the first line holding `needle`; fails with all
    that was printed if the line does not come within `timeout` seconds or the child exits."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return "".join(seen)
    raise AssertionError(f"{needle!r} not seen in:\n{''.join(seen)}")
