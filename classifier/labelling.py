"""Labelling the catalogue: every pending photo, and (for a new model version) every photo no
moderator has touched, in batches, idempotently.

Each labelled photo gets one `Prediction` row per head (with its top-3) for this model version,
its current category/colour/confidences, `auto_accepted` or `needs_review`, and a bumped
`version`. The photo row is updated only if nobody changed it since we read it and its status is
not a moderator's (`approved`, `corrected`, `rejected`): a moderator's decision always wins.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import and_, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from catalog.config import Settings
from catalog.evidence import PostText
from catalog.models import Photo, Post, Prediction, utcnow
from catalog.taxonomy import HUMAN_STATUSES, ReviewStatus
from classifier.data import Sample
from classifier.inference import AUTO, Predictor, Row
from classifier.model import VitrinaModel, load_model, resolve_model_dir

LABEL_STATUSES = (ReviewStatus.pending, ReviewStatus.auto_accepted, ReviewStatus.needs_review)


@dataclass
class ClassifySummary:
    model_version: str
    labelled: int = 0
    auto_accepted: int = 0
    needs_review: int = 0
    unreadable: int = 0
    skipped_moderated: int = 0  # a moderator acted on the photo while we were labelling it
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)  # "photo <id>: <reason>", first 50

    def line(self) -> str:
        return (
            f"labelled {self.labelled} photo(s) with {self.model_version}: "
            f"{self.auto_accepted} auto-accepted, {self.needs_review} sent to review, "
            f"{self.unreadable} unreadable, {self.skipped_moderated} skipped (moderated meanwhile) "
            f"in {self.seconds:.1f} s"
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _todo_filter(version: str) -> Any:
    """Photos to (re)label: pending ones, and model-labelled ones from another model version."""
    return and_(
        Photo.stored_path != "",
        or_(
            Photo.status == ReviewStatus.pending,
            and_(
                Photo.status.in_([ReviewStatus.auto_accepted, ReviewStatus.needs_review]),
                Photo.model_version != version,
            ),
        ),
    )


def count_todo(engine: Engine, version: str) -> int:
    from sqlalchemy import func

    with Session(engine) as session:
        return session.exec(
            select(func.count()).select_from(Photo).where(_todo_filter(version))
        ).one()


def _store(session: Session, photo: Photo, row: Row, version: str) -> bool:
    """Write one photo's predictions and labels; False if a moderator got there first."""
    now = utcnow()
    for head in ("category", "colour"):
        existing = session.exec(
            select(Prediction).where(
                Prediction.photo_id == photo.id,
                Prediction.head == head,
                Prediction.model_version == version,
            )
        ).first()
        pred = existing or Prediction(photo_id=photo.id, head=head, model_version=version)
        pred.label = getattr(row, head)
        pred.confidence = float(getattr(row, f"{head}_confidence"))
        pred.top = row.top[head]
        session.add(pred)
    status = ReviewStatus.auto_accepted if row.decision == AUTO else ReviewStatus.needs_review
    result = session.execute(
        update(Photo)
        .where(
            Photo.id == photo.id,
            Photo.version == photo.version,  # optimistic concurrency with the moderator UI
            Photo.status.not_in(HUMAN_STATUSES),
        )
        .values(
            category=row.category,
            category_confidence=row.category_confidence,
            colour=row.colour,
            colour_confidence=row.colour_confidence,
            status=status,
            model_version=version,
            labelled_at=now,
            version=Photo.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def classify_catalog(
    settings: Settings,
    engine: Engine,
    *,
    model: VitrinaModel | None = None,
    model_dir: str | Path | None = None,
    limit: int | None = None,
    batch_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ClassifySummary:
    """Label the catalogue's pending photos (and relabel untouched ones for a new model).

    `progress(done, total)` is called after every batch. Unreadable photo files are counted and
    left `pending` (the next run retries them); they never stop the run. Each batch is committed
    on its own, so an interrupted run keeps what it did and the next run continues.
    """
    started = time.perf_counter()
    cfg = settings.classifier
    if model is None:
        model = load_model(
            resolve_model_dir(model_dir or cfg.model_dir, getattr(settings, "base_dir", None))
        )
    predictor = Predictor(
        model,
        batch_size=batch_size or cfg.batch_size,
        thresholds={"category": cfg.category_threshold, "colour": cfg.colour_threshold},
        max_pixels=settings.storage.max_image_pixels,
    )
    version = model.version
    summary = ClassifySummary(version)
    media = Path(settings.media_dir)
    total = count_todo(engine, version)
    if limit is not None:
        total = min(total, limit)
    last_id = 0
    done = 0
    while done < total:
        with Session(engine) as session:
            # each photo with its post's words, in the same query: the fusion reads them
            found = session.exec(
                select(Photo, Post)
                .join(Post, Post.id == Photo.post_id, isouter=True)
                .where(_todo_filter(version), Photo.id > last_id)
                .order_by(Photo.id)
                .limit(min(predictor.batch_size, total - done))
            ).all()
            if not found:
                break
            photos = [photo for photo, _post in found]
            texts = [None if post is None else PostText.from_post(post) for _photo, post in found]
            last_id = photos[-1].id
            rows = list(predictor.predict_paths([media / p.stored_path for p in photos], texts))
            for photo, row in zip(photos, rows, strict=True):
                if row.decision not in (AUTO, "review"):
                    summary.unreadable += 1
                    if len(summary.errors) < 50:
                        summary.errors.append(
                            f"photo {photo.id} ({photo.stored_path}): {row.error}"
                        )
                    continue
                if not _store(session, photo, row, version):
                    summary.skipped_moderated += 1
                    continue
                summary.labelled += 1
                if row.decision == AUTO:
                    summary.auto_accepted += 1
                else:
                    summary.needs_review += 1
            session.commit()
        done += len(photos)
        if progress:
            progress(done, total)
    summary.seconds = round(time.perf_counter() - started, 2)
    return summary


def catalogue_samples(settings: Settings, engine: Engine) -> list[Sample]:
    """Photos a moderator approved or corrected, as training samples (the feedback loop)."""
    media = Path(settings.media_dir)
    with Session(engine) as session:
        photos = session.exec(
            select(Photo).where(
                Photo.status.in_([ReviewStatus.approved, ReviewStatus.corrected]),
                Photo.category.is_not(None),
                Photo.colour.is_not(None),
                Photo.stored_path != "",
            )
        ).all()
    return [
        Sample(media / p.stored_path, p.category, p.colour, f"photo:{p.sha256}")
        for p in photos
        if p.category and p.colour
    ]
