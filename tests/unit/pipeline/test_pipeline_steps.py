"""pipeline.steps: the pipeline's children (small Python programs here) run with their output
in a log, their status and the log lines that explain it; past the time limit a child and what
it started are stopped."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from catalog.config import Settings
from pipeline.steps import run_child, run_children, vitrina_argv


def py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_child_s_status_and_the_lines_that_explain_it(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "step.log"
    code = (
        "import sys\n"
        "print('I0101 00:00:00.1 absl noise')\n"  # TensorFlow's start-up chatter: not a reason
        "print('reading 3 shops')\n"
        "print('no such shop: lina', file=sys.stderr)\n"
        "sys.exit(3)"
    )
    result = run_child(py(code), log)
    assert result.returncode == 3 and not result.ok and not result.timed_out
    assert result.tail[-2:] == ["reading 3 shops", "no such shop: lina"]
    assert "I0101 00:00:00.1 absl noise" not in result.tail
    assert "I0101 00:00:00.1 absl noise\n" in log.read_text()  # the log keeps everything
    assert run_child(py("print('ok')"), log).ok


def test_past_its_time_limit_a_child_and_its_own_children_are_stopped(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    code = (
        "import subprocess, sys, time\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(60)"
    )
    started = time.monotonic()
    slow, quick = run_children(
        [(py(code), tmp_path / "slow.log"), (py("print('done')"), tmp_path / "quick.log")],
        timeout=3,
    )
    assert time.monotonic() - started < 30
    assert slow.timed_out and slow.returncode is None and not slow.ok
    assert quick.ok and not quick.timed_out and quick.seconds < slow.seconds
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(grandchild):
        time.sleep(0.1)
    assert not _alive(grandchild), "the child's own child outlived the time limit"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ")[1].startswith("Z"))


def test_children_run_the_same_interpreter_and_config(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    argv = vitrina_argv(Settings(source=str(config)), "crawl", "--json")
    assert argv == [sys.executable, "-m", "vitrina_cli.main", "--config", str(config.resolve()),
                    "crawl", "--json"]  # fmt: skip
    assert vitrina_argv(Settings(), "classify")[-2:] == ["vitrina_cli.main", "classify"]
