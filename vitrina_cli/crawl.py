"""`vitrina crawl`: fetch what is new on every followed shop, with progress and a summary."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from vitrina_cli.common import console, engine_from, fail, settings_from

if TYPE_CHECKING:  # pydantic and SQLAlchemy load only when a command runs (fast --help)
    from catalog.records import ShopResult

COLUMNS = ("new_posts", "new_photos", "duplicates", "near_duplicates", "rejected", "errors")
HEADERS = ("posts", "photos", "dups", "near", "rejected", "errors")


def _table(shops: dict[str, ShopResult], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("shop", overflow="fold")  # never cut a shop's name short
    table.add_column("pages", justify="right")
    for col in HEADERS:
        table.add_column(col, justify="right")
    table.add_column("status")
    for key, shop in sorted(shops.items()):
        r = shop.to_row()
        colour = {"ok": "green", "inactive": "yellow", "partial": "yellow"}.get(r["status"], "red")
        table.add_row(
            key, str(r["pages"]), *(str(r[c]) for c in COLUMNS), f"[{colour}]{r['status']}[/]"
        )
    return table


def crawl(
    ctx: typer.Context,
    shop: list[str] = typer.Option(
        [], "--shop", "-s", help="Only this shop, as NETWORK:HANDLE (repeatable)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON only."),
) -> None:
    """Crawl the followed shops once: new posts and photos are stored, photos wait for labels.

    Exit status: 0 every shop was crawled (posts refused one by one are listed; the shop shows
    "partial"); 1 some shops failed (an API error, a shop gone, credentials refused; the others
    were crawled and everything is listed); 2 the configuration or the catalogue is unusable,
    or a --shop is unknown, or another crawl is running on this catalogue (without a shared
    [crawler] frontier), and nothing was crawled; or the crawl stopped early because the
    media folder's disk is full (what was stored before stays; nothing counts as failed)."""
    from catalog.db import DatabaseUnavailable
    from crawler.report import CrawlReport
    from crawler.run import CrawlBusy, UnknownShop
    from crawler.run import crawl as run_crawl

    settings = settings_from(ctx)
    engine_from(ctx)  # an unusable catalogue stops here, exit 2, before anything starts
    live: Live | None = None

    def on_change(report: CrawlReport) -> None:
        if live is not None:
            live.update(_table(dict(report.shops), "crawling…"))

    try:
        if as_json:
            summary = run_crawl(settings, shop or None)
        else:
            with Live(
                _table({}, "starting…"), console=console, refresh_per_second=4, transient=True
            ) as live:
                summary = run_crawl(settings, shop or None, on_change=on_change)
            if summary.shops:
                console.print(_table(summary.shops, f"crawl #{summary.run_id}"))
    except (UnknownShop, CrawlBusy) as exc:
        fail(escape(str(exc)))  # "[crawler] frontier" is not markup
    except DatabaseUnavailable as exc:
        fail(str(exc))
    code = 2 if summary.fatal else 1 if summary.failed_shops else 0
    if as_json:
        print(summary.model_dump_json())
        raise typer.Exit(code)
    t = summary.totals
    if not summary.shops:
        console.print(
            "no active shops to crawl: add one with `vitrina shops add NETWORK HANDLE` "
            "or a [[shops]] entry in config.toml",
            highlight=False,
            markup=False,
        )
    for message in summary.errors:  # escaped: a URL like http://[::1/x.jpg is not markup
        console.print(f"  [red]✗[/] {escape(message)}", highlight=False, soft_wrap=True)
    mark = "[green]✓[/]" if summary.status == "ok" else "[yellow]![/]"
    retried = (
        f"{t['retried']} earlier failed photo(s) retried, {t.get('recovered', 0)} recovered, "
        if t.get("retried")
        else ""
    )
    skipped = f"{t['skipped']} without a photo skipped, " if t.get("skipped") else ""
    console.print(
        f"{mark} crawl #{summary.run_id} {summary.status} in {summary.seconds:.1f}s: "
        f"{len(summary.shops)} shop(s), {t.get('new_posts', 0)} new posts, "
        f"{t.get('new_photos', 0)} new photos, {t.get('duplicates', 0)} duplicates, "
        f"{t.get('near_duplicates', 0)} near-duplicates, {skipped}"
        f"{t.get('rejected', 0)} rejected, "
        f"{retried}{t.get('errors', 0)} error(s)",
        highlight=False,
    )
    if code:
        console.print(
            f"{len(summary.failed_shops)} shop(s) failed: {', '.join(summary.failed_shops)}",
            highlight=False,
            markup=False,
        )
    raise typer.Exit(code)


def hand_run_views(engine: Any, limit: int) -> list[Any]:
    """Crawls run by hand (`vitrina crawl`, not a pipeline step) as `vitrina runs` rows."""
    from catalog import crud
    from catalog.db import session_scope
    from catalog.records import CrawlSummary
    from pipeline.history import RunView

    out = []
    with session_scope(engine) as session:
        for run in crud.hand_run_crawls(session, limit=limit):
            started = _aware(run.started_at)
            finished = _aware(run.finished_at) if run.finished_at else None
            record = CrawlSummary.from_row(run)
            stats = {
                "new_posts": record.totals["new_posts"],
                "new_photos": record.totals["new_photos"],
                "shops": record.shop_rows(),
            }
            seconds = (finished - started).total_seconds() if finished else None
            step = {"status": run.status, "crawl_runs": [run.id], "seconds": seconds}
            errors = [{"step": "crawl", "error": e} for e in record.errors]
            out.append(
                RunView(
                    run.id or 0,
                    "crawl",
                    run.status,
                    started,
                    finished,
                    seconds,
                    {"crawl": step},
                    stats,
                    errors,
                )  # fmt: skip
            )
    return out


def _aware(dt: Any) -> Any:
    from datetime import UTC

    return dt if dt is None or dt.tzinfo else dt.replace(tzinfo=UTC)
