"""Test files' run times, so that a parallel run starts the longest files first.

`pytest -n N --dist loadfile` hands whole files to the workers in collection order: a long file
that happens to sort last then runs alone at the end while the other workers idle. Ordering the
files longest first (the classic longest-processing-time rule) keeps every worker busy to the
end. The timings live in tests/durations.json; `make durations` measures a whole run and
rewrites it:

    python -m tests.support.durations var/junit.xml > tests/durations.json
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, TypeVar

from tests.support.common import REPO

DURATIONS = REPO / "tests" / "durations.json"


class _Item(Protocol):
    @property
    def path(self) -> Path: ...


T = TypeVar("T", bound=_Item)


def load(path: Path = DURATIONS) -> dict[str, float]:
    """{test file relative to the repository: seconds}, or {} while there are no timings."""
    try:
        return {k: float(v) for k, v in json.loads(path.read_text()).items()}
    except (OSError, ValueError):
        return {}


def longest_first(items: Sequence[T], seconds: dict[str, float]) -> list[T]:
    """`items` with the files that took longest first; a file with no timing yet counts as a
    median one; the tests of one file keep their order (the sort is stable)."""
    median = sorted(seconds.values())[len(seconds) // 2] if seconds else 0.0

    def key(item: T) -> float:
        return -seconds.get(item.path.relative_to(REPO).as_posix(), median)

    return sorted(items, key=key)


def from_junit(xml: Path) -> dict[str, float]:
    """Seconds per test file (setup + call + teardown of its tests) from pytest's JUnit XML,
    whose `classname` is the module path, then any class names."""
    totals: dict[str, float] = defaultdict(float)
    for case in ET.parse(xml).iter("testcase"):
        parts = case.get("classname", "").split(".")
        for end in range(len(parts), 0, -1):
            rel = "/".join(parts[:end]) + ".py"
            if (REPO / rel).is_file():
                totals[rel] += float(case.get("time") or 0)
                break
    return {k: round(v, 1) for k, v in sorted(totals.items(), key=lambda kv: -kv[1])}


if __name__ == "__main__":
    json.dump(from_junit(Path(sys.argv[1])), sys.stdout, indent=1)
    sys.stdout.write("\n")
