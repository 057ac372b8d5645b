"""The lock files install what pyproject.toml asks for: re-lock (`make lock`) after changing it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[3]
LOCK = ROOT / "requirements" / "lock.txt"
TEST_LOCK = ROOT / "requirements" / "test-lock.txt"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def pins(path: Path) -> dict[str, tuple[Version, list[str]]]:
    """name → (version, sha256 hashes) for each `name==version \\ --hash=…` entry of a lock."""
    found: dict[str, tuple[Version, list[str]]] = {}
    name = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if m := PIN.match(line):
            name = canonicalize_name(m.group(1))
            found[name] = (Version(m.group(2)), [])
        elif name and (h := re.search(r"--hash=sha256:([0-9a-f]{64})", line)):
            found[name][1].append(h.group(1))
    return found


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def check(requirements: list[str], lock: Path) -> list[str]:
    locked = pins(lock)
    problems = []
    for text in requirements:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        if name not in locked:
            problems.append(f"{req.name} is not in {lock.name}: run `make lock`")
        elif not req.specifier.contains(locked[name][0], prereleases=True):
            problems.append(f"{lock.name} pins {name}=={locked[name][0]}, outside {text!r}")
    return problems


@pytest.mark.parametrize(
    ("lock", "extras"), [(LOCK, ()), (TEST_LOCK, ("test",))], ids=["lock", "test-lock"]
)
def test_every_dependency_is_locked_within_its_range(lock: Path, extras: tuple[str, ...]) -> None:
    meta = project()
    wanted = list(meta["dependencies"])
    for extra in extras:
        wanted += meta["optional-dependencies"][extra]
    assert check(wanted, lock) == []


def test_the_check_catches_a_dependency_added_without_relocking() -> None:
    problems = check(["snowballstemmer>=2.2,<4", "not-a-vitrina-dependency>=1"], LOCK)
    assert problems == ["not-a-vitrina-dependency is not in lock.txt: run `make lock`"]
    assert check(["numpy>=99"], LOCK) == [
        f"lock.txt pins numpy=={pins(LOCK)['numpy'][0]}, outside 'numpy>=99'"
    ]


def test_main_dependencies_have_upper_bounds() -> None:
    # A new major release (Keras 4, SQLAlchemy 3…) is adopted deliberately, not by a re-lock.
    unbounded = [
        d for d in project()["dependencies"]
        if not any(s.operator in ("<", "<=", "==", "~=") for s in Requirement(d).specifier)
    ]
    assert unbounded == []


def test_every_pin_has_hashes_and_both_locks_agree() -> None:
    main, test = pins(LOCK), pins(TEST_LOCK)
    assert all(hashes for _, hashes in main.values()), "pip --require-hashes needs every hash"
    assert all(hashes for _, hashes in test.values())
    # The test lock is the main lock plus the test tools: same versions where they overlap, so
    # the tests exercise what `make run` installs.
    differ = {n: (v, test[n][0]) for n, (v, _) in main.items() if n in test and test[n][0] != v}
    assert differ == {}
    assert set(main) <= set(test)
    # setuptools is locked too: Vitrina itself is built with it (--no-build-isolation).
    assert "setuptools" in main
