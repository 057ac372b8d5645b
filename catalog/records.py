"""Records that cross a process or a part, each with one type: what a crawl says of each shop
(written by `vitrina crawl`, stored in crawl_runs, read by the nightly pipeline, `vitrina runs`
and `vitrina shops`). Validated when read, so a record of the wrong shape fails here with its
field named instead of being half-understood by a reader."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    computed_field,
    model_serializer,
    model_validator,
)


class ShopStatus(StrEnum):
    """A shop's outcome in one crawl, from best to worst."""

    ok = "ok"
    partial = "partial"  # some posts refused one by one; the rest stored
    error = "error"  # its pass failed (an API error)
    inactive = "inactive"  # the account is gone
    auth = "auth"  # its network refused our credentials

    @property
    def rank(self) -> int:
        return _SHOP_RANK[self]

    @property
    def failed(self) -> bool:
        """The shop could not be crawled (refused posts alone are `partial`, not failed)."""
        return self.rank >= 2


_SHOP_RANK = {
    ShopStatus.ok: 0,
    ShopStatus.partial: 1,
    ShopStatus.error: 2,
    ShopStatus.inactive: 3,
    ShopStatus.auth: 3,
}


class CrawlStatus(StrEnum):
    running = "running"
    ok = "ok"
    partial = "partial"  # some shops (or posts) failed
    interrupted = "interrupted"  # stopped by a signal, or its process died
    error = "error"  # stopped early for the whole catalogue (the media disk is full)


COUNTS = (
    "pages",
    "new_posts",
    "new_photos",
    "duplicates",
    "near_duplicates",
    "rejected",
    "skipped",
    "retried",
    "recovered",
)


class ShopResult(BaseModel):
    """What one crawl did for one shop. The crawler counts into it as the crawl goes; stored
    as `crawl_runs.shop_counts[key]` and printed by `vitrina crawl --json` in one form, with
    `errors` as a count and `error_messages` as the messages (the form older rows have too)."""

    shop: str
    pages: int = 0
    new_posts: int = 0
    new_photos: int = 0
    duplicates: int = 0
    near_duplicates: int = 0
    rejected: int = 0
    skipped: int = 0  # new posts without a photo (videos, links, words alone), not stored
    # Photos earlier crawls failed to download, fetched again; and those now in the catalogue
    # (also counted above as new photos, near-duplicates or duplicates).
    retried: int = 0
    recovered: int = 0
    errors: list[str] = Field(default_factory=list)  # this shop's error messages, redacted
    status: ShopStatus = ShopStatus.ok

    def worsen(self, status: ShopStatus | str) -> None:
        """Keep the worst outcome seen: a later, milder problem does not hide a failure."""
        status = ShopStatus(status)
        if status.rank >= self.status.rank:
            self.status = status

    @model_validator(mode="before")
    @classmethod
    def _from_stored(cls, data: Any) -> Any:
        # Stored and printed, `errors` is the count and `error_messages` the messages.
        if isinstance(data, dict) and "error_messages" in data:
            data = {**data, "errors": data["error_messages"]}
            data.pop("error_messages")
        elif isinstance(data, dict) and isinstance(data.get("errors"), int):
            data = {k: v for k, v in data.items() if k != "errors"}  # a count without messages
        return data

    @model_serializer(mode="wrap")
    def _to_stored(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        row = handler(self)
        row["error_messages"] = row.pop("errors")
        row["errors"] = len(self.errors)
        return row

    def to_row(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_row(cls, key: str, row: dict[str, Any]) -> ShopResult:
        """A stored `shop_counts` entry (older ones lack some counts: they read as 0)."""
        return cls.model_validate({**row, "shop": key})


class CrawlSummary(BaseModel):
    """One crawl's outcome: `vitrina crawl --json` prints it, the crawl_runs row stores it, the
    pipeline reads it back. Shop errors live in their shop; `run_errors` holds only problems
    not tied to one shop (a network's credentials, a crawl found dead)."""

    model_config = ConfigDict(extra="ignore")  # `errors` and `totals` are derived, printed only

    run_id: int
    status: CrawlStatus
    seconds: float = 0.0
    shops: dict[str, ShopResult] = Field(default_factory=dict)
    run_errors: list[str] = Field(default_factory=list)
    # Why the whole crawl stopped early (the media disk is full): `vitrina crawl` exits 2.
    fatal: str = ""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def errors(self) -> list[str]:
        """Every error as one line, for people: run-wide ones, then "network:handle: msg"."""
        return self.run_errors + [f"{k}: {m}" for k, s in self.shops.items() for m in s.errors]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def failed_shops(self) -> list[str]:
        """Shops not crawled: status error, inactive or auth (`vitrina crawl` exits 1)."""
        return sorted(k for k, s in self.shops.items() if s.status.failed)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def totals(self) -> dict[str, int]:
        out = {k: sum(getattr(s, k) for s in self.shops.values()) for k in COUNTS}
        out["errors"] = sum(len(s.errors) for s in self.shops.values()) + len(self.run_errors)
        return out

    def shop_rows(self) -> dict[str, dict[str, Any]]:
        return {k: s.to_row() for k, s in self.shops.items()}

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    @classmethod
    def from_json(cls, text: str) -> CrawlSummary:
        return cls.model_validate_json(text)

    @classmethod
    def from_row(cls, run: Any) -> CrawlSummary:
        """A crawl_runs row (catalog.models.CrawlRun)."""
        shops = {
            key: ShopResult.from_row(key, c)
            for key, c in (run.shop_counts or {}).items()
            if isinstance(c, dict)
        }
        seconds = 0.0
        if run.finished_at is not None and run.started_at is not None:
            seconds = (run.finished_at - run.started_at).total_seconds()
        # Rows written before shop errors were kept apart list them run-wide too, as the
        # very lines `errors` makes: those are the shop's, not the run's.
        theirs = {f"{k}: {m}" for k, s in shops.items() for m in s.errors}
        return cls(
            run_id=run.id or 0,
            status=run.status,
            seconds=seconds,
            shops=shops,
            run_errors=[str(e) for e in run.errors or [] if str(e) not in theirs],
        )


# ---- pipeline runs (pipeline_runs rows: the nightly run and retraining) -----------------------


class RunTrigger(StrEnum):
    manual = "manual"  # `vitrina nightly` by hand
    schedule = "schedule"  # the scheduler's nightly job
    retrain = "retrain"  # retraining (scheduled or `vitrina retrain`)


class RunStatus(StrEnum):
    running = "running"
    ok = "ok"  # every step that ran succeeded
    partial = "partial"  # some steps failed, others succeeded
    failed = "failed"  # every step that ran failed (retraining: training or evaluation failed)
    interrupted = "interrupted"  # Ctrl-C/SIGTERM, or its process died (found by the next run)
    promoted = "promoted"  # retraining: the candidate replaced the current model
    kept = "kept"  # retraining: the candidate was worse (or model_dir pins the model)
    skipped = "skipped"  # retraining: too few new decisions or photos to train on


class StepStatus(StrEnum):
    running = "running"
    ok = "ok"
    failed = "failed"
    skipped = "skipped"  # nothing to do (no active shops, no new photos)
    interrupted = "interrupted"


class StepRecord(BaseModel):
    """One step of a run: its status, and what the step reports (seconds, log, counts…)."""

    model_config = ConfigDict(extra="allow")

    status: StepStatus


class RunError(BaseModel):
    """One problem of a run, under the step it happened in."""

    model_config = ConfigDict(extra="allow")  # a child's returncode, a photo id…

    step: str
    error: str
    shop: str | None = None  # the crawl step's errors about one shop
    tail: list[str] | None = None  # the last lines of a child's output
    log: str | None = None


class RunRecord(BaseModel):
    """What a pipeline_runs row holds beyond its times, written by the nightly runner and by
    retraining alike and checked both ways: an unknown status or a malformed step is refused
    with its field named, before it is stored and when it is read."""

    trigger: RunTrigger
    status: RunStatus
    steps: dict[str, StepRecord] = Field(default_factory=dict)
    stats: dict[str, Any] = Field(default_factory=dict)
    errors: list[RunError] = Field(default_factory=list)

    def write(self, row: Any) -> None:
        """Into a catalog.models.PipelineRun row."""
        data = self.model_dump(mode="json", exclude_none=True)
        row.trigger, row.status = data["trigger"], data["status"]
        row.steps, row.stats, row.errors = data["steps"], data["stats"], data["errors"]

    @classmethod
    def from_row(cls, row: Any) -> RunRecord:
        return cls(
            trigger=row.trigger,
            status=row.status,
            steps=row.steps or {},
            stats=row.stats or {},
            errors=row.errors or [],
        )

    def step_dicts(self) -> dict[str, dict[str, Any]]:
        return {k: v.model_dump(mode="json", exclude_none=True) for k, v in self.steps.items()}

    def error_dicts(self) -> list[dict[str, Any]]:
        return [e.model_dump(mode="json", exclude_none=True) for e in self.errors]


# ---- evaluation (`vitrina evaluate --json`, read by retraining) --------------------------------


class MissingMetric(ValueError):
    """An evaluation result lacks a figure a comparison needs (renamed, or never written)."""


class HeadScores(BaseModel):
    model_config = ConfigDict(extra="allow")  # ece, n, per-class figures…

    accuracy: float
    macro_f1: float


class DecisionScores(BaseModel):
    model_config = ConfigDict(extra="allow")

    auto_accepted: float
    auto_precision_both_heads: float


class EvaluationResult(BaseModel):
    """What `vitrina evaluate --json` writes and retraining compares. Every figure the
    comparison reads is required: a result without one is refused, never scored 0.0."""

    model_config = ConfigDict(extra="allow")  # unreadable, fusion…

    n: int
    category: HeadScores
    colour: HeadScores
    decision: DecisionScores

    # The figures "not worse" compares: (section, name), higher is better.
    COMPARED: ClassVar[tuple[tuple[str, str], ...]] = (
        ("category", "accuracy"),
        ("category", "macro_f1"),
        ("colour", "accuracy"),
        ("colour", "macro_f1"),
        ("decision", "auto_precision_both_heads"),
    )

    def figure(self, section: str, name: str) -> float:
        return float(getattr(getattr(self, section), name))

    @classmethod
    def parse(cls, data: Any, *, source: str = "evaluation result") -> EvaluationResult:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            missing = [
                ".".join(str(p) for p in e["loc"]) for e in exc.errors() if e["type"] == "missing"
            ]
            if missing:
                raise MissingMetric(f"{source} has no {', '.join(missing)}") from exc
            raise ValueError(f"{source} is malformed: {exc}") from exc

    @classmethod
    def from_file(cls, path: Any) -> EvaluationResult:
        import json
        from pathlib import Path

        path = Path(path)
        return cls.parse(json.loads(path.read_text(encoding="utf-8")), source=str(path))


# ---- photo failures (rejected_media.kind) -----------------------------------------------------


class PhotoFailure(StrEnum):
    """Why a photo is in rejected_media, as a kind retries are chosen by (in SQL); the reason
    beside it is for people and may be reworded freely."""

    http_passing = "http_passing"  # HTTP 5xx, 408, 425, 429
    http_lasting = "http_lasting"  # any other HTTP status (404, 403, 410…)
    network = "network"  # timeout, refused or broken connection, DNS, an empty body
    too_large = "too_large"  # over the download size limit
    unsupported = "unsupported"  # a URL Scrapy cannot fetch (scheme, malformed)
    corrupt = "corrupt"  # the bytes of an image, cut short or garbled
    not_downloaded = "not_downloaded"  # the crawl stopped before the download
    invalid = "invalid"  # not an image, too small, a decompression bomb
    refused = "refused"  # refused before asking: the SSRF guard, a post refused whole
    error = "error"  # a fault of ours while storing it

    @property
    def retryable(self) -> bool:
        """Worth fetching again in a later crawl: the failure may well pass."""
        return self in RETRYABLE_FAILURES


RETRYABLE_FAILURES = frozenset(
    {
        PhotoFailure.http_passing,
        PhotoFailure.network,
        PhotoFailure.corrupt,
        PhotoFailure.not_downloaded,
    }
)


def http_failure(status: int) -> PhotoFailure:
    passing = status >= 500 or status in (408, 425, 429)
    return PhotoFailure.http_passing if passing else PhotoFailure.http_lasting


# Download errors that will not go away by asking again: the URL is not one Scrapy can fetch.
_UNSUPPORTED = frozenset({"UnsupportedURLSchemeError", "NotSupported", "ValueError"})


def download_failure(exc_type: str, message: str) -> PhotoFailure:
    """A download that raised `exc_type` (its class name) with `message`."""
    if exc_type in _UNSUPPORTED:
        return PhotoFailure.unsupported
    if "download max size" in message:
        return PhotoFailure.too_large
    return PhotoFailure.network
