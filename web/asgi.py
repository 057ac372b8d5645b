"""ASGI entry point for uvicorn workers: `uvicorn --factory web.asgi:make_app`.

Settings come from $VITRINA_CONFIG (or ./config.toml) plus the environment, like every command.
"""

from __future__ import annotations

from fastapi import FastAPI

from catalog.config import load_settings
from web.app import create_app


def make_app() -> FastAPI:
    return create_app(load_settings())
