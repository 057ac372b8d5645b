"""The suite's own layout (docs/development.md, "Tests"): every test module in a layer and a
part, helpers only in tests/support/, and every product module reachable from some test."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
TESTS = REPO / "tests"
SUPPORT = TESTS / "support"
PARTS = ("catalog", "crawler", "classifier", "web", "vitrina_cli", "demo", "pipeline")
# Loaded by name by another library, never imported: Alembic runs migrations/env.py, Scrapy
# reads its downloader from a settings string, uvicorn's workers import
# web.asgi from the string "web.asgi:app". Tests reach each through a real command.
LOADED_BY_NAME = {
    "catalog.migrations": "alembic (catalog/alembic.ini script_location)",
    "catalog.migrations.env": "alembic (catalog/alembic.ini script_location)",
    "crawler.downloader": "Scrapy DOWNLOADER",
    "web.asgi": 'uvicorn "web.asgi:app"',
}


def _python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def _module_of(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every absolute module a file imports (anywhere in it, functions included), and the
    `pytest_plugins` it loads; `from a import b` counts as a and as a.b."""
    out: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                package = _module_of(path).split(".")
                if path.name != "__init__.py":
                    package = package[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join(package + ([node.module] if node.module else []))
            else:
                base = node.module
            out |= {base} | {f"{base}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytest_plugins" for t in node.targets
        ):
            out |= {c.value for c in ast.walk(node.value) if isinstance(c, ast.Constant)}
    return out


def test_no_test_module_imports_another_test_module_or_benchmark_code() -> None:
    wrong = []
    for path in _python_files(TESTS):
        for name in sorted(_imports(path)):
            top = name.split(".")
            if top[0] == "benchmarks" or (
                top[0] == "tests" and len(top) > 1 and top[1] != "support"
            ):
                wrong.append(f"{path.relative_to(REPO)} imports {name}")
    assert not wrong, "helpers belong in tests/support/:\n" + "\n".join(wrong)


def test_every_test_module_is_in_a_layer_and_a_part() -> None:
    """tests/unit/<part>/ or tests/integration/<part>/, each folder a package (so two parts
    may hold test files of the same name)."""
    wrong = []
    for path in _python_files(TESTS):
        rel = path.relative_to(TESTS)
        if path.name.startswith("test_"):
            if len(rel.parts) != 3 or rel.parts[0] not in ("unit", "integration"):
                wrong.append(f"{rel}: not in unit/<part>/ or integration/<part>/")
        elif rel.parts[0] not in ("support", "unit", "integration") and rel.name not in (
            "__init__.py",
            "conftest.py",
        ):
            wrong.append(f"{rel}: a helper belongs in tests/support/")
        for folder in path.relative_to(REPO).parents[:-1]:
            if not (REPO / folder / "__init__.py").is_file():
                wrong.append(f"{folder}/ has no __init__.py")
    assert not wrong, "\n".join(sorted(set(wrong)))


def test_every_product_module_is_reached_by_a_test() -> None:
    """Each module of the product is imported by a test, or by a module a test imports
    (transitively), or loaded by name by a library a test drives (LOADED_BY_NAME). A new
    module that nothing reaches fails here until a test exercises it."""
    modules = {_module_of(p): p for part in PARTS for p in _python_files(REPO / part)}
    modules = {m: p for m, p in modules.items() if ".migrations.versions" not in m}
    modules["scheduler"] = REPO / "scheduler.py"
    imports = {m: _imports(p) & modules.keys() for m, p in modules.items()}
    todo = [m for p in _python_files(TESTS) for m in _imports(p) if m in modules]
    reached: set[str] = set()
    while todo:
        name = todo.pop()
        if name in reached:
            continue
        reached.add(name)
        pieces = name.split(".")
        todo += [".".join(pieces[:i]) for i in range(1, len(pieces))]  # its packages load too
        todo += imports[name]
    missing = sorted(set(modules) - reached - LOADED_BY_NAME.keys())
    assert not missing, "modules no test reaches: " + ", ".join(missing)
    assert reached.isdisjoint(LOADED_BY_NAME), "imported now: drop from LOADED_BY_NAME"
    assert LOADED_BY_NAME.keys() <= modules.keys(), "LOADED_BY_NAME names a module that is gone"
