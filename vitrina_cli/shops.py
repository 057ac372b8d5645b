"""`vitrina shops add|list|remove`: the shops the crawler follows."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.markup import escape
from rich.table import Table

from catalog.taxonomy import NETWORKS
from vitrina_cli.common import console, engine_from, fail, settings_from

app = typer.Typer(help="Add, list or remove the shops Vitrina follows.", no_args_is_help=True)


def _network(value: str) -> str:
    value = value.lower().strip()
    if value not in NETWORKS:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(NETWORKS)}")
    return value


@app.command("add")
def add(
    ctx: typer.Context,
    network: str = typer.Argument(..., callback=_network, help=f"One of {', '.join(NETWORKS)}."),
    handle: str = typer.Argument(..., help="Account handle (Shopify: the store's name)."),
    url: str = typer.Option("", help="Mastodon instance or Shopify store base URL."),
    name: str = typer.Option("", help="Display name shown in the catalogue."),
) -> None:
    """Follow a shop. Adding it again only refreshes its name and URL."""
    if network in ("mastodon", "shopify") and not url:
        fail(f"a {network} shop needs --url (the base URL of its instance or store)")
    from catalog import crud
    from catalog.db import session_scope

    engine = engine_from(ctx)
    with session_scope(engine) as session:
        try:
            result = crud.upsert_shop(
                session, network, handle, display_name=name, base_url=url, active=True
            )
        except ValueError as exc:
            fail(str(exc))
    verb = "added" if result.created else "already followed; updated"
    console.print(f"[green]✓[/] {network}:{handle} {verb} (id {result.id})", highlight=False)


@app.command("list")
def list_(
    ctx: typer.Context,
    all_: bool = typer.Option(True, "--all/--active", help="Include inactive shops."),
) -> None:
    """List followed shops with their crawl state: when a crawl last got through each (its
    feed read down to what was stored) and the last crawl that failed on it, with why."""
    settings_from(ctx)
    from catalog import crud
    from catalog.db import session_scope

    engine = engine_from(ctx)
    with session_scope(engine) as session:
        shops = crud.list_shops(session, active_only=not all_)
        outcomes = crud.shop_outcomes(session)
        table = Table(
            "id", "network", "handle", "name", "active", "last success", "last error",
            "watermark",
        )  # fmt: skip
        for s in shops:
            o = outcomes.get(f"{s.network}:{s.handle}", crud.ShopOutcome())
            success = o.last_success_at or s.last_crawled_at
            error = "—"
            if o.last_error_at and (success is None or _utc(o.last_error_at) >= _utc(success)):
                error = f"{_when(o.last_error_at)}: {_short(o.last_error)}"
            elif o.last_error_at:  # failed once, crawled fine since
                error = f"{_when(o.last_error_at)} (since recovered)"
            table.add_row(
                str(s.id),
                s.network,
                s.handle,
                s.display_name,
                "yes" if s.active else f"no: {s.inactive_reason}",
                _when(success),
                escape(error),
                s.watermark or "—",
            )
    console.print(table)
    console.print(f"{len(shops)} shop(s)")


def _utc(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)  # SQLite gives naive UTC back


def _when(dt: datetime | None) -> str:
    return _utc(dt).strftime("%Y-%m-%d %H:%M") if dt else "—"


def _short(message: str, limit: int = 90) -> str:
    return message if len(message) <= limit else message[: limit - 1] + "…"


@app.command("remove")
def remove(
    ctx: typer.Context,
    network: str = typer.Argument(..., callback=_network),
    handle: str = typer.Argument(...),
) -> None:
    """Stop following a shop and delete its posts and photos from the catalogue."""
    from catalog import crud
    from catalog.db import session_scope

    engine = engine_from(ctx)
    with session_scope(engine) as session:
        if not crud.remove_shop(session, network, handle):
            fail(f"no shop {network}:{handle}", code=1)
    console.print(f"[green]✓[/] removed {network}:{handle}", highlight=False)
