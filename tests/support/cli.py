"""The `vitrina` command line as a real subprocess, the way an operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def vitrina(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("VITRINA_")}
    full_env.update({"COLUMNS": "200", "NO_COLOR": "1"}, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "vitrina_cli.main", *args],
        cwd=cwd,
        env=full_env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
