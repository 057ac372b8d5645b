"""Reading the networks' "slow down" signals: how long to wait before asking again."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# Graph API error codes that mean "rate limited" (app, user, page, custom limits).
INSTAGRAM_RATE_CODES = {4, 17, 32, 613, 80002}


def _header(headers: object, name: str) -> str | None:
    value = headers.get(name)  # type: ignore[attr-defined]
    if value is None:
        return None
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def retry_after_seconds(value: str, now: float | None = None) -> float | None:
    """Retry-After as delta-seconds or an HTTP date."""
    now = time.time() if now is None else now
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, IndexError):
        return None


def reset_seconds(value: str, now: float | None = None) -> float | None:
    """X-RateLimit-Reset (Mastodon: ISO 8601) or RateLimit-Reset (Bluesky: unix seconds)."""
    now = time.time() if now is None else now
    value = value.strip()
    try:
        number = float(value)
    except ValueError:
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return max(0.0, dt.timestamp() - now)
    # Unix time if it looks like one, else already a delta (the IETF draft's form).
    return max(0.0, number - now) if number > 1e9 else max(0.0, number)


def instagram_error_code(body: bytes) -> int | None:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    err = data.get("error") if isinstance(data, dict) else None
    return err.get("code") if isinstance(err, dict) else None


def is_rate_limited(status: int, headers: object, body: bytes) -> bool:
    if status in (429, 430):
        return True
    if status in (400, 403) and b'"code"' in body[:4096]:
        return instagram_error_code(body) in INSTAGRAM_RATE_CODES
    return False


def server_wait(headers: object, now: float | None = None) -> float | None:
    """The wait the server asked for, from whichever header it used; None if it said nothing."""
    v = _header(headers, "Retry-After")
    if v is not None and (s := retry_after_seconds(v, now)) is not None:
        return s
    for name in ("X-RateLimit-Reset", "RateLimit-Reset"):
        v = _header(headers, name)
        if v is not None and (s := reset_seconds(v, now)) is not None:
            return s
    if (v := _header(headers, "X-Business-Use-Case-Usage")) is not None:
        try:
            usage = json.loads(v)
            minutes = max(
                entry.get("estimated_time_to_regain_access", 0)
                for entries in usage.values()
                for entry in entries
            )
            if minutes:
                return 60.0 * minutes
        except (ValueError, AttributeError, TypeError):
            pass
    return None


def exhausted_budget(headers: object) -> bool:
    """A successful response that says the budget is spent: pause before the next request."""
    if _header(headers, "X-RateLimit-Remaining") == "0":
        return True
    if _header(headers, "RateLimit-Remaining") == "0":
        return True
    if (v := _header(headers, "X-App-Usage")) is not None:
        try:
            usage = json.loads(v)
            return max(int(x) for x in usage.values()) >= 95
        except (ValueError, AttributeError, TypeError):
            return False
    return False
