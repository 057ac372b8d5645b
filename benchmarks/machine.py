"""What every benchmark prints beside its figures: the CPU model (lscpu) and the load."""

from __future__ import annotations

import os
import subprocess


def cpu_model() -> str:
    """'AMD EPYC …, 2 CPUs' from lscpu (figures differ between CPUs, so each table names it)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return f"unknown CPU (no lscpu), {os.cpu_count()} CPUs"
    name = next(
        (ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name")),
        "unknown CPU",
    )
    return f"{name}, {os.cpu_count()} CPUs"


def machine() -> str:
    """The CPU model and the 1/5/15-minute load averages, as one line."""
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"CPU: {cpu_model()}; load average {load}"
