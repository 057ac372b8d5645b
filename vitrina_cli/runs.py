"""`vitrina runs`: the history of pipeline runs (and retraining), newest first."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from vitrina_cli.common import console, engine_from, fail
from vitrina_cli.crawl import hand_run_views


def _labels(stats: dict, head: str) -> str:
    """E.g. "12/4": labels of `head` the model decided vs queued for a moderator ("–" for
    runs from before per-label review)."""
    auto, queued = stats.get(f"{head}_auto"), stats.get(f"{head}_review")
    return "–" if auto is None and queued is None else f"{auto or 0}/{queued or 0}"


def runs(
    ctx: typer.Context,
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many runs to list."),
    run_id: int | None = typer.Option(
        None, "--id", help="Show one run in full: steps, shops, errors."
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List recent pipeline runs with their counts, errors and durations."""
    from pipeline.history import get_run, recent_runs

    engine = engine_from(ctx)
    if run_id is not None:
        run = get_run(engine, run_id)
        if run is None:
            fail(f"no run #{run_id} (see `vitrina runs`)", code=1)
        if as_json:
            console.print_json(json.dumps(run.__dict__, default=str))
            return
        console.print(
            f"run #{run.id} ({run.trigger}) {run.status}: "
            f"started {run.started_at:%Y-%m-%d %H:%M:%S %Z}, took {run.duration}",
            highlight=False,
        )
        table = Table("step", "status", "seconds", "detail")
        for name, step in run.steps.items():
            detail = step.get("reason") or step.get("log") or ""
            table.add_row(name, step.get("status", "?"), str(step.get("seconds", "")), detail)
        console.print(table)
        shops = run.stats.get("shops", {})
        if shops:
            st = Table("shop", "new posts", "new photos", "errors")
            for key, c in sorted(shops.items()):
                st.add_row(
                    key,
                    str(c.get("new_posts", 0)),
                    str(c.get("new_photos", 0)),
                    str(c.get("errors", 0)),
                )
            console.print(st)
        other = {k: v for k, v in run.stats.items() if k != "shops"}
        if other:
            console.print("  " + ", ".join(f"{k}={v}" for k, v in other.items()), highlight=False)
        for err in run.errors:
            console.print(f"[red]✗[/] {err.get('step')}: {err.get('error')}", highlight=False)
            for line in err.get("tail", []):
                console.print(f"    {line}", highlight=False, markup=False)
        return
    # With the pipeline's runs, the crawls an operator ran by hand (`vitrina crawl`).
    views = sorted(
        recent_runs(engine, limit=limit) + hand_run_views(engine, limit),
        key=lambda v: v.started_at,
        reverse=True,
    )[:limit]
    if as_json:
        console.print_json(json.dumps([v.__dict__ for v in views], default=str))
        return
    table = Table(
        "id", "trigger", "started (UTC)", "took", "status", "new posts", "new photos",
        "auto", "review", "category auto/queued", "colour auto/queued", "errors",
    )  # fmt: skip
    for v in views:
        colour = {"ok": "green", "partial": "yellow", "running": "cyan"}.get(v.status, "red")
        table.add_row(
            f"c{v.id}" if v.trigger == "crawl" else str(v.id),
            v.trigger,
            f"{v.started_at:%Y-%m-%d %H:%M}",
            v.duration,
            f"[{colour}]{v.status}[/]",
            str(v.stats.get("new_posts", "–")),
            str(v.stats.get("new_photos", "–")),
            str(v.stats.get("auto_accepted", "–")),
            str(v.stats.get("needs_review", "–")),
            _labels(v.stats, "category"),
            _labels(v.stats, "colour"),
            str(len(v.errors)),
        )
    console.print(table)
    console.print(
        f"{len(views)} run(s); details: vitrina runs --id N "
        "(cN: a crawl run by hand, see `vitrina shops list`)"
    )
