"""The records that cross processes: one type, written and read the same way."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from catalog.models import CrawlRun, utcnow
from catalog.records import CrawlStatus, CrawlSummary, ShopResult, ShopStatus


def _shop(key: str = "mastodon:a", **kw: object) -> ShopResult:
    return ShopResult(shop=key, **kw)  # type: ignore[arg-type]


def test_shop_status_keeps_the_worst_outcome() -> None:
    shop = _shop()
    shop.worsen("partial")
    shop.worsen("error")
    shop.worsen("partial")  # a refused post after the failure does not hide it
    assert shop.status is ShopStatus.error and shop.status.failed
    shop.worsen("auth")
    assert shop.status is ShopStatus.auth
    with pytest.raises(ValueError, match="'broken'"):
        shop.worsen("broken")


def test_summary_json_round_trip_and_derived_fields() -> None:
    summary = CrawlSummary(
        run_id=7,
        status=CrawlStatus.partial,
        seconds=1.5,
        shops={
            "mastodon:a": _shop(new_posts=3, errors=["post 9 refused"], status="partial"),
            "instagram:b": _shop("instagram:b", status="auth"),
        },
        run_errors=["instagram: access token rejected"],
    )
    text = summary.to_json()
    back = CrawlSummary.from_json(text)
    assert back == summary
    assert back.errors == ["instagram: access token rejected", "mastodon:a: post 9 refused"]
    assert back.failed_shops == ["instagram:b"]
    assert back.totals["new_posts"] == 3 and back.totals["errors"] == 2
    # Printed and stored shop records have the count and the messages.
    row = back.shop_rows()["mastodon:a"]
    assert row["errors"] == 1 and row["error_messages"] == ["post 9 refused"]


def test_a_record_of_the_wrong_shape_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="status"):
        CrawlSummary.from_json('{"run_id": 1, "status": "exploded"}')
    with pytest.raises(ValidationError, match="new_posts"):
        ShopResult.from_row("mastodon:a", {"new_posts": "many"})


def test_an_old_crawl_row_lists_each_shop_error_once() -> None:
    # Rows written before shop errors were kept apart had them in crawl_runs.errors too.
    t0 = utcnow()
    run = CrawlRun(
        id=3,
        started_at=t0,
        finished_at=t0 + timedelta(seconds=90),
        status="partial",
        shop_counts={
            "mastodon:a": {
                "new_posts": 4,
                "errors": 1,
                "error_messages": ["post 9 refused"],
                "status": "partial",
            },
            "mastodon:b": {"new_posts": 1, "errors": 0},  # older still: no status, no messages
        },
        errors=["mastodon:a: post 9 refused", "mastodon: instance slow"],
    )
    record = CrawlSummary.from_row(run)
    assert record.run_errors == ["mastodon: instance slow"]
    assert record.errors == ["mastodon: instance slow", "mastodon:a: post 9 refused"]
    assert record.seconds == 90 and record.shops["mastodon:b"].status is ShopStatus.ok


def test_run_record_round_trip_through_a_row() -> None:
    from catalog.models import PipelineRun
    from catalog.records import RunRecord, RunStatus, RunTrigger, StepStatus

    record = RunRecord(
        trigger="schedule",
        status="partial",
        steps={"crawl": {"status": "ok", "seconds": 1.5, "crawl_runs": [3]}},
        stats={"new_posts": 2},
        errors=[{"step": "crawl", "shop": "mastodon:a", "error": "post 9 refused"}],
    )
    row = PipelineRun()
    record.write(row)
    assert (row.trigger, row.status) == ("schedule", "partial")
    assert row.steps == {"crawl": {"status": "ok", "seconds": 1.5, "crawl_runs": [3]}}
    assert row.errors == [{"step": "crawl", "error": "post 9 refused", "shop": "mastodon:a"}]
    back = RunRecord.from_row(row)
    assert back == record and back.trigger is RunTrigger.schedule
    assert back.steps["crawl"].status is StepStatus.ok and back.status is RunStatus.partial


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("trigger", "cron"),
        ("status", "done"),
        ("steps", {"crawl": {"status": "fine"}}),
        ("steps", {"crawl": {"seconds": 1}}),  # a step without a status
        ("errors", [{"step": "crawl", "message": "renamed key"}]),
    ],
)
def test_a_run_record_of_the_wrong_shape_is_refused(field: str, value: object) -> None:
    from catalog.records import RunRecord

    good: dict[str, object] = {"trigger": "manual", "status": "ok"}
    with pytest.raises(ValidationError, match=field):
        RunRecord.model_validate({**good, field: value})
