"""ASGI entry point for uvicorn workers: `uvicorn --factory web.asgi:make_app`.

Settings come from $VITRINA_CONFIG (or ./config.toml) plus the environment, like every command.
"""

from __future__ import annotations

from fastapi import FastAPI

from catalog.config import DEFAULT_SECRET_KEY, DEFAULT_SECRET_REFUSAL, load_settings
from web.app import create_app


def make_app() -> FastAPI:
    settings = load_settings()
    if settings.web.secret_key == DEFAULT_SECRET_KEY:  # the same refusal as `vitrina serve`
        raise SystemExit(f"error: {DEFAULT_SECRET_REFUSAL}")
    return create_app(settings)
