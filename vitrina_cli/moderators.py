"""`vitrina moderators add|list|remove|token`: who may work the review queue."""

from __future__ import annotations

import sys

import typer
from rich.table import Table

from vitrina_cli.common import console, engine_from, fail, settings_from

app = typer.Typer(help="Add, list or remove moderators.", no_args_is_help=True)


def _read_password() -> str:
    """From a prompt (typed twice) on a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        return typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


@app.command("add")
def add(ctx: typer.Context, name: str = typer.Argument(..., help="Login name.")) -> None:
    """Add a moderator; the password is read from a prompt or from stdin (argon2-hashed)."""
    from catalog import moderation
    from catalog.db import session_scope

    engine = engine_from(ctx)
    password = _read_password()
    with session_scope(engine) as session:
        try:
            moderation.add_moderator(session, name, password)
        except moderation.ModerationError as exc:
            fail(str(exc), code=1)
    console.print(f"[green]✓[/] moderator {name} added", highlight=False)


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """List moderators with their last login."""
    from catalog import moderation
    from catalog.db import session_scope

    engine = engine_from(ctx)
    with session_scope(engine) as session:
        mods = moderation.list_moderators(session)
        table = Table("name", "active", "created", "last login")
        for m in mods:
            table.add_row(
                m.name,
                "yes" if m.active else "no",
                m.created_at.strftime("%Y-%m-%d %H:%M"),
                m.last_login_at.strftime("%Y-%m-%d %H:%M") if m.last_login_at else "never",
            )
    console.print(table)
    console.print(f"{len(mods)} moderator(s)")


@app.command("remove")
def remove(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Remove a moderator; their open sessions and API tokens stop working at once."""
    from catalog import moderation
    from catalog.db import session_scope

    engine = engine_from(ctx)
    with session_scope(engine) as session:
        if not moderation.remove_moderator(session, name):
            fail(f"no moderator {name}", code=1)
    console.print(f"[green]✓[/] moderator {name} removed", highlight=False)


@app.command("token")
def token(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Print an API token for NAME (Authorization: Bearer …), valid web.api_token_days days."""
    from web.auth import issue_token

    settings = settings_from(ctx)
    from catalog import moderation
    from catalog.db import session_scope

    engine = engine_from(ctx)
    with session_scope(engine) as session:
        if moderation.active_moderator(session, name) is None:
            fail(f"no active moderator {name}", code=1)
    print(issue_token(settings, name))
