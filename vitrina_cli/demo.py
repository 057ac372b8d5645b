"""`vitrina demo` (what `make run` starts): the whole product offline against the emulator."""

from __future__ import annotations

import os
from pathlib import Path

import typer


def demo(
    workdir: Path = typer.Option(Path("var/demo"), help="Where the demo keeps its catalogue."),
    posts_per_shop: int = typer.Option(12, min=1, max=500, help="Posts per emulated shop."),
    photos_per_post: int = typer.Option(2, min=1, max=10),
    emulator_port: int = typer.Option(
        8765, min=0, max=65535, help="Preferred emulator port (0: any)."
    ),
    web_port: int = typer.Option(8000, min=0, max=65535, help="Preferred web port (0: any)."),
    cron: str = typer.Option("*/10 * * * *", help="The demo scheduler's cron expression."),
    new_post_every: float = typer.Option(
        120.0, min=1, help="Seconds between new posts on the emulated shops."
    ),
    scheduler: bool = typer.Option(True, help="Also start `vitrina schedule`."),
    synthetic: bool = typer.Option(
        False, help="Serve drawn garments instead of the committed real photos (demo/photos)."
    ),
    fresh: bool = typer.Option(False, help="Delete the demo's catalogue and photos first."),
    model: str = typer.Option(
        "",
        help="Model folder to label with, or 'default' for the committed model. Unset: a model "
        "trained once on the drawn garments with --synthetic, else the committed model.",
    ),
    exit_after: float = typer.Option(
        0.0, hidden=True, help="Stop after this many seconds once running (tests)."
    ),
) -> None:
    """Run the demo: emulator, catalogue, one pipeline run, web app and scheduler; Ctrl-C stops.

    It serves the committed real photos (demo/photos); VITRINA_DEMO_IMAGES=DIR serves other
    photos (labels from VITRINA_DEMO_LABELS or DIR/labels.csv); --synthetic drawn garments.
    """
    from apscheduler.triggers.cron import CronTrigger

    from demo.run import SYNTHETIC, Demo, DemoOptions

    try:
        CronTrigger.from_crontab(cron)
    except ValueError as exc:
        raise typer.BadParameter(f"{cron!r}: {exc}", param_hint="--cron") from None
    opts = DemoOptions(
        workdir=workdir,
        posts_per_shop=posts_per_shop,
        photos_per_post=photos_per_post,
        emulator_port=emulator_port,
        web_port=web_port,
        cron=cron,
        new_post_every=new_post_every,
        scheduler=scheduler,
        fresh=fresh,
        model=model if model in ("", "default") else str(Path(model).resolve()),
        images=SYNTHETIC if synthetic else os.environ.get("VITRINA_DEMO_IMAGES", ""),
        labels=os.environ.get("VITRINA_DEMO_LABELS", ""),
        exit_after=exit_after,
    )
    raise typer.Exit(Demo(opts).run())
