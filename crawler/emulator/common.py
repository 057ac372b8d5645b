"""Errors and formats every emulated API shares."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


class ApiError(Exception):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None):
        self.status, self.body, self.headers = status, body, headers or {}


def xrpc_error(status: int, error: str, message: str) -> ApiError:
    """Bluesky's error body: {"error": "InvalidRequest", "message": "…"}."""
    return ApiError(status, {"error": error, "message": message})


def iso_ms(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
