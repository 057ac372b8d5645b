"""Weekly retraining from moderator decisions, promoted only when it is not worse.

When at least `[schedule] retrain_min_decisions` moderator decisions were made since the last
retraining:

1. the photos moderators approved or corrected are exported as a dataset folder
   (`labels.csv` naming the stored files) under `<models>/retrain-<run>/dataset`;
2. `vitrina train` (child process) trains a candidate on that export plus the datasets named in
   `[schedule] retrain_data` (so the model does not forget what it was first trained on);
3. `vitrina evaluate` scores the candidate and the current model on the same validation split
   of the export (the fixed hash split training also used, so no model sees its test photos);
4. the candidate is promoted (the `<models>/current` link is switched atomically) only if no
   head's accuracy or macro-F1, nor the precision of auto-accepted labels, got worse.

The nightly classify step uses `<models>/current` when `[classifier] model_dir` is empty; set
`model_dir` to pin a model (retraining still reports, but then changes nothing).
Every attempt is a PipelineRun row with trigger "retrain" (`vitrina runs`, /admin/runs).
"""

from __future__ import annotations

import csv
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from catalog.config import Settings
from catalog.db import make_engine, session_scope
from catalog.locks import LockHeld, PipelineLock
from catalog.models import ModerationEvent, Photo, PipelineRun, utcnow
from catalog.moderation import DECISIONS
from catalog.records import EvaluationResult, RunRecord, RunStatus, RunTrigger
from pipeline.steps import run_child, vitrina_argv

MODELS_DIR = "var/models"
CURRENT = "current"
# Not worse means: every figure at least the current one's, less this rounding slack.
TOLERANCE = 1e-6


@dataclass
class RetrainResult:
    status: str  # skipped | promoted | kept | failed | busy
    summary: str
    run_id: int | None = None


def models_root(settings: Settings) -> Path:
    return settings.path(MODELS_DIR)


def current_model(settings: Settings) -> Path | None:
    """The model the nightly classify step should use: a pinned one, else the promoted one,
    else None (the classifier's committed default)."""
    if settings.classifier.model_dir:
        return settings.path(settings.classifier.model_dir)
    link = models_root(settings) / CURRENT
    return link.resolve() if link.exists() else None


def promote(settings: Settings, candidate: Path) -> Path:
    """Point `<models>/current` at `candidate` atomically (rename of a fresh link)."""
    root = models_root(settings)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{CURRENT}.{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(candidate.resolve(), target_is_directory=True)
    tmp.replace(root / CURRENT)
    return root / CURRENT


def not_worse(candidate: EvaluationResult, current: EvaluationResult) -> tuple[bool, list[str]]:
    """Compare two `vitrina evaluate --json` results; returns (ok, one line per figure)."""
    lines, ok = [], True
    for section, name in EvaluationResult.COMPARED:
        new, old = candidate.figure(section, name), current.figure(section, name)
        worse = new < old - TOLERANCE
        ok &= not worse
        lines.append(f"{section} {name}: {old:.4f} → {new:.4f}{' (worse)' if worse else ''}")
    return ok, lines


def decisions_since(engine: Engine, since: Any) -> int:
    with session_scope(engine) as s:
        query = (
            select(func.count())
            .select_from(ModerationEvent)
            .where(col(ModerationEvent.action).in_(DECISIONS))
        )
        if since is not None:
            query = query.where(ModerationEvent.at > since)
        return int(s.exec(query).one())


def last_retrain_start(engine: Engine) -> Any:
    """When the last retraining that got as far as training started (skips do not count)."""
    with session_scope(engine) as s:
        run = s.exec(
            select(PipelineRun)
            .where(PipelineRun.trigger == RunTrigger.retrain)
            .where(col(PipelineRun.status).in_((RunStatus.promoted, RunStatus.kept)))
            .order_by(col(PipelineRun.id).desc())
        ).first()
        return run.started_at if run else None


def export_decisions(settings: Settings, engine: Engine, folder: Path) -> int:
    """Write the moderator-approved/corrected photos as a dataset folder (labels.csv)."""
    folder.mkdir(parents=True, exist_ok=True)
    media = settings.media_dir
    n = 0
    with session_scope(engine) as s, (folder / "labels.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["image", "category", "colour"])
        photos = s.exec(
            select(Photo).where(
                col(Photo.status).in_(("approved", "corrected")),
                col(Photo.category).is_not(None),
                col(Photo.colour).is_not(None),
                Photo.stored_path != "",
            )
        )
        for photo in photos:
            path = media / photo.stored_path
            if path.is_file():
                # Absolute paths: read_labels joins them onto the folder, which keeps them as is.
                writer.writerow([str(path), photo.category, photo.colour])
                n += 1
    return n


def retrain(settings: Settings, *, trigger: str = "retrain", force: bool = False) -> RetrainResult:
    engine = make_engine(settings.database_url)
    try:
        with PipelineLock(engine, name="retrain"):
            from pipeline.runner import close_stale_runs

            close_stale_runs(engine, retrain=True)
            return _retrain(settings, engine, force=force)
    except LockHeld as exc:
        return RetrainResult("busy", str(exc))
    finally:
        engine.dispose()


def _retrain(settings: Settings, engine: Engine, *, force: bool) -> RetrainResult:
    sched = settings.schedule
    new = decisions_since(engine, last_retrain_start(engine))
    with session_scope(engine) as s:
        row = PipelineRun()
        RunRecord(
            trigger=RunTrigger.retrain, status=RunStatus.running, stats={"new_decisions": new}
        ).write(row)
        s.add(row)
        s.flush()
        run_id = row.id
    assert run_id is not None
    steps: dict[str, Any] = {}
    errors: list[Any] = []
    stats: dict[str, Any] = {"new_decisions": new}

    def finish(status: RunStatus | str, summary: str) -> RetrainResult:
        status = RunStatus(status)  # an unknown status fails here, before anything is stored
        stats["summary"] = summary
        record = RunRecord(
            trigger=RunTrigger.retrain, status=status, steps=steps, stats=stats, errors=errors
        )  # validated before anything is stored
        with session_scope(engine) as s:
            r = s.get(PipelineRun, run_id)
            assert r is not None
            record.write(r)
            r.finished_at = utcnow()
            s.add(r)
        return RetrainResult(status.value, summary, run_id)

    if new < sched.retrain_min_decisions and not force:
        return finish(
            RunStatus.skipped,
            f"{new} new moderator decision(s) since the last retraining; "
            f"{sched.retrain_min_decisions} needed ([schedule] retrain_min_decisions)",
        )
    work = models_root(settings) / f"retrain-{run_id}"
    dataset = work / "dataset"
    n = export_decisions(settings, engine, dataset)
    stats["exported_photos"] = n
    steps["export"] = {"status": "ok", "photos": n, "folder": str(dataset)}
    if n < 20:
        return finish(
            RunStatus.skipped, f"only {n} approved/corrected photo(s) on disk; need at least 20"
        )
    timeout = float(sched.step_timeout_seconds)
    candidate = work / "candidate"
    args = ["train", "--data", str(dataset), "--out", str(candidate), "--no-compare"]
    for extra in sched.retrain_data:
        args += ["--data", str(settings.path(extra))]
    t0 = time.monotonic()
    res = run_child(vitrina_argv(settings, *args), work / "train.log", timeout=timeout)
    steps["train"] = {"status": "ok" if res.ok else "failed", "seconds": round(res.seconds, 1)}
    steps["train"]["log"] = str(res.log_path)
    if not res.ok:
        errors.append({"step": "train", "error": f"exited {res.returncode}", "tail": res.tail})
        return finish(RunStatus.failed, "training failed; the current model stays")
    scores: dict[str, EvaluationResult] = {}
    current = current_model(settings)
    for name, model in (("candidate", candidate), ("current", current)):
        out = work / f"evaluate-{name}.json"
        args = ["evaluate", "--data", str(dataset), "--split", "validation", "--json", str(out)]
        args += ["--no-per-class"]
        if model is not None:
            args += ["--model", str(model)]
        res = run_child(
            vitrina_argv(settings, *args), work / f"evaluate-{name}.log", timeout=timeout
        )
        steps[f"evaluate_{name}"] = {
            "status": "ok" if res.ok else "failed",
            "log": str(res.log_path),
        }
        if not res.ok or not out.is_file():
            errors.append({"step": f"evaluate_{name}", "error": "failed", "tail": res.tail})
            return finish(
                RunStatus.failed, f"evaluating the {name} model failed; the current model stays"
            )
        try:
            scores[name] = EvaluationResult.from_file(out)
        except ValueError as exc:  # MissingMetric too: a broken contract never promotes
            errors.append({"step": f"evaluate_{name}", "error": str(exc)})
            return finish(RunStatus.failed, f"the {name} model's figures are unusable: {exc}")
    ok, lines = not_worse(scores["candidate"], scores["current"])
    stats["comparison"] = lines
    stats["seconds"] = round(time.monotonic() - t0, 1)
    if settings.classifier.model_dir:
        return finish(
            RunStatus.kept, "model_dir pins the model; candidate left in " + str(candidate)
        )
    if not ok:
        return finish(
            RunStatus.kept,
            "the candidate is worse on: " + "; ".join(x for x in lines if "worse" in x),
        )
    link = promote(settings, candidate)
    steps["promote"] = {"status": "ok", "current": str(link), "model": str(candidate)}
    return finish(RunStatus.promoted, f"candidate promoted ({'; '.join(lines)})")
