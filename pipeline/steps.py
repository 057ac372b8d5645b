"""Running one step of the pipeline as a child process, with a log file and a time limit.

The crawl must run in a child: Scrapy's Twisted reactor cannot be restarted in the same
process, and a child also keeps TensorFlow's memory out of the long-lived scheduler.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from catalog.config import Settings

# Log lines that never explain a failure (TensorFlow/absl start-up messages).
_NOISE = re.compile(r"^([IW]\d{4} |WARNING: All log messages|.*cuda drivers|.*oneDNN custom)")

# Set by the scheduler on shutdown: a running step stops its child and the run is recorded as
# interrupted (signals only reach the main thread; steps run in worker threads there).
STOP = threading.Event()


class Interrupted(BaseException):  # not Exception: "a step failed, go on" must not catch it
    """The step was stopped because the process is shutting down (see STOP)."""


@dataclass
class ChildResult:
    returncode: int | None  # None: killed for running past its time limit
    seconds: float
    log_path: Path
    tail: list[str] = field(default_factory=list)
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def vitrina_argv(settings: Settings, *args: str) -> list[str]:
    """`python -m vitrina_cli.main [--config FILE] ARGS`, with the interpreter we run under."""
    argv = [sys.executable, "-m", "vitrina_cli.main"]
    if settings.source and settings.source != "<defaults>":
        argv += ["--config", str(Path(settings.source).resolve())]
    return argv + list(args)


def _stop(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM the child's process group, then SIGKILL what is left after `grace` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue


def child_setup() -> None:
    """In the child, before exec: its own process group (so stopping it stops what it started),
    and on Linux a SIGTERM when its parent dies, so a killed pipeline leaves no orphan crawl
    writing to the catalogue after the lock is gone."""
    os.setsid()
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def run_child(
    argv: list[str],
    log_path: Path,
    *,
    timeout: float | None = None,
    env: dict[str, str] | None = None,
) -> ChildResult:
    """Run `argv` with stdout+stderr into `log_path`; return its status and the log's last lines.

    The child gets its own process group so that stopping it also stops whatever it started;
    if we are interrupted (Ctrl-C, SIGTERM) the child is stopped before the exception goes on.
    """
    return run_children([(argv, log_path)], timeout=timeout, env=env)[0]


def run_children(
    jobs: list[tuple[list[str], Path]],
    *,
    timeout: float | None = None,
    env: dict[str, str] | None = None,
    tail_lines: int = 30,
) -> list[ChildResult]:
    """Run several children side by side (e.g. crawl processes sharing a Redis frontier)."""
    child_env = dict(os.environ if env is None else env)
    # Plain, wide output in the log; rich would otherwise wrap at 80 columns.
    child_env.setdefault("COLUMNS", "160")
    child_env["PYTHONUNBUFFERED"] = "1"
    # TensorFlow's C++ start-up chatter would bury the lines that explain a failure.
    child_env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    procs: list[subprocess.Popen[bytes]] = []
    ended: list[float | None] = [None] * len(jobs)
    timed_out = False
    try:
        for argv, log_path in jobs:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with log_path.open("ab") as log:
                log.write(f"$ {' '.join(argv)}\n".encode())
                log.flush()
                procs.append(
                    subprocess.Popen(
                        argv,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env=child_env,
                        preexec_fn=child_setup,
                    )
                )
        while any(p.poll() is None for p in procs):
            if STOP.is_set():
                raise Interrupted("shutting down")
            if deadline is not None and time.monotonic() >= deadline:
                timed_out = True
                for p in procs:
                    _stop(p)
                break
            for i, p in enumerate(procs):
                if ended[i] is None and p.poll() is not None:
                    ended[i] = time.monotonic()
            alive = [p for p in procs if p.poll() is None]
            if alive:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    alive[0].wait(timeout=0.5)
    except BaseException:
        for p in procs:
            _stop(p)
        raise
    now = time.monotonic()
    results = []
    for i, ((_argv, log_path), p) in enumerate(zip(jobs, procs, strict=True)):
        tail: deque[str] = deque(maxlen=tail_lines)
        with log_path.open("r", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.strip() and not _NOISE.match(line):
                    tail.append(line.rstrip())
        killed = timed_out and (ended[i] is None)
        results.append(
            ChildResult(
                returncode=None if killed else p.returncode,
                seconds=(ended[i] or now) - started,
                log_path=log_path,
                tail=list(tail),
                timed_out=killed,
            )
        )
    return results
