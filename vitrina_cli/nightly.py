"""`vitrina run-nightly`: run the pipeline once, now, in the foreground."""

from __future__ import annotations

import signal
from types import FrameType
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from vitrina_cli.common import console, engine_from, fail, settings_from

if TYPE_CHECKING:
    from pipeline.runner import RunOutcome

# Another run holds the lock: nothing was started.
EXIT_BUSY = 3
EXIT_INTERRUPTED = 130


def _sigterm(_sig: int, _frame: FrameType | None) -> None:
    # Treat `kill` like Ctrl-C: the running step is stopped and the run recorded as interrupted.
    raise KeyboardInterrupt


def print_outcome(outcome: RunOutcome) -> None:
    shops = outcome.stats.get("shops", {})
    if shops:
        table = Table("shop", "new posts", "new photos", "errors", title=f"run #{outcome.run_id}")
        for key, c in sorted(shops.items()):
            table.add_row(key, str(c["new_posts"]), str(c["new_photos"]), str(c.get("errors", 0)))
        console.print(table)
    for name, step in outcome.steps.items():
        extra = step.get("reason") or step.get("log") or ""
        console.print(f"  {name:<9} {step.get('status', '?'):<12} {extra}", highlight=False)
    for err in outcome.errors:
        where = err.get("shop") or err.get("step")
        console.print(f"  [red]✗[/] {where}: {err.get('error')}", highlight=False)
        for line in err.get("tail", [])[-5:]:
            console.print(f"      {line}", highlight=False, markup=False)
    colour = {"ok": "green", "partial": "yellow"}.get(outcome.status, "red")
    s = outcome.stats
    console.print(
        f"[{colour}]run #{outcome.run_id} {outcome.status}[/] in {outcome.seconds:.0f} s: "
        f"{s.get('new_posts', 0)} new post(s), {s.get('new_photos', 0)} new photo(s), "
        f"{s.get('auto_accepted', 0)} labelled automatically, {s.get('needs_review', 0)} sent to "
        f"review ({s.get('review_queue', 0)} in the queue), {len(outcome.errors)} error(s); "
        f"labels auto/queued: category {s.get('category_auto', 0)}/{s.get('category_review', 0)}, "
        f"colour {s.get('colour_auto', 0)}/{s.get('colour_review', 0)}",
        highlight=False,
    )


def run_nightly(
    ctx: typer.Context,
    shop: list[str] = typer.Option(
        None, "--shop", help="Crawl only this shop (NETWORK:HANDLE); repeatable."
    ),
) -> None:
    """Run the pipeline once now: crawl → classify → publish, recorded in `vitrina runs`."""
    from catalog import crud
    from catalog.db import session_scope
    from pipeline.runner import LockHeld, run_pipeline

    settings = settings_from(ctx)
    engine = engine_from(ctx)
    if shop:
        # Named shops must exist (config.toml's count, as after `vitrina init`): a typo should
        # stop here, not show up as a failed crawl in tonight's history.
        with session_scope(engine) as session:
            crud.sync_shops_from_config(session, settings.shops)
            for s in shop:
                network, _, handle = s.partition(":")
                if not handle:
                    fail(f"--shop {s!r}: expected NETWORK:HANDLE, e.g. mastodon:atelier_lina")
                if crud.get_shop(session, network, handle) is None:
                    fail(f"--shop {s!r}: no such shop (see `vitrina shops list`)")
    previous = signal.signal(signal.SIGTERM, _sigterm)
    status = console.status("starting the pipeline…")

    def progress(step: str, message: str) -> None:
        if message in ("ok", "failed", "skipped"):
            mark = {"ok": "[green]✓[/]", "failed": "[red]✗[/]", "skipped": "[dim]–[/]"}[message]
            console.print(f"{mark} {step} {message}", highlight=False)
        else:
            status.update(f"{step}: {message}…")

    try:
        with status:
            outcome = run_pipeline(settings, engine=engine, shops=shop or None, progress=progress)
    except LockHeld as exc:
        console.print(f"[yellow]not started:[/] {exc}; try again when it has finished")
        raise typer.Exit(EXIT_BUSY) from None
    except KeyboardInterrupt:
        console.print("[yellow]interrupted:[/] the run is recorded as interrupted")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    print_outcome(outcome)
    if outcome.status != "ok":
        raise typer.Exit(1)


def retrain_now(
    ctx: typer.Context,
    force: bool = typer.Option(
        False, "--force", help="Retrain even with fewer new decisions than retrain_min_decisions."
    ),
) -> None:
    """Retrain from moderator decisions now; promote the new model only if it is not worse."""
    from pipeline.retrain import retrain

    settings = settings_from(ctx)
    engine_from(ctx)
    with console.status("retraining (train, then evaluate both models)…"):
        result = retrain(settings, trigger="retrain", force=force)
    colour = {"promoted": "green", "kept": "yellow", "skipped": "dim"}.get(result.status, "red")
    run = f"run #{result.run_id} " if result.run_id else ""
    console.print(f"[{colour}]{run}{result.status}[/]: {result.summary}", highlight=False)
    if result.status == "busy":
        raise typer.Exit(EXIT_BUSY)
    if result.status == "failed":
        raise typer.Exit(1)
