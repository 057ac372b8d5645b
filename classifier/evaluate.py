"""`vitrina evaluate`: a model's figures on labelled photos, end to end from the files.

By default on the validation split of a dataset folder (the same hash split training used, so
a model is never scored on photos it was trained on).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from catalog.taxonomy import CATEGORIES, COLOURS
from classifier import calibration, data
from classifier.data import Sample
from classifier.inference import AUTO, Predictor
from classifier.model import VitrinaModel


def select_samples(model: VitrinaModel, folder: str | Path, which: str) -> list[Sample]:
    samples = data.read_labels(folder)
    if which == "all":
        return samples
    val_fraction = float(model.metadata.get("data", {}).get("val_fraction", 0.2))
    train, val = data.split(samples, val_fraction)
    return val if which == "validation" else train


def evaluate(
    model: VitrinaModel,
    samples: Sequence[Sample],
    *,
    thresholds: dict[str, float | None] | None = None,
    batch_size: int = 64,
    progress: Callable[[int], None] | None = None,
    titles: Sequence[Any] | None = None,
) -> dict[str, Any]:
    """The per-head figures and today's both-heads decision on `samples`; with `titles`
    (classifier.fusion_data.Title) and a fusion.json, also the photo + words figures with
    titles from the half of names.csv the fusion was not fitted on (result["fusion"])."""
    predictor = Predictor(model, batch_size=batch_size, thresholds=thresholds)
    probs: dict[str, list[np.ndarray]] = {"category": [], "colour": []}
    kept: list[Sample] = []
    unreadable: list[str] = []
    decisions: list[bool] = []
    for start in range(0, len(samples), batch_size):
        chunk = samples[start : start + batch_size]
        rows = list(predictor.predict_paths([s.path for s in chunk]))
        for s, row in zip(chunk, rows, strict=True):
            if row.error:
                unreadable.append(f"{s.key}: {row.error}")
                continue
            kept.append(s)
            decisions.append(row.decision == AUTO)
            for head in ("category", "colour"):
                probs[head].append(row.probs[head])
        if progress:
            progress(len(chunk))
    result: dict[str, Any] = {"n": len(kept), "unreadable": unreadable}
    auto = np.array(decisions, bool)
    labelled = np.array([s.has_category for s in kept], bool)
    for head, labels in (("category", CATEGORIES), ("colour", COLOURS)):
        p = np.array(probs[head]) if probs[head] else np.zeros((0, len(labels)))
        mask = labelled if head == "category" else np.ones(len(kept), bool)
        y = np.array(
            [
                labels.index(s.category if head == "category" else s.colour)
                for s, m in zip(kept, mask, strict=True)
                if m
            ],
            int,
        )
        result[head] = calibration.summarise(p[mask], y, predictor.thresholds[head], list(labels))
    ycat = np.array([CATEGORIES.index(s.category) if s.has_category else -1 for s in kept])
    ycol = np.array([COLOURS.index(s.colour) for s in kept])
    pcat = np.array(probs["category"]).argmax(1) if kept else np.zeros(0, int)
    pcol = np.array(probs["colour"]).argmax(1) if kept else np.zeros(0, int)
    both = (pcat == ycat) & (pcol == ycol)
    result["agreement"] = agreement_figures(
        kept, probs, target=model.metadata.get("target_precision", 0.95)
    )
    if titles is not None and model.fusion is not None and kept:
        result["fusion"] = fused_figures(model, kept, probs, titles, predictor.thresholds)
    result["decision"] = {
        "auto_accepted": float(auto[labelled].mean()) if labelled.any() else 0.0,
        "auto_precision_both_heads": float(both[labelled & auto].mean())
        if (labelled & auto).any()
        else 1.0,
        "unsure_photos": int((~labelled).sum()),
        "unsure_sent_to_review": float((~auto[~labelled]).mean()) if (~labelled).any() else 1.0,
    }
    return result


def fused_figures(
    model: VitrinaModel,
    samples: Sequence[Sample],
    probs: dict[str, list[np.ndarray]],
    titles: Sequence[Any],
    thresholds: dict[str, float],
) -> dict[str, Any]:
    from classifier import fusion_data, fusion_fit
    from classifier.text import extract

    assert model.fusion is not None
    report_titles = [t for t in titles if fusion_data.title_half(t) == "report"]
    pairs = fusion_data.pair_posts(samples, report_titles)
    arrays = {h: np.array(v) for h, v in probs.items()}
    posts = fusion_fit.post_set(pairs, arrays, [s.key for s in samples], extract)
    fused = fusion_fit.outcomes(posts, model.labels, model.fusion.heads, thresholds)
    image = fusion_fit.outcomes(posts, model.labels, None, thresholds)
    return {
        "posts": len(posts),
        "image_only_both_heads": fusion_fit.figures(image, per_label=False),
        "image_only_per_label": fusion_fit.figures(image),
        "photo_and_words": fusion_fit.figures(fused),
    }


def agreement_figures(
    samples: Sequence[Sample], probs: dict[str, list[np.ndarray]], *, target: float = 0.95
) -> dict[str, Any]:
    """The figures issue 14 sets targets on. A colour counts as right when it is the labeller's
    colour or runner-up (`colour_alt`); labels.csv has no per-photo record of the two labelling
    passes, so "photos both labellers agree on" is read as the photos whose labeller named one
    colour without hesitating (no colour_alt). Coverage: share of photos (with a category) whose
    both labels pass the per-head thresholds that reach `target` counting colour_alt."""
    n = len(samples)
    if not n:
        return {}
    pcat, pcol = np.array(probs["category"]), np.array(probs["colour"])
    ycat = np.array([CATEGORIES.index(s.category) if s.has_category else -1 for s in samples])
    ycol = np.array([COLOURS.index(s.colour) for s in samples])
    alt = np.array([COLOURS.index(s.colour_alt) if s.colour_alt else -1 for s in samples])
    labelled, sure = ycat >= 0, alt < 0
    cat_ok = pcat.argmax(1) == ycat
    col_ok = (pcol.argmax(1) == ycol) | (pcol.argmax(1) == alt)
    t_cat = calibration.threshold_for_precision(pcat[labelled].max(1), cat_ok[labelled], target)
    t_col = calibration.threshold_for_precision(pcol.max(1), col_ok, target)
    both = labelled & (pcat.max(1) >= t_cat) & (pcol.max(1) >= t_col)

    def share(m: np.ndarray) -> float | None:
        return float(m.mean()) if len(m) else None

    return {
        "colour_accuracy_with_alt": share(col_ok),
        "photos_without_alt": int(sure.sum()),
        "category_accuracy_without_alt": share(cat_ok[labelled & sure]),
        "colour_accuracy_without_alt": share((pcol.argmax(1) == ycol)[sure]),
        "thresholds_with_alt": {"category": t_cat, "colour": t_col},
        "coverage_with_alt": {
            "category": share(pcat[labelled].max(1) >= t_cat),
            "colour": share(pcol.max(1) >= t_col),
            "both_heads": share(both[labelled]),
        },
        "both_heads_precision_with_alt": share((cat_ok & col_ok)[both]) if both.any() else None,
    }
