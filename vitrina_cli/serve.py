"""`vitrina serve`: the web catalogue, moderation queue and API under uvicorn."""

from __future__ import annotations

import os
import signal
from types import FrameType

import typer

from vitrina_cli.common import console, engine_from, fail, settings_from


def _stopped(_sig: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def serve(
    ctx: typer.Context,
    host: str | None = typer.Option(
        None, help="Address to listen on (default: web.host in config.toml)."
    ),
    port: int | None = typer.Option(
        None, help="Port (default: web.port in config.toml).", min=1, max=65535
    ),
    workers: int = typer.Option(1, help="Worker processes (about one per CPU core).", min=1),
    reload: bool = typer.Option(False, help="Restart on code changes (development)."),
    migrate: bool = typer.Option(
        False,
        "--migrate",
        help="Upgrade the catalogue schema first, as `vitrina init` does (a single-box start).",
    ),
) -> None:
    """Serve the catalogue, the moderators' queue and the JSON API."""
    import uvicorn

    from catalog.config import DEFAULT_SECRET_KEY, DEFAULT_SECRET_REFUSAL

    settings = settings_from(ctx)
    if settings.web.secret_key == DEFAULT_SECRET_KEY:
        # Also on loopback: a proxy in front, or another local user, reaches it anyway.
        fail(DEFAULT_SECRET_REFUSAL)
    # Before any worker starts: the database answers and its schema is this version's.
    engine_from(ctx, migrate_schema=migrate)
    settings.media_dir.mkdir(parents=True, exist_ok=True)
    if settings.source != "<defaults>":
        # Workers are separate processes: they read the same file through the environment.
        os.environ["VITRINA_CONFIG"] = os.path.abspath(settings.source)
    host = host or settings.web.host
    port = port or settings.web.port
    web = settings.web
    console.print(f"Vitrina on http://{host}:{port}/  (moderators: /moderate, API: /api/v1/docs)")
    # A single-process uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal
    # to the handler it found: with the default one SIGTERM would end us with status -15.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _stopped)
    uvicorn.run(
        "web.asgi:make_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        # Forwarded headers only from the configured proxies (uvicorn trusts 127.0.0.1 by default).
        proxy_headers=bool(web.trusted_proxies),
        forwarded_allow_ips=",".join(web.trusted_proxies) or None,
        server_header=False,  # no "Server: uvicorn" advertising what to attack
        log_level="info",
    )
