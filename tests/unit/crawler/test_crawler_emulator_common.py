"""crawler.emulator.common: the formats every emulated API shares."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from crawler.emulator.common import ApiError, iso_ms, xrpc_error


def test_times_are_utc_with_milliseconds_as_bluesky_writes_them() -> None:
    moscow = timezone(timedelta(hours=3))
    when = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=moscow)
    assert iso_ms(when) == "2026-01-02T00:04:05.678Z"
    assert iso_ms(datetime(2026, 1, 2, tzinfo=UTC)) == "2026-01-02T00:00:00.000Z"


def test_xrpc_errors_have_bluesky_s_body() -> None:
    err = xrpc_error(400, "InvalidRequest", "Profile not found")
    assert isinstance(err, ApiError) and err.status == 400 and err.headers == {}
    assert err.body == {"error": "InvalidRequest", "message": "Profile not found"}
