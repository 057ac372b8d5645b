"""Entry point of the `vitrina` console script.

The command modules import the catalogue, pipeline and model code inside each command, so
`vitrina --help` (and a command's --help) starts in a fraction of a second:
tests/integration/cli/test_cli.py checks that no database, web or TensorFlow module is loaded
for it (test_classifier_runtime)."""

from __future__ import annotations

from pathlib import Path

import typer

from vitrina_cli import (
    classifier_cmd,
    config_cmd,
    crawl,
    demo,
    emulator_cmd,
    moderators,
    nightly,
    runs,
    schedule,
    serve,
    shops,
    text_cmd,
)
from vitrina_cli.common import console, engine_from, settings_from

app = typer.Typer(
    name="vitrina",
    help="Vitrina: crawl shops' social accounts, label their clothing photos, publish a catalogue.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def root(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None,
        "--config",
        "-c",
        help="Settings file (default: $VITRINA_CONFIG or ./config.toml).",
        envvar="VITRINA_CONFIG",
    ),
) -> None:
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config


@app.command()
def init(ctx: typer.Context) -> None:
    """Create or upgrade the catalogue schema and add the shops named in config.toml.

    The one command that migrates (besides `serve --migrate`): run it after installing or
    upgrading Vitrina; the others refuse a catalogue whose schema is not this version's.
    """
    from catalog import crud
    from catalog.db import current_revision, mask_url, session_scope

    settings = settings_from(ctx)
    engine = engine_from(ctx, migrate_schema=True)
    settings.media_dir.mkdir(parents=True, exist_ok=True)
    with session_scope(engine) as session:
        new = crud.sync_shops_from_config(session, settings.shops)
        stats = crud.counts(session)
    console.print(
        f"[green]✓[/] catalogue ready at {mask_url(settings.database_url)} "
        f"(schema {current_revision(engine)}); {len(settings.shops)} shop(s) in config, {new} new; "
        f"{stats['posts']} posts, {stats['photos']} photos stored",
        highlight=False,
    )


app.add_typer(config_cmd.app, name="config")
app.add_typer(shops.app, name="shops")
app.add_typer(moderators.app, name="moderators")
app.command("serve")(serve.serve)
classifier_cmd.register(app)
app.command(name="crawl")(crawl.crawl)
app.command(name="emulator")(emulator_cmd.emulator)

app.command("run-nightly")(nightly.run_nightly)
app.command("runs")(runs.runs)
app.command("schedule")(schedule.schedule)
app.command("demo")(demo.demo)
app.command("retrain")(nightly.retrain_now)
app.command("predict-text")(text_cmd.predict_text)


if __name__ == "__main__":
    app()
