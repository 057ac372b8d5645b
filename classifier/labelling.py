"""Labelling the catalogue: every pending photo, and (for a new model version) every photo with
a label no moderator has decided, in batches, idempotently.

Each labelled photo gets one `Prediction` row per head for this model version (its top-3, the
image-only top-3, what the shop's words said, whether words and photo disagreed, and the
decision), and each label not decided by a moderator gets its value, confidence and state:
`auto` (public at once) or `review` (a moderator is asked that label only). The photo's status
follows from the two states (catalog.taxonomy.photo_status). The photo row is updated only if
nobody changed it since we read it and it is not rejected: a moderator's decision always wins,
and a label a moderator chose (`human`) is never overwritten by a model.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from catalog import crud, vectors
from catalog.config import Settings
from catalog.evidence import PostText
from catalog.models import Photo, Post, Prediction, utcnow
from catalog.taxonomy import HEADS, LabelState, ReviewStatus, label_states, photo_status
from classifier.data import Sample
from classifier.inference import AUTO, Predictor, Row
from classifier.model import VitrinaModel, load_model, resolve_model_dir

LABEL_STATUSES = (
    ReviewStatus.pending,
    ReviewStatus.auto_accepted,
    ReviewStatus.partly_accepted,
    ReviewStatus.needs_review,
)
MODEL_STATES = (LabelState.auto, LabelState.review)


def _per_head() -> dict[str, int]:
    return dict.fromkeys(HEADS, 0)


@dataclass
class ClassifySummary:
    model_version: str
    labelled: int = 0
    auto_accepted: int = 0  # photos no moderator needs to see (every label decided)
    needs_review: int = 0  # photos with a label in the moderator queue
    partly_accepted: int = 0  # of those, public under their other label meanwhile
    unreadable: int = 0
    skipped_moderated: int = 0  # a moderator acted on the photo while we were labelling it
    embedded: int = 0  # photos given an embedding of this model ("more like this")
    split: int = 0  # photos showing several garments, split into regions (classifier.regions)
    regions: int = 0  # the regions they gave, each an entry of its own
    seconds: float = 0.0
    # Per head: labels the model decided (public at once), queued for a moderator, left as a
    # moderator had decided them, and queued because the shop's words contradicted the photo.
    labels_auto: dict[str, int] = field(default_factory=_per_head)
    labels_review: dict[str, int] = field(default_factory=_per_head)
    labels_human: dict[str, int] = field(default_factory=_per_head)
    conflicts: dict[str, int] = field(default_factory=_per_head)
    errors: list[str] = field(default_factory=list)  # "photo <id>: <reason>", first 50

    def count(self, states: Mapping[str, str], row: Row) -> None:
        """One stored photo: `states` as `_store` wrote them."""
        self.labelled += 1
        for head, state in states.items():
            {
                LabelState.auto: self.labels_auto,
                LabelState.review: self.labels_review,
            }.get(state, self.labels_human)[head] += 1
            if state == LabelState.review and row.conflict.get(head):
                self.conflicts[head] += 1
        status = photo_status(states)
        if status == ReviewStatus.needs_review:
            self.needs_review += 1
        elif status == ReviewStatus.partly_accepted:
            self.needs_review += 1
            self.partly_accepted += 1
        else:
            self.auto_accepted += 1

    def line(self) -> str:
        def heads(counts: Mapping[str, int]) -> str:
            return ", ".join(f"{h} {counts.get(h, 0)}" for h in HEADS)

        return (
            f"labelled {self.labelled} photo(s) with {self.model_version}: "
            f"{self.auto_accepted} need no moderator, {self.needs_review} sent to review "
            f"({self.partly_accepted} public under one label meanwhile), "
            f"{self.unreadable} unreadable, {self.skipped_moderated} skipped (moderated meanwhile) "
            + (f"; {self.split} split into {self.regions} garment entries " if self.split else "")
            + f"in {self.seconds:.1f} s; labels decided automatically: {heads(self.labels_auto)}; "
            f"queued: {heads(self.labels_review)}"
            + (
                f" (words and photo disagree: {heads(self.conflicts)})"
                if any(self.conflicts.values())
                else ""
            )
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _todo_filter(version: str) -> Any:
    """Photos to (re)label: pending ones, and, from another model version, those with a label
    no moderator decided (rejected photos never)."""
    return and_(
        Photo.stored_path != "",
        Photo.status != ReviewStatus.rejected,
        Photo.status != ReviewStatus.split_up,  # its regions are the entries now
        or_(
            Photo.status == ReviewStatus.pending,
            and_(
                Photo.model_version != version,
                or_(
                    # Rows written without states count by their status (taxonomy.label_states).
                    Photo.status.in_(LABEL_STATUSES),
                    Photo.category_state.in_(MODEL_STATES),
                    Photo.colour_state.in_(MODEL_STATES),
                ),
            ),
        ),
    )


def count_todo(engine: Engine, version: str) -> int:
    from sqlalchemy import func

    with Session(engine) as session:
        return session.exec(
            select(func.count()).select_from(Photo).where(_todo_filter(version))
        ).one()


def _head_decision(row: Row, head: str) -> str:
    decision = row.decisions.get(head) or row.decision
    return LabelState.auto if decision == AUTO else LabelState.review


def _store(
    session: Session, photo: Photo, row: Row, version: str, embedding_version: str = ""
) -> dict[str, str] | None:
    """Write one photo's predictions and the labels no moderator decided.

    Returns head → state as now stored ("human" for a moderator's label, left as it was), or
    None if someone changed the photo since it was read (nothing of the photo is written then).
    """
    now = utcnow()
    before = label_states(photo.status, photo.category_state, photo.colour_state)
    states: dict[str, str] = {}
    values: dict[str, Any] = {}
    for head in HEADS:
        existing = session.exec(
            select(Prediction).where(
                Prediction.photo_id == photo.id,
                Prediction.head == head,
                Prediction.model_version == version,
            )
        ).first()
        pred = existing or Prediction(photo_id=photo.id, head=head, model_version=version)
        decision = _head_decision(row, head)
        pred.label = getattr(row, head)
        pred.confidence = float(getattr(row, f"{head}_confidence"))
        pred.top = row.top[head]
        pred.image_top = row.image_top.get(head) or row.top[head]
        pred.evidence = row.evidence.head_json(head)
        pred.conflict = bool(row.conflict.get(head))
        pred.decision = decision
        session.add(pred)
        if before[head] == LabelState.human:
            states[head] = LabelState.human
            continue
        states[head] = decision
        values[head] = getattr(row, head)
        values[f"{head}_confidence"] = getattr(row, f"{head}_confidence")
        values[f"{head}_state"] = decision
    if values:
        # "corrected": a moderator's label differs from what this model says.
        corrected = any(
            states[h] == LabelState.human and getattr(photo, h) != getattr(row, h) for h in HEADS
        )
        values["status"] = photo_status(states, corrected=corrected)
    assert photo.id is not None
    written = crud.write_photo_labels(  # optimistic concurrency with the moderator UI
        session,
        photo.id,
        photo.version,
        {**values, "model_version": version, "labelled_at": now},
        unless_rejected=True,
    )
    if written and row.embedding is not None:  # the photo's looks, not a label
        vectors.store(session, photo.id, row.embedding, embedding_version or version)
    return states if written else None


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
        runtime=cfg.runtime,
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
                summary.embedded += row.embedding is not None
                states = _store(session, photo, row, version, model.embedding_version)
                if states is None:
                    summary.skipped_moderated += 1
                    continue
                summary.count(states, row)
                if row.regions and photo.parent_photo_id is None:
                    _split(
                        session,
                        settings,
                        predictor,
                        photo,
                        row,
                        version,
                        summary,
                        model.embedding_version,
                    )
            session.commit()
        done += len(photos)
        if progress:
            progress(done, total)
    if limit is None:
        summary.embedded += _embed_missing(engine, predictor, media, model.embedding_version)
    summary.seconds = round(time.perf_counter() - started, 2)
    return summary


def _split(
    session: Session,
    settings: Settings,
    predictor: Predictor,
    photo: Photo,
    row: Row,
    version: str,
    summary: ClassifySummary,
    embedding_version: str,
) -> None:
    """A photo showing several garments: one region per box (crop + thumbnail stored like any
    photo), each labelled now by the same model from its crop; the photo becomes `split`."""
    from catalog import media as media_files
    from catalog import regions

    media = Path(settings.media_dir)
    try:
        crops = [
            {**media_files.write_region(media, photo.stored_path, box.as_list(),
                                        settings.storage.thumbnail_size), "box": box.as_list()}
            for box in row.regions
        ]  # fmt: skip
    except (OSError, ValueError) as exc:  # the photo stays one entry; the error is reported
        if len(summary.errors) < 50:
            summary.errors.append(f"photo {photo.id}: cannot store its regions: {exc}")
        return
    fresh = session.get(Photo, photo.id, populate_existing=True)
    children = None if fresh is None else regions.split_photo(session, fresh, crops)
    if not children:
        return
    summary.split += 1
    summary.regions += len(children)
    rows = predictor.predict_paths([media / c.stored_path for c in children])
    for child, child_row in zip(children, rows, strict=True):
        if child_row.decision not in (AUTO, "review"):
            summary.unreadable += 1
            continue
        child_states = _store(session, child, child_row, version, embedding_version)
        if child_states is not None:
            summary.count(child_states, child_row)
            summary.embedded += child_row.embedding is not None


def _embed_missing(engine: Engine, predictor: Predictor, media: Path, version: str) -> int:
    """Embeddings for the photos this model labelled before (or a moderator decided): their
    labels stay as they are, only the vector is (re)written."""
    written, last_id = 0, 0
    while True:
        with Session(engine) as session:
            photos = session.exec(
                select(Photo)
                .where(
                    Photo.stored_path != "",
                    Photo.status != ReviewStatus.rejected,
                    Photo.status != ReviewStatus.pending,
                    Photo.id > last_id,
                    vectors.missing_condition(session, version),
                )
                .order_by(Photo.id)
                .limit(predictor.batch_size)
            ).all()
            if not photos:
                return written
            last_id = photos[-1].id
            rows = predictor.predict_paths([media / p.stored_path for p in photos])
            for photo, row in zip(photos, rows, strict=True):
                if row.embedding is not None:
                    vectors.store(session, photo.id, row.embedding, version)
                    written += 1
            session.commit()


def catalogue_samples(settings: Settings, engine: Engine) -> list[Sample]:
    """Photos a moderator approved or corrected, as training samples (the feedback loop).

    Only photos whose every label a moderator decided: one the model auto-decided would teach
    the model its own guess.
    """
    media = Path(settings.media_dir)
    with Session(engine) as session:
        photos = session.exec(
            select(Photo).where(
                Photo.status.in_([ReviewStatus.approved, ReviewStatus.corrected]),
                Photo.category_state != LabelState.auto,
                Photo.colour_state != LabelState.auto,
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
