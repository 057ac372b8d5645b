"""The suite's file timings: longest first, and no timing left for a file that is gone."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.support import durations
from tests.support.common import REPO


@dataclass
class Item:
    path: Path
    name: str


def test_longest_files_come_first_and_a_files_tests_keep_their_order() -> None:
    a, b, c = (REPO / "tests" / f"{n}.py" for n in "abc")
    items = [Item(a, "a1"), Item(a, "a2"), Item(b, "b1"), Item(c, "c1"), Item(b, "b2")]
    seconds = {"tests/a.py": 1.0, "tests/b.py": 30.0, "tests/c.py": 5.0}
    order = [i.name for i in durations.longest_first(items, seconds)]
    assert order == ["b1", "b2", "c1", "a1", "a2"]


def test_a_file_without_a_timing_counts_as_a_median_one() -> None:
    new = Item(REPO / "tests" / "new.py", "new")
    seconds = {f"tests/{n}.py": s for n, s in (("a", 1.0), ("b", 10.0), ("c", 100.0))}
    items = [Item(REPO / "tests" / f"{n}.py", n) for n in "abc"] + [new]
    assert [i.name for i in durations.longest_first(items, seconds)] == ["c", "b", "new", "a"]


def test_the_committed_timings_name_existing_test_files() -> None:
    seconds = durations.load()
    assert seconds, "tests/durations.json is missing or empty: run `make durations`"
    gone = [rel for rel in seconds if not (REPO / rel).is_file()]
    assert not gone, f"timings for test files that no longer exist: {gone} (`make durations`)"
    assert all(s >= 0 for s in seconds.values())


def test_timings_are_read_from_pytests_junit_xml(tmp_path: Path) -> None:
    xml = tmp_path / "junit.xml"
    xml.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="tests.unit.repo.test_durations" name="t1" time="1.25"/>'
        '<testcase classname="tests.unit.repo.test_durations.TestX" name="t2" time="2.5"/>'
        '<testcase classname="tests.unit.repo.test_test_layout" name="t3" time="0.5"/>'
        "</testsuite></testsuites>"
    )
    assert durations.from_junit(xml) == {
        "tests/unit/repo/test_durations.py": 3.8,
        "tests/unit/repo/test_test_layout.py": 0.5,
    }
