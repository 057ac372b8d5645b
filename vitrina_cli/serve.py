"""`vitrina serve`: the web catalogue, moderation queue and API under uvicorn."""

from __future__ import annotations

import os

import typer

from vitrina_cli.common import console, engine_from, settings_from


def serve(
    ctx: typer.Context,
    host: str | None = typer.Option(None, help="Address to listen on (default: [web].host)."),
    port: int | None = typer.Option(None, help="Port (default: [web].port).", min=1, max=65535),
    workers: int = typer.Option(1, help="Worker processes (about one per CPU core).", min=1),
    reload: bool = typer.Option(False, help="Restart on code changes (development)."),
) -> None:
    """Serve the catalogue, the moderators' queue and the JSON API."""
    import uvicorn

    settings = settings_from(ctx)
    engine_from(ctx)  # checks the database and applies migrations before any worker starts
    settings.media_dir.mkdir(parents=True, exist_ok=True)
    if settings.source != "<defaults>":
        # Workers are separate processes: they read the same file through the environment.
        os.environ["VITRINA_CONFIG"] = os.path.abspath(settings.source)
    host = host or settings.web.host
    port = port or settings.web.port
    console.print(f"Vitrina on http://{host}:{port}/  (moderators: /moderate, API: /api/v1/docs)")
    uvicorn.run(
        "web.asgi:make_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        proxy_headers=bool(settings.web.base_url),
        log_level="info",
    )
