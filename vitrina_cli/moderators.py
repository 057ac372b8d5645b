"""`vitrina moderators add|list|remove|logout|token`: who may work the review queue."""

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


@app.command("logout")
def logout(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """End all of NAME's browser sessions (e.g. a lost phone); API tokens are kept."""
    from catalog import access, moderation
    from catalog.db import session_scope

    engine = engine_from(ctx)
    with session_scope(engine) as session:
        if moderation.active_moderator(session, name) is None:
            fail(f"no active moderator {name}", code=1)
        count = access.close_all_sessions(session, name)
    console.print(f"[green]✓[/] {count} session(s) of {name} ended", highlight=False)


def _when(value) -> str:  # type: ignore[no-untyped-def]
    return value.strftime("%Y-%m-%d %H:%M") if value else "never"


@app.command("token")
def token(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    label: str = typer.Option("", help="What the token is for (shown by --list)."),
    list_: bool = typer.Option(False, "--list", help="List NAME's tokens instead."),
    revoke: int | None = typer.Option(None, help="Revoke NAME's token with this id."),
    revoke_all: bool = typer.Option(False, "--revoke-all", help="Revoke all of NAME's tokens."),
) -> None:
    """Print a new API token for NAME (Authorization: Bearer …), valid web.api_token_days days.

    Only a hash is stored: the token is shown once. --list, --revoke ID and --revoke-all manage
    the tokens already issued.
    """
    from catalog import access, moderation
    from catalog.db import session_scope

    settings = settings_from(ctx)
    engine = engine_from(ctx)
    with session_scope(engine) as session:
        if not any(m.name == name for m in moderation.list_moderators(session)):
            fail(f"no moderator {name}", code=1)
        if list_:
            table = Table("id", "label", "created", "expires", "last used")
            tokens = access.list_tokens(session, name)
            for t in tokens:
                table.add_row(
                    str(t.id), t.label, _when(t.created_at), _when(t.expires_at),
                    _when(t.last_used_at),
                )  # fmt: skip
            console.print(table)
            console.print(f"{len(tokens)} token(s)")
            return
        if revoke is not None:
            if not access.revoke_token(session, name, revoke):
                fail(f"{name} has no token {revoke}", code=1)
            console.print(f"[green]✓[/] token {revoke} of {name} revoked", highlight=False)
            return
        if revoke_all:
            count = access.revoke_all_tokens(session, name)
            console.print(f"[green]✓[/] {count} token(s) of {name} revoked", highlight=False)
            return
        try:
            token_id, secret = access.issue_token(session, name, settings.web.api_token_days, label)
        except LookupError as exc:
            fail(str(exc), code=1)
    print(secret)
    typer.echo(f"token {token_id} for {name} (revoke: vitrina moderators token {name} "
               f"--revoke {token_id})", err=True)  # fmt: skip
