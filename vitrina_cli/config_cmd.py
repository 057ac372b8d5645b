"""`vitrina config check|show`."""

from __future__ import annotations

import json

import typer

from vitrina_cli.common import EXIT_CONFIG, console, err_console

app = typer.Typer(help="Check or show the configuration.", no_args_is_help=True)

_SECRETS = ("secret_key", "access_token", "password")


def _masked(value: object) -> object:
    if isinstance(value, dict):
        return {
            k: ("***" if any(s in k for s in _SECRETS) and v else _masked(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


@app.command("check")
def check(ctx: typer.Context) -> None:
    """Validate config.toml (and VITRINA_* overrides); print every problem; exit 2 if any."""
    from catalog.config import ConfigError, load_settings, shop_problems
    from catalog.db import mask_url

    path = ctx.find_root().obj.get("config_path")
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        err_console.print(f"[bold red]{exc.source}[/]: {len(exc.problems)} problem(s)")
        for problem in exc.problems:
            err_console.print(f"  [red]✗[/] {problem}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_CONFIG) from None
    problems = shop_problems(settings)
    if problems:
        err_console.print(f"[bold red]{settings.source}[/]: {len(problems)} problem(s)")
        for problem in problems:
            err_console.print(f"  [red]✗[/] {problem}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_CONFIG)
    console.print(
        f"[green]✓[/] {settings.source}: configuration is valid "
        f"({len(settings.shops)} shop(s), database {mask_url(settings.database_url)}, "
        f"schedule '{settings.schedule.cron}' {settings.schedule.timezone})",
        highlight=False,
    )


@app.command("show")
def show(ctx: typer.Context) -> None:
    """Print the effective settings as JSON, secrets masked."""
    from catalog.db import mask_url
    from vitrina_cli.common import settings_from

    settings = settings_from(ctx)
    data = _masked(settings.model_dump())
    assert isinstance(data, dict)
    data["database"]["url"] = mask_url(settings.database.url)
    console.print_json(json.dumps(data))
