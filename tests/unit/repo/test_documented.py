"""What an operator can type or set is written down: every `vitrina` command in the README (or
docs/*.md), every settings key in config.toml with a comment, every section in the README; and
migration files sort in the order of their chain."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main
from pydantic import BaseModel

from catalog.config import Settings
from catalog.db import MIGRATIONS_DIR
from vitrina_cli.main import app

ROOT = Path(__file__).resolve().parents[3]


def _docs() -> str:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return "\n".join(p.read_text(encoding="utf-8") for p in pages)


def _commands(command, path: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    subcommands = getattr(command, "commands", None)
    if subcommands:
        for name, sub in subcommands.items():
            yield from _commands(sub, (*path, name))
    elif not command.hidden:
        yield " ".join(path)


def test_every_command_is_documented() -> None:
    docs = _docs()
    commands = list(_commands(typer.main.get_command(app)))
    assert {"init", "serve", "runs", "shops add", "moderators token"} <= set(commands)
    missing = [c for c in commands if f"`vitrina {c}" not in docs]
    assert missing == [], "add these to the README's command table"


def _keys(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str]]:
    """(section, key) for every leaf setting; [[shops]] entries count as section "shops"."""
    out = []
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        kind = field.annotation
        item = getattr(kind, "__args__", (None,))[0] if getattr(kind, "__origin__", None) else None
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            out += _keys(kind, f"{prefix}{name}.")
        elif isinstance(item, type) and issubclass(item, BaseModel):  # list[ShopConfig]
            out += [(f"{prefix}{name}", key) for _, key in _keys(item)]
        else:
            out.append((prefix.rstrip("."), name))
    return out


def _is_doc(line: str) -> bool:
    """A comment line that says something (not a commented-out key or table header)."""
    return line.startswith("#") and not re.match(r"#\s*([a-z_]+ = |\[)", line) and line != "#"


def test_every_settings_key_is_in_config_toml_with_a_comment() -> None:
    lines = (ROOT / "config.toml").read_text(encoding="utf-8").splitlines()
    section, seen = "", {}
    described: list[str] = []  # `# key: what it is` lines, for the table that follows them
    for i, line in enumerate(lines):
        bare = line.lstrip("# ").strip()
        if m := re.fullmatch(r"\[\[?([a-z_.]+)\]\]?", bare):
            section = m.group(1)
            for key in described:
                seen[(section, key)] = True
            described = []
        elif line.startswith("#") and (m := re.match(r"([a-z_]+):\s", bare)):
            described.append(m.group(1))
        elif m := re.match(r"([a-z_]+) = ", bare):
            # Documented: an inline `#`, or a comment heading its group of keys.
            j = i - 1
            while j >= 0 and re.match(r"#?\s*[a-z_]+ = ", lines[j]):
                j -= 1
            heading = j >= 0 and _is_doc(lines[j])
            seen.setdefault((section, m.group(1)), heading or " # " in line)
    keys = _keys(Settings)
    assert ("database", "url") in keys and ("shops", "handle") in keys
    assert [k for k in keys if k not in seen] == [], "config.toml lacks these keys"
    assert [k for k in keys if not seen[k]] == [], "these keys in config.toml have no comment"


def test_every_settings_section_is_in_the_readme() -> None:
    docs = _docs()
    sections = {s.split(".")[0] for s, _ in _keys(Settings)}
    missing = [s for s in sorted(sections) if f"`[{s}" not in docs and f"`[[{s}" not in docs]
    assert missing == []


def test_migration_files_sort_in_the_order_of_their_chain() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    script = ScriptDirectory.from_config(cfg)
    chain = [r for r in reversed(list(script.walk_revisions()))]  # base first
    files = [Path(r.path).name for r in chain]
    assert files == sorted(files)
    # NNNN_<revision>_what.py (the first one predates the rule: 0001_initial_schema.py).
    for n, (rev, name) in enumerate(zip(chain, files, strict=True), start=1):
        assert name.startswith(f"{n:04d}_"), f"{name}: name the next migration {n:04d}_…"
        assert n == 1 or name.startswith(f"{n:04d}_{rev.revision}_"), name
