"""What every subcommand shares: loading settings and opening the catalogue, failing clearly."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console

if TYPE_CHECKING:  # imported on use: `vitrina --help` must not load pydantic or SQLAlchemy
    from sqlalchemy.engine import Engine

    from catalog.config import Settings

console = Console()
err_console = Console(stderr=True)

# Exit status for bad configuration or an unreachable database: nothing was started.
EXIT_CONFIG = 2


# The label columns of `vitrina predict` and `vitrina predict-text` output, after their key column.
LABEL_FIELDS = [
    "category",
    "category_confidence",
    "colour",
    "colour_confidence",
    "decision",
    "error",
]


def fail(message: str, code: int = EXIT_CONFIG) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def settings_from(ctx: typer.Context) -> Settings:
    """The validated settings for this invocation (cached on the context)."""
    from catalog.config import ConfigError, load_settings

    root = ctx.find_root()
    root.ensure_object(dict)
    if "settings" not in root.obj:
        try:
            root.obj["settings"] = load_settings(root.obj.get("config_path"))
        except ConfigError as exc:
            fail(str(exc))
    return root.obj["settings"]


def engine_from(ctx: typer.Context, *, migrate_schema: bool = False) -> Engine:
    """An engine on the configured catalogue, its schema checked to be at head.

    Only `vitrina init` and `vitrina serve --migrate` pass migrate_schema=True; every other
    command refuses (exit 2, naming `vitrina init`) a catalogue at another revision.
    """
    from catalog.db import (
        DatabaseUnavailable,
        SchemaNotCurrent,
        make_engine,
        migrate,
        require_current,
    )

    root = ctx.find_root()
    root.ensure_object(dict)
    if "engine" not in root.obj:
        settings = settings_from(ctx)
        try:
            engine = make_engine(settings.database_url, echo=settings.database.echo)
            if migrate_schema:
                migrate(engine)
            else:
                require_current(engine)
        except (DatabaseUnavailable, SchemaNotCurrent) as exc:
            fail(str(exc))
        except Exception as exc:  # noqa: BLE001 - e.g. a SQLite path that cannot be created
            fail(f"cannot open database {settings.database.url}: {exc}")
        root.obj["engine"] = engine
    return root.obj["engine"]
